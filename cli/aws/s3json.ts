import type { S3Client } from "@aws-sdk/client-s3";
import { awsErrorName, isAccessDenied } from "../../lib/errors";
import { getObjectIfAny, putJsonObject } from "../../lib/s3Objects";
import { CliError, NotFoundError, explainAwsError } from "../errors";

/**
 * The CLI's reads and writes of S3 objects: lib/s3Objects.ts's, with each failure said in words
 * for the person at the terminal.
 */

/**
 * An object's bytes; `missing` is what the user reads when it does not exist, and
 * `bucketOrigin` says where the bucket's name came from (a flag, a variable, a stack output).
 */
export async function getObjectBytes(
    s3: S3Client,
    bucket: string,
    key: string,
    missing: string,
    bucketOrigin?: string,
): Promise<Uint8Array> {
    let bytes: Uint8Array | undefined;
    try {
        bytes = await getObjectIfAny(s3, bucket, key);
    } catch (error) {
        if (awsErrorName(error) === "NoSuchBucket") {
            throw new CliError(
                `Bucket ${bucket}${bucketOrigin ? ` (${bucketOrigin})` : ""} does not exist in this account and region: check that name, the stack (--stack) and AWS_REGION.`,
            );
        }
        if (isAccessDenied(error)) {
            throw new CliError(
                `Access denied reading s3://${bucket}/${key}: your credentials may not read it, or it does not exist and they may not list ` +
                    `the bucket (S3 then answers 403, not 404). Check that AWS_PROFILE belongs to the stack's account.`,
            );
        }
        throw explainAwsError(error, `reading s3://${bucket}/${key}`);
    }
    if (!bytes) throw new NotFoundError(missing);
    return bytes;
}

export async function getObjectJson<T>(
    s3: S3Client,
    bucket: string,
    key: string,
    missing: string,
    bucketOrigin?: string,
): Promise<T> {
    return JSON.parse(Buffer.from(await getObjectBytes(s3, bucket, key, missing, bucketOrigin)).toString("utf8")) as T;
}

/** Writes a value as pretty JSON (the queues people may read in the console). */
export async function putObjectJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
    try {
        await putJsonObject(s3, bucket, key, value);
    } catch (error) {
        throw explainAwsError(error, `writing s3://${bucket}/${key}`);
    }
}
