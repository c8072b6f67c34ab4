import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATASET_EXPIRATION_DAYS, EXPIRE_TAG } from "../lib/datasetRetention";
import { CHECKPOINTS_PREFIX, DATASETS_PREFIX } from "../lib/layout";

/** Uploads never completed take space nobody sees: both buckets drop them after a week. */
const ABORT_INCOMPLETE_UPLOADS = {
    id: "abort-incomplete-uploads",
    status: "Enabled",
    filter: { prefix: "" },
    abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
};

export interface DataBucketsArgs {
    /** The AWS account id, used in the bucket names. */
    readonly accountId: pulumi.Input<string>;
    /** Days after they were written that the objects of an unused (tagged) dataset expire (default 90). */
    readonly datasetExpirationDays?: pulumi.Input<number>;
    /** Days a replaced checkpoint version is kept in the versioned models bucket (default 1). */
    readonly noncurrentCheckpointDays?: pulumi.Input<number>;
    /**
     * Use the buckets of these names that a `pulumi destroy` left behind instead of creating
     * them (creating them again would fail, since they still exist); their protections are
     * managed as usual (default false).
     */
    readonly adoptExisting?: boolean;
}

/**
 * The training-data bucket (dataset snapshots) and the versioned models bucket
 * (script archive, training output, checkpoints). Both are private, encrypted,
 * TLS-only, and kept when the stack is destroyed, together with everything that
 * protects them: they hold the user's data.
 */
export class DataBuckets extends pulumi.ComponentResource {
    public readonly trainingBucket: aws.s3.Bucket;
    public readonly modelBucket: aws.s3.Bucket;
    /**
     * What protects a kept bucket is kept with it: deleting a public access block, a TLS-only
     * policy or the versioning configuration (which suspends versioning) on `pulumi destroy`
     * would leave the user's data less protected than it was.
     */
    private readonly retained: pulumi.CustomResourceOptions = { parent: this, retainOnDelete: true };

    constructor(name: string, args: DataBucketsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bootboots:storage:DataBuckets", name, {}, opts);

        this.trainingBucket = this.privateBucket(
            `${name}-training-data`,
            pulumi.interpolate`bootboots-training-data-${args.accountId}`,
            args.adoptExisting,
        );
        this.modelBucket = this.privateBucket(
            `${name}-models`,
            pulumi.interpolate`bootboots-models-${args.accountId}`,
            args.adoptExisting,
        );

        new aws.s3.BucketVersioning(
            `${name}-models-versioning`,
            { bucket: this.modelBucket.id, versioningConfiguration: { status: "Enabled" } },
            this.retained,
        );
        this.expireUnusedDatasets(name, args);
        this.expireReplacedCheckpoints(name, args);
        this.registerOutputs({
            trainingBucketName: this.trainingBucket.bucket,
            modelBucketName: this.modelBucket.bucket,
        });
    }

    /**
     * A dataset's objects expire only once the job-events Lambda has tagged them (nothing uses
     * the dataset any more: lib/datasetRetention.ts), 90 days after they were written;
     * `datasets/latest.json` and every dataset in use are never tagged.
     */
    private expireUnusedDatasets(name: string, args: DataBucketsArgs): void {
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-training-data-lifecycle`,
            {
                bucket: this.trainingBucket.id,
                rules: [
                    {
                        id: "expire-unused-datasets",
                        status: "Enabled",
                        filter: {
                            and: { prefix: DATASETS_PREFIX, tags: { [EXPIRE_TAG.key]: EXPIRE_TAG.value } },
                        },
                        expiration: { days: args.datasetExpirationDays ?? DATASET_EXPIRATION_DAYS },
                    },
                    ABORT_INCOMPLETE_UPLOADS,
                ],
            },
            { parent: this },
        );
    }

    /** A spot job rewrites its checkpoint every epoch; versioning would keep every old copy. */
    private expireReplacedCheckpoints(name: string, args: DataBucketsArgs): void {
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-models-lifecycle`,
            {
                bucket: this.modelBucket.id,
                rules: [
                    {
                        id: "expire-replaced-checkpoints",
                        status: "Enabled",
                        filter: { prefix: CHECKPOINTS_PREFIX },
                        noncurrentVersionExpiration: { noncurrentDays: args.noncurrentCheckpointDays ?? 1 },
                    },
                    ABORT_INCOMPLETE_UPLOADS,
                ],
            },
            { parent: this },
        );
    }

    private privateBucket(name: string, bucketName: pulumi.Output<string>, adoptExisting = false): aws.s3.Bucket {
        const retained = this.retained;
        const bucket = adoptExisting
            ? aws.s3.Bucket.get(name, bucketName, undefined, { parent: this })
            : new aws.s3.Bucket(name, { bucket: bucketName }, retained);

        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            {
                bucket: bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            retained,
        );
        new aws.s3.BucketOwnershipControls(
            `${name}-ownership`,
            { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
            retained,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                bucket: bucket.id,
                rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
            },
            retained,
        );
        this.denyInsecureTransport(name, bucket, publicAccessBlock);
        return bucket;
    }

    /** The bucket policy that refuses every request not made over TLS. */
    private denyInsecureTransport(
        name: string,
        bucket: aws.s3.Bucket,
        publicAccessBlock: aws.s3.BucketPublicAccessBlock,
    ): void {
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
            { ...this.retained, dependsOn: [publicAccessBlock] },
        );
    }
}
