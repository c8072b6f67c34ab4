/** A failure the user can act on: printed as it is, exit code 1. */
export class CliError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "CliError";
    }
}

/** Says what an AWS error means for the person at the terminal, and what to do. */
export function explainAwsError(error: unknown, doing: string): CliError {
    const name = (error as { name?: string })?.name ?? "Error";
    const message = (error as { message?: string })?.message ?? String(error);
    if (name === "CredentialsProviderError") {
        return new CliError(`No AWS credentials found while ${doing}: set AWS_PROFILE or run 'aws configure'.`);
    }
    if (name === "AccessDenied" || name === "AccessDeniedException" || name === "UnauthorizedOperation" || name === "ExpiredTokenException") {
        return new CliError(`Access denied while ${doing} (${message}): check that your AWS credentials (AWS_PROFILE) belong to the stack's account and may do this.`);
    }
    if (name === "ResourceNotFoundException") {
        return new CliError(`Not found while ${doing} (${message}): check the stack (--stack) and region (AWS_REGION), or run 'pulumi up'.`);
    }
    return new CliError(`${doing} failed: ${name}: ${message}`);
}
