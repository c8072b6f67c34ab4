import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { catadataKeyProblem, createBucketCommand, createTableCommand } from "./lib/prerequisites";

/** What must already exist, missing or wrong: `pulumi preview` and `up` stop with this one sentence. */
export class PrerequisiteError extends pulumi.RunError {
    constructor(sentence: string) {
        super(sentence);
        this.name = "PrerequisiteError";
        // Pulumi prefixes the message of an error that reaches a resource's inputs with every property
        // it was serializing ('error serializing property "environment": …'); the sentence stays as written.
        Object.defineProperty(this, "message", { get: () => sentence, set: () => undefined });
    }
}

export interface PrerequisiteArgs {
    /** The camera's images bucket (config imagesBucketName, or the default name). */
    readonly imagesBucketName: pulumi.Input<string>;
    /** The catadata table (config catadataTableName). */
    readonly catadataTableName: string;
    /** The stack's region, where the table must be. */
    readonly region: pulumi.Input<string>;
    /** false for an images bucket in another account, which the deployer's lookups may not read. */
    readonly checkImagesBucket: boolean;
}

/** The two names, each resolved only once the provider's lookup found it (and the table's key is right). */
export interface CheckedPrerequisites {
    readonly imagesBucketName: pulumi.Output<string>;
    readonly catadataTableName: pulumi.Output<string>;
}

/** Why a lookup failed, in the provider's words: its first line, without the engine's prefix. */
function reason(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    const line = text.split("\n").find((l) => l.trim()) ?? "";
    return line.replace(/^.*? returned an error: /, "").trim() || "no reason given";
}

/**
 * Reads the images bucket and the catadata table through the provider's lookups, so that a
 * missing one stops `pulumi preview` naming the config key to set and the command that creates
 * it, instead of a job failing later.
 */
export function checkPrerequisites(args: PrerequisiteArgs): CheckedPrerequisites {
    const imagesBucketName = pulumi.all([args.imagesBucketName, args.region]).apply(async ([bucket, region]) => {
        if (!args.checkImagesBucket) return bucket;
        await aws.s3.getBucket({ bucket }).catch((error) => {
            throw new PrerequisiteError(
                `The images bucket ${bucket} could not be read (${reason(error)}): set imagesBucketName to the bucket of the camera's images (pulumi config set imagesBucketName <bucket>), or create it (${createBucketCommand(bucket, region)}); for a bucket in another account, pulumi config set checkImagesBucket false.`,
            );
        });
        return bucket;
    });
    const catadataTableName = pulumi.output(args.region).apply(async (region) => {
        const table = args.catadataTableName;
        const found = await aws.dynamodb.getTable({ name: table }).catch((error) => {
            throw new PrerequisiteError(
                `The catadata table ${table} was not found in ${region} (${reason(error)}): set catadataTableName to the table of labels in this region (pulumi config set catadataTableName <table>), or create it (${createTableCommand(table, region)}).`,
            );
        });
        const problem = catadataKeyProblem(table, {
            hashKey: found.hashKey,
            hashKeyType: found.attributes.find((a) => a.name === found.hashKey)?.type,
            hasRangeKey: Boolean(found.rangeKey),
        });
        if (problem) {
            throw new PrerequisiteError(
                `The catadata table cannot hold labels: ${problem}. Set catadataTableName to a table keyed by imageName (pulumi config set catadataTableName <table>), or create one (${createTableCommand(`${table}-labels`, region)}).`,
            );
        }
        return table;
    });
    return { imagesBucketName, catadataTableName };
}
