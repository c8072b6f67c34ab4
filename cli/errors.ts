import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { awsErrorName } from "../lib/errors";

/** The exit codes of every command (README, "Exit codes"). */
export const EXIT = {
    ok: 0,
    /** The command failed; one sentence says why and what to do. */
    failed: 1,
    /** A usage error: an unknown flag or a bad value, refused before anything ran. */
    usage: 2,
    /** The command ran, but some of its inputs (images) failed; each is named. */
    partial: 3,
} as const;

/** A failure the user can act on: printed as it is, exit code 1 (or the code given). */
export class CliError extends Error {
    constructor(
        message: string,
        readonly exitCode: number = EXIT.failed,
    ) {
        super(message);
        this.name = "CliError";
    }
}

/** Something named does not exist (an object, a job, a stack output): callers that can do without it catch this. */
export class NotFoundError extends CliError {
    constructor(message: string) {
        super(message);
        this.name = "NotFoundError";
    }
}

/** A failure of one input (an image), after which the command goes on with the others. */
export class InputError extends CliError {
    constructor(message: string) {
        super(message);
        this.name = "InputError";
    }
}

/** The endpoint URL the SDK was sent to: the AWS_ENDPOINT_URL override, else AWS's own. */
function endpointUrl(): string {
    const overrides = Object.entries(process.env).filter(([key, value]) => key.startsWith("AWS_ENDPOINT_URL") && value);
    return overrides.length ? overrides.map(([key, value]) => `${key}=${value}`).join(", ") : "AWS's public endpoints";
}

/**
 * The AWS_PROFILE named, when credentials failed and no config file defines it: the SDK's
 * provider chain then says only "Could not load credentials from any providers".
 */
function unknownProfile(name: string, message: string): string | undefined {
    const profile = process.env.AWS_PROFILE;
    if (!profile || !(name === "CredentialsProviderError" || /Could not load credentials/i.test(message)))
        return undefined;
    const home = os.homedir();
    const files = [
        process.env.AWS_CONFIG_FILE ?? path.join(home, ".aws", "config"),
        process.env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, ".aws", "credentials"),
    ];
    const defined = files.some((file) => {
        const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        return new RegExp(`^\\s*\\[(profile\\s+)?${profile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*\\]`, "m").test(
            text,
        );
    });
    return defined ? undefined : profile;
}

/** Says what an AWS (or network) error means for the person at the terminal, and what to do. */
export function explainAwsError(error: unknown, doing: string): CliError {
    const name = awsErrorName(error);
    const message = (error as { message?: string })?.message ?? String(error);
    const code = (error as { code?: string })?.code;
    if (/Region is missing/i.test(message)) {
        return new CliError(
            `No AWS region is configured: set AWS_REGION (for example export AWS_REGION=eu-west-2) or use a profile that has a region.`,
        );
    }
    const profile = /Profile (\S+) could not be found/i.exec(message)?.[1] ?? unknownProfile(name, message);
    if (profile) {
        return new CliError(
            `The AWS profile '${profile}' (from AWS_PROFILE) is not in ~/.aws/config or ~/.aws/credentials: check its name with 'aws configure list-profiles'.`,
        );
    }
    if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
        return new CliError(
            `No AWS credentials found while ${doing}: run 'aws configure', or set AWS_PROFILE to a profile that has them.`,
        );
    }
    if (
        code === "ECONNREFUSED" ||
        code === "ENOTFOUND" ||
        code === "ETIMEDOUT" ||
        /ECONNREFUSED|ENOTFOUND/.test(message)
    ) {
        return new CliError(
            `Could not connect while ${doing} (${code ?? message}): check the endpoint (${endpointUrl()}) and your network.`,
        );
    }
    if (
        name === "AccessDenied" ||
        name === "AccessDeniedException" ||
        name === "UnauthorizedOperation" ||
        name === "ExpiredTokenException"
    ) {
        return new CliError(
            `Access denied while ${doing} (${message}): check that your AWS credentials (AWS_PROFILE) belong to the stack's account and may do this.`,
        );
    }
    if (name === "ResourceNotFoundException") {
        return new CliError(
            `Not found while ${doing} (${message}): check the stack (--stack) and region (AWS_REGION), or run 'pulumi up'.`,
        );
    }
    return new CliError(`${doing} failed: ${name}: ${message}`);
}
