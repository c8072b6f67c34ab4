/**
 * What must exist before the stack can work (the camera's images bucket and the catadata table),
 * and what to run when it does not. `pulumi preview` (prerequisites.ts) and `bootboots doctor`
 * judge by these rules and say the same.
 */

/** The catadata table's partition key: every label row is found by its image's name. */
/** The images bucket's name when the stack config names none. */
export function defaultImagesBucketName(accountId: string, region: string): string {
    return `bootboots-images-${accountId}-${region}`;
}

export const CATADATA_KEY = { name: "imageName", type: "S" } as const;

/** The AWS CLI command that creates the catadata table with the key the stack needs (on-demand). */
export function createTableCommand(table: string, region: string): string {
    return (
        `aws dynamodb create-table --table-name ${table} --region ${region} ` +
        `--attribute-definitions AttributeName=${CATADATA_KEY.name},AttributeType=${CATADATA_KEY.type} ` +
        `--key-schema AttributeName=${CATADATA_KEY.name},KeyType=HASH --billing-mode PAY_PER_REQUEST`
    );
}

/** The AWS CLI command that creates the images bucket. */
export function createBucketCommand(bucket: string, region: string): string {
    return `aws s3 mb s3://${bucket} --region ${region}`;
}

/** A table's partition key as DescribeTable and the provider's lookup give it. */
export interface TableKey {
    /** The HASH key's attribute name, if any. */
    readonly hashKey?: string;
    /** Its attribute type: S, N or B. */
    readonly hashKeyType?: string;
    /** Whether the table has a sort (RANGE) key: label rows have none. */
    readonly hasRangeKey: boolean;
}

/** What is wrong with the catadata table's key, in words, or undefined when it is imageName (S) alone. */
export function catadataKeyProblem(table: string, key: TableKey): string | undefined {
    const wanted = `${CATADATA_KEY.name} (type ${CATADATA_KEY.type})`;
    if (key.hashKey !== CATADATA_KEY.name)
        return `the table ${table} is keyed by ${key.hashKey ?? "nothing"}, not ${wanted}`;
    if (key.hashKeyType !== CATADATA_KEY.type)
        return `the table ${table}'s key ${CATADATA_KEY.name} has type ${key.hashKeyType}, not ${CATADATA_KEY.type}`;
    if (key.hasRangeKey) return `the table ${table} has a sort key; label rows are keyed by ${wanted} alone`;
    return undefined;
}
