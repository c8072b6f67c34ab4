/** `s3://bucket/key` URLs: the one parser. */

/** The bucket and key an `s3://bucket/key` URL names, or undefined when it is not one. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    return match ? { bucket: match[1], key: match[2] } : undefined;
}

/** The IAM resource of the object an `s3://bucket/key` URL names. */
export function s3ObjectArn(url: string): string {
    const parsed = parseS3Url(url);
    if (!parsed) throw new Error(`Not an S3 URL: ${url}`);
    return `arn:aws:s3:::${parsed.bucket}/${parsed.key}`;
}
