import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATASETS_PREFIX } from "../lib/layout";

export interface DataBucketsArgs {
    /** The AWS account id, used in the default bucket names. */
    readonly accountId: pulumi.Input<string>;
    /** Days after which objects under `datasets/` expire. */
    readonly datasetExpirationDays?: pulumi.Input<number>;
}

/**
 * The training-data bucket (dataset snapshots) and the versioned models bucket
 * (script archive, training output, checkpoints). Both are private, encrypted,
 * TLS-only, and kept when the stack is destroyed: they hold the user's data.
 */
export class DataBuckets extends pulumi.ComponentResource {
    public readonly trainingBucket: aws.s3.Bucket;
    public readonly modelBucket: aws.s3.Bucket;

    constructor(name: string, args: DataBucketsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bootboots:storage:DataBuckets", name, {}, opts);

        this.trainingBucket = this.privateBucket(
            `${name}-training-data`,
            pulumi.interpolate`bootboots-training-data-${args.accountId}`,
        );
        this.modelBucket = this.privateBucket(`${name}-models`, pulumi.interpolate`bootboots-models-${args.accountId}`);

        new aws.s3.BucketVersioning(
            `${name}-models-versioning`,
            { bucket: this.modelBucket.id, versioningConfiguration: { status: "Enabled" } },
            { parent: this },
        );

        new aws.s3.BucketLifecycleConfiguration(
            `${name}-training-data-lifecycle`,
            {
                bucket: this.trainingBucket.id,
                rules: [
                    {
                        id: "expire-dataset-snapshots",
                        status: "Enabled",
                        filter: { prefix: DATASETS_PREFIX },
                        expiration: { days: args.datasetExpirationDays ?? 90 },
                    },
                    {
                        id: "abort-incomplete-uploads",
                        status: "Enabled",
                        filter: { prefix: "" },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                    },
                ],
            },
            { parent: this },
        );

        this.registerOutputs({
            trainingBucketName: this.trainingBucket.bucket,
            modelBucketName: this.modelBucket.bucket,
        });
    }

    private privateBucket(name: string, bucketName: pulumi.Input<string>): aws.s3.Bucket {
        const bucket = new aws.s3.Bucket(name, { bucket: bucketName }, { parent: this, retainOnDelete: true });

        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            {
                bucket: bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            { parent: this },
        );
        new aws.s3.BucketOwnershipControls(
            `${name}-ownership`,
            { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
            { parent: this },
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                bucket: bucket.id,
                rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
            },
            { parent: this },
        );
        new aws.s3.BucketPolicy(
            `${name}-tls-only`,
            {
                bucket: bucket.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            // A deny must cover every S3 action; this is the one wildcard in the stack.
                            Action: "s3:*",
                            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                    ],
                }),
            },
            // S3 rejects a bucket policy while the public access block is being applied.
            { parent: this, dependsOn: [publicAccessBlock] },
        );
        return bucket;
    }
}
