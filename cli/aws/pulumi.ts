import { execFile, spawn } from "child_process";
import { CliError } from "../errors";

function stackArgs(stack: string | undefined): string[] {
    return stack ? ["--stack", stack] : [];
}

/** The pulumi CLI is not installed or not on PATH. */
export class PulumiMissing extends CliError {
    constructor(args: readonly string[]) {
        super(
            `The pulumi CLI is not installed or not on PATH (needed for 'pulumi ${args.slice(0, 2).join(" ")}'): install it ` +
                "(https://www.pulumi.com/docs/install/), or give the names with flags or BOOTBOOTS_* environment variables (see --help).",
        );
        this.name = "PulumiMissing";
    }
}

function runPulumi(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile("pulumi", args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (!error) return resolve(stdout);
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return reject(new PulumiMissing(args));
            const detail = (stderr || error.message).trim();
            if (/no stack (is )?selected|no stack named|could not find stack/i.test(detail)) {
                return reject(
                    new CliError(
                        `No Pulumi stack selected: run 'pulumi stack select sandbox' or pass --stack. (${detail})`,
                    ),
                );
            }
            reject(new CliError(`pulumi ${args.join(" ")} failed: ${detail}`));
        });
    });
}

/** The stack's outputs, as `pulumi stack output --json` prints them. */
export async function stackOutputs(stack: string | undefined): Promise<Record<string, unknown>> {
    const text = await runPulumi(["stack", "output", "--json", ...stackArgs(stack)]);
    try {
        return JSON.parse(text);
    } catch {
        throw new CliError(`pulumi stack output --json printed something that is not JSON: ${text.slice(0, 200)}`);
    }
}

export async function setConfig(stack: string | undefined, key: string, value: string): Promise<void> {
    await runPulumi(["config", "set", key, value, ...stackArgs(stack)]);
}

export function upCommand(stack: string | undefined): string {
    return ["pulumi", "up", ...stackArgs(stack)].join(" ");
}

/** The commands that deploy a model, for the user to run. */
export function deployCommands(stack: string | undefined, modelDataUrl: string): string {
    return `${["pulumi", "config", "set", "modelDataUrl", modelDataUrl, ...stackArgs(stack)].join(" ")} && ${upCommand(stack)}`;
}

/**
 * Runs `pulumi up` attached to the terminal, so the user sees and confirms the preview; with
 * `outputToStderr` its output goes to stderr, leaving stdout to the command's JSON.
 */
export function pulumiUp(stack: string | undefined, outputToStderr = false): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn("pulumi", ["up", ...stackArgs(stack)], {
            stdio: outputToStderr ? ["inherit", 2, 2] : "inherit",
        });
        child.on("error", (error) => reject(new CliError(`Could not run pulumi up: ${error.message}`)));
        child.on("exit", (code) =>
            code === 0 ? resolve() : reject(new CliError(`pulumi up exited with code ${code}.`)),
        );
    });
}
