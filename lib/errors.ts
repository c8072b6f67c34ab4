/** The name an AWS SDK error carries (`NoSuchKey`, `AccessDenied`, ...). */
export function awsErrorName(error: unknown): string {
    return (error as { name?: string })?.name ?? "Error";
}

/** S3's answer for an object that does not exist (GetObject says NoSuchKey, HeadObject NotFound). */
export function isMissingObject(error: unknown): boolean {
    const name = awsErrorName(error);
    return name === "NoSuchKey" || name === "NotFound";
}

export function isAccessDenied(error: unknown): boolean {
    const name = awsErrorName(error);
    return name === "AccessDenied" || name === "AccessDeniedException" || name === "Forbidden";
}

/** Turns an AWS SDK error about a named resource into a sentence that says what to check. */
export function describeAwsError(error: unknown, resource: string, check: string): string {
    const name = awsErrorName(error);
    const message = (error as { message?: string })?.message ?? String(error);
    if (isAccessDenied(error)) {
        return `Access denied to ${resource} (${message}): check the function's IAM role allows it.`;
    }
    if (
        name === "ResourceNotFoundException" ||
        name === "NoSuchBucket" ||
        name === "NotFound" ||
        name === "ValidationException"
    ) {
        return `${resource} was not found (${name}: ${message}): ${check}.`;
    }
    return `${resource}: ${name}: ${message}`;
}

const USER_FACING = "UserFacingError";

/**
 * An error whose message is already written for the person who invoked the function.
 * A plain Error with a marked name, not a subclass: the Lambda closure serializer turns
 * `super(message)` into `Error.call(this, message)`, which loses the message.
 */
export function userFacingError(message: string): Error {
    const error = new Error(message);
    error.name = USER_FACING;
    return error;
}

export function isUserFacing(error: unknown): error is Error {
    return error instanceof Error && error.name === USER_FACING;
}
