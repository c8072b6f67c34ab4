import { DatasetManifest, DatasetPointer, datasetPrefix } from "../lib/dataset";
import { LATEST_DATASET_KEY } from "../lib/layout";
import { CliContext } from "./context";
import { getObjectJson } from "./s3json";

/** The manifest of the dataset named, or of the latest one. */
export async function readManifest(context: CliContext, datasetId?: string): Promise<DatasetManifest> {
    const bucket = await context.stack.name("trainingBucket");
    const id =
        datasetId ??
        (
            await getObjectJson<DatasetPointer>(
                context.aws.s3,
                bucket,
                LATEST_DATASET_KEY,
                `No dataset yet in s3://${bucket}/: run npx bootboots train (or train --dry-run to see the counts).`,
                context.stack.origin("trainingBucket"),
            )
        ).datasetId;
    return getObjectJson<DatasetManifest>(
        context.aws.s3,
        bucket,
        `${datasetPrefix(id)}manifest.json`,
        `Dataset ${id} does not exist in s3://${bucket}/${datasetPrefix(id)}.`,
        context.stack.origin("trainingBucket"),
    );
}
