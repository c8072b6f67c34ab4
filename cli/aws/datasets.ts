import type { DescribeTrainingJobResponse } from "@aws-sdk/client-sagemaker";
import { DatasetManifest, DatasetPointer, datasetIdOfChannels, datasetPrefix } from "../../lib/dataset";
import { LATEST_DATASET_KEY } from "../../lib/layout";
import { CliContext } from "../context";
import { NotFoundError } from "../errors";
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

/** The dataset a job trained on: its id (from the training channel) and its manifest, each undefined where there is none. */
export async function jobDataset(
    context: CliContext,
    job: DescribeTrainingJobResponse,
): Promise<{ datasetId?: string; manifest?: DatasetManifest }> {
    const datasetId = datasetIdOfChannels(job.InputDataConfig);
    if (!datasetId) return {};
    const manifest = await readManifest(context, datasetId).catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
    });
    return { datasetId, manifest };
}
