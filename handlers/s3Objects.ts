import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { isMissingObject } from "../lib/errors";

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
