import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { awsErrorName, isMissingObject } from "./errors";

/** An object's bytes, or undefined when there is no such object (any other failure is thrown). */
export async function getObjectIfAny(s3: S3Client, bucket: string, key: string): Promise<Uint8Array | undefined> {
    try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await object.Body!.transformToByteArray();
    } catch (error) {
        if (isMissingObject(error)) return undefined;
        throw error;
    }
}

/** An object's JSON, or undefined when there is no such object. */
export async function getJsonIfAny<T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> {
    const bytes = await getObjectIfAny(s3, bucket, key);
    return bytes ? (JSON.parse(Buffer.from(bytes).toString("utf8")) as T) : undefined;
}

/**
 * Writes a value as JSON, indented so that it reads well in the console. With `onlyIfNew`, S3
 * writes it only where no object is (`If-None-Match: *`) and the call answers false, not an
 * error, when one is: a claim or a marker that two writers race for is written once.
 */
export async function putJsonObject(
    s3: S3Client,
    bucket: string,
    key: string,
    value: unknown,
    onlyIfNew = false,
): Promise<boolean> {
    try {
        await s3.send(
            new PutObjectCommand({
                Bucket: bucket,
                Key: key,
                Body: JSON.stringify(value, null, 2),
                ContentType: "application/json",
                ...(onlyIfNew ? { IfNoneMatch: "*" } : {}),
            }),
        );
        return true;
    } catch (error) {
        if (onlyIfNew && awsErrorName(error) === "PreconditionFailed") return false;
        throw error;
    }
}
