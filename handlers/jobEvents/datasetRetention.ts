import {
    DeleteObjectTaggingCommand,
    GetObjectTaggingCommand,
    ListObjectsV2Command,
    PutObjectTaggingCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { DescribeModelPackageCommand, ListModelPackagesCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import pLimit from "p-limit";
import { DATASET_ID_PATTERN, DatasetPointer, datasetPrefix } from "../../lib/dataset";
import { EXPIRE_TAG, RegisteredModel, datasetsInUse, retentionPlan } from "../../lib/datasetRetention";
import { isMissingObject } from "../../lib/errors";
import { DATASETS_PREFIX, LATEST_DATASET_KEY } from "../../lib/layout";
import { getJsonIfAny } from "../../lib/s3Objects";
import { datasetOfJob } from "../../lib/sagemakerJobs";
import { trainingJobOfModelUrl } from "../../lib/serving";

/** Tagging requests in flight at once. */
const TAGGING_CONCURRENCY = 16;

export interface RetentionSettings {
    readonly trainingBucket: string;
    readonly modelBucket: string;
    readonly modelPackageGroup: string;
    readonly servingModelUrl: string;
}

/** Every version in the model package group: the dataset it names, and its approval. */
async function registeredModels(sagemaker: SageMakerClient, group: string): Promise<RegisteredModel[]> {
    const arns: string[] = [];
    let token: string | undefined;
    do {
        const page = await sagemaker.send(
            new ListModelPackagesCommand({ ModelPackageGroupName: group, NextToken: token }),
        );
        arns.push(...(page.ModelPackageSummaryList ?? []).map((p) => p.ModelPackageArn!));
        token = page.NextToken;
    } while (token);
    const limit = pLimit(TAGGING_CONCURRENCY);
    return Promise.all(
        arns.map((arn) =>
            limit(async () => {
                const described = await sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
                return {
                    datasetId: described.CustomerMetadataProperties?.datasetId,
                    approval: described.ModelApprovalStatus,
                };
            }),
        ),
    );
}

/** The dataset of the model the endpoint serves, when it is one of the stack's jobs. */
async function servingDataset(sagemaker: SageMakerClient, settings: RetentionSettings): Promise<string | undefined> {
    const job = settings.servingModelUrl
        ? trainingJobOfModelUrl(settings.servingModelUrl, settings.modelBucket)
        : undefined;
    return job ? datasetOfJob(sagemaker, job) : undefined;
}

/** Every key under a prefix. */
async function keysUnder(s3: S3Client, bucket: string, prefix: string, delimiter?: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
        const page = await s3.send(
            new ListObjectsV2Command({
                Bucket: bucket,
                Prefix: prefix,
                Delimiter: delimiter,
                ContinuationToken: token,
            }),
        );
        keys.push(
            ...(delimiter
                ? (page.CommonPrefixes ?? []).map((p) => p.Prefix!)
                : (page.Contents ?? []).map((o) => o.Key!)),
        );
        token = page.NextContinuationToken;
    } while (token);
    return keys;
}

/** Whether a dataset is marked for expiry: its manifest carries the tag (a dataset without a manifest never finished). */
async function isTagged(s3: S3Client, bucket: string, id: string): Promise<boolean> {
    try {
        const tags = await s3.send(
            new GetObjectTaggingCommand({ Bucket: bucket, Key: `${datasetPrefix(id)}manifest.json` }),
        );
        return (tags.TagSet ?? []).some((t) => t.Key === EXPIRE_TAG.key);
    } catch (error) {
        if (isMissingObject(error)) return false;
        throw error;
    }
}

/** Tags (or untags) every object of a dataset, its manifest last: the manifest's tag says the whole dataset's. */
async function setExpiry(s3: S3Client, bucket: string, id: string, expire: boolean): Promise<void> {
    const manifest = `${datasetPrefix(id)}manifest.json`;
    const keys = await keysUnder(s3, bucket, datasetPrefix(id));
    const tagSet = [{ Key: EXPIRE_TAG.key, Value: EXPIRE_TAG.value }];
    const change = (key: string) =>
        expire
            ? s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: tagSet } }))
            : s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: key }));
    const limit = pLimit(TAGGING_CONCURRENCY);
    await Promise.all(keys.filter((key) => key !== manifest).map((key) => limit(() => change(key))));
    if (keys.includes(manifest)) await change(manifest);
}

/**
 * After a job completes: tags for expiry the datasets nothing uses any more, and takes the tag
 * off a tagged one that is used again. S3's lifecycle rule expires tagged objects 90 days after
 * they were written; the latest dataset, and those of the serving model, of every version not
 * rejected and of the newest job, are never tagged.
 */
export async function retireUnusedDatasets(
    clients: { readonly s3: S3Client; readonly sagemaker: SageMakerClient },
    settings: RetentionSettings,
    newest: string | undefined,
): Promise<{ tagged: string[]; untagged: string[] }> {
    const [registered, serving, latest, prefixes] = await Promise.all([
        registeredModels(clients.sagemaker, settings.modelPackageGroup),
        servingDataset(clients.sagemaker, settings),
        getJsonIfAny<DatasetPointer>(clients.s3, settings.trainingBucket, LATEST_DATASET_KEY),
        keysUnder(clients.s3, settings.trainingBucket, DATASETS_PREFIX, "/"),
    ]);
    const ids = prefixes.map((p) => p.slice(DATASETS_PREFIX.length, -1)).filter((id) => DATASET_ID_PATTERN.test(id));
    const limit = pLimit(TAGGING_CONCURRENCY);
    const datasets = await Promise.all(
        ids.map((id) => limit(async () => ({ id, tagged: await isTagged(clients.s3, settings.trainingBucket, id) }))),
    );
    const plan = retentionPlan(datasets, datasetsInUse({ registered, serving, newest, latest: latest?.datasetId }));
    for (const id of plan.tag) await setExpiry(clients.s3, settings.trainingBucket, id, true);
    for (const id of plan.untag) await setExpiry(clients.s3, settings.trainingBucket, id, false);
    return { tagged: plan.tag, untagged: plan.untag };
}
