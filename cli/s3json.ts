import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { isMissingObject } from "../lib/errors";
import { CliError, explainAwsError } from "./errors";

export async function getObjectBytes(s3: S3Client, bucket: string, key: string, missing: string): Promise<Uint8Array> {
    try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await object.Body!.transformToByteArray();
    } catch (error) {
        if (isMissingObject(error)) throw new CliError(missing);
        throw explainAwsError(error, `reading s3://${bucket}/${key}`);
    }
}

export async function getObjectJson<T>(s3: S3Client, bucket: string, key: string, missing: string): Promise<T> {
    return JSON.parse(Buffer.from(await getObjectBytes(s3, bucket, key, missing)).toString("utf8")) as T;
}
