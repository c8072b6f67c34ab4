import { AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import {
    ListHyperParameterTuningJobsCommand,
    ListTrainingJobsCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { DatasetManifest, datasetPrefix } from "../../lib/dataset";
import { awsErrorName } from "../../lib/errors";
import type { RetrainCheckEnv } from "../../lib/functionSettings";
import { readInvokeResult } from "../../lib/invokeResult";
import { readLabel } from "../../lib/labels";
import { RETRAIN_CHECK_KEY, TRAINING_JOB_NAME_PREFIX } from "../../lib/layout";
import { RetrainCheck, retrainRequestId } from "../../lib/retrain";
import { getJsonIfAny, putJsonObject } from "../../lib/s3Objects";
import { expiredDataset } from "../../lib/datasetRetention";
import { datasetOfJob } from "../../lib/sagemakerJobs";
import { trainingJobOfModelUrl } from "../../lib/serving";
import type { TriggerResult } from "../../lib/triggerEvent";

export interface RetrainClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
    readonly sagemaker: SageMakerClient;
    readonly lambda: LambdaClient;
}

/** The retraining check's settings: its environment (lib/functionSettings.ts RETRAIN_CHECK_ENV). */
export type RetrainSettings = RetrainCheckEnv;

/** The scheduled event's parts the check reads: its time names the trigger's request. */
export interface ScheduledEvent {
    readonly time?: string;
}

/** The running BootBoots training or tuning jobs (any of them: one job at a time is enough). */
async function jobsInProgress(sagemaker: SageMakerClient): Promise<string[]> {
    const filter = { NameContains: TRAINING_JOB_NAME_PREFIX, StatusEquals: "InProgress" as const, MaxResults: 10 };
    const [training, tuning] = await Promise.all([
        sagemaker.send(new ListTrainingJobsCommand(filter)),
        sagemaker.send(new ListHyperParameterTuningJobsCommand(filter)),
    ]);
    return [
        ...(training.TrainingJobSummaries ?? []).map((j) => j.TrainingJobName!),
        ...(tuning.HyperParameterTuningJobSummaries ?? []).map((j) => j.HyperParameterTuningJobName!),
    ];
}

/** The dataset the serving model trained on, from its job's training channel. */
async function servingDatasetId(clients: RetrainClients, settings: RetrainSettings): Promise<string | undefined> {
    const job = settings.servingModelUrl
        ? trainingJobOfModelUrl(settings.servingModelUrl, settings.modelBucket)
        : undefined;
    return job ? datasetOfJob(clients.sagemaker, job) : undefined;
}

/**
 * What the labels are counted against: the newest of the serving model's dataset and the
 * dataset of the last job this check started (ids sort by time), its labels by imageName.
 * A dataset whose manifest has expired is said so in one sentence, and the other one is used.
 */
async function countedAgainst(
    clients: RetrainClients,
    settings: RetrainSettings,
    last: RetrainCheck | undefined,
): Promise<{ id: string | null; classOf: Map<string, string>; note?: string }> {
    const candidates = [await servingDatasetId(clients, settings), last?.lastStarted?.datasetId]
        .filter((id): id is string => Boolean(id))
        .sort()
        .reverse();
    const expired: string[] = [];
    for (const id of candidates) {
        const manifest = await getJsonIfAny<DatasetManifest>(
            clients.s3,
            settings.trainingBucket,
            `${datasetPrefix(id)}manifest.json`,
        );
        if (manifest)
            return {
                id,
                classOf: new Map(manifest.images.map((image) => [image.imageName, image.class])),
                note: expiredNote(expired, id),
            };
        expired.push(id);
    }
    return { id: null, classOf: new Map(), note: expiredNote(expired, null) };
}

/** One sentence on the datasets that have expired, and what the labels were counted against instead. */
function expiredNote(expired: readonly string[], used: string | null): string | undefined {
    if (expired.length === 0) return undefined;
    const instead = used ? `dataset ${used}` : "no dataset, so every label counts";
    return `${expired.map(expiredDataset).join(" and ")}: the labels were counted against ${instead}`;
}

/** The catadata labels the dataset does not hold with the same class: new images, or labelled otherwise since. */
async function countNewLabels(
    clients: RetrainClients,
    settings: RetrainSettings,
    classOf: ReadonlyMap<string, string>,
) {
    const classByLowerName = new Map(settings.classes.map((c) => [c.toLowerCase(), c]));
    let newLabels = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
        const page = await clients.dynamodb.send(
            new ScanCommand({
                TableName: settings.catadataTable,
                // Names through placeholders: a projection may not hold DynamoDB's reserved words.
                ProjectionExpression: "#name, #cat",
                ExpressionAttributeNames: { "#name": "imageName", "#cat": "cat" },
                ExclusiveStartKey: start,
            }),
        );
        for (const item of page.Items ?? []) {
            const label = readLabel(item, classByLowerName);
            if ("label" in label && classOf.get(item.imageName?.S ?? "") !== label.label) newLabels += 1;
        }
        start = page.LastEvaluatedKey;
    } while (start);
    return newLabels;
}

/** Starts a job through the trigger, synchronously, so the record says what the trigger did. */
async function startJob(clients: RetrainClients, settings: RetrainSettings, requestId: string) {
    let result: TriggerResult;
    try {
        const invoked = await clients.lambda.send(
            new InvokeCommand({ FunctionName: settings.triggerFunction, Payload: JSON.stringify({ requestId }) }),
        );
        const read = readInvokeResult<TriggerResult>(invoked);
        if ("functionError" in read)
            return { failed: `the trigger failed (${read.functionError}): ${read.detail}`, retry: true };
        result = read.result;
    } catch (error) {
        return {
            failed: `the trigger could not be invoked (${awsErrorName(error)}): ${(error as Error).message}`,
            retry: true,
        };
    }
    if (!result.success) return { failed: result.error, retry: false };
    if ("tuningJobName" in result)
        return { failed: `the trigger started tuning job ${result.tuningJobName}`, retry: false };
    return { trainingJobName: result.trainingJobName, datasetId: result.datasetId };
}

/**
 * The scheduled check: counts the catadata labels that the newest dataset trained on does not
 * hold, and starts at most one job per batch of new labels: nothing while a BootBoots job is
 * running, nothing twice for one scheduled event (the trigger's request id comes from the
 * event's time, so Lambda's retry is the same request), and `started` only once the trigger
 * started the job. It writes what it found and did for `bootboots status`.
 */
export async function checkForRetraining(
    clients: RetrainClients,
    settings: RetrainSettings,
    event: ScheduledEvent,
    now: () => Date = () => new Date(),
): Promise<RetrainCheck> {
    const requestId = retrainRequestId(event.time ?? now().toISOString());
    const last = await getJsonIfAny<RetrainCheck>(clients.s3, settings.trainingBucket, RETRAIN_CHECK_KEY);
    // A retry of a check whose start was recorded: the job is started, nothing is to be done.
    if (last?.action === "started" && last.requestId === requestId) return last;
    const against = await countedAgainst(clients, settings, last);
    const newLabels = await countNewLabels(clients, settings, against.classOf);
    const base = {
        checkedAt: now().toISOString(),
        newLabels,
        minNewLabels: settings.minNewLabels,
        countedAgainst: against.id,
        ...(against.note ? { note: against.note } : {}),
        ...(last?.lastStarted ? { lastStarted: last.lastStarted } : {}),
    };
    const record = async (check: RetrainCheck) => {
        await putJsonObject(clients.s3, settings.trainingBucket, RETRAIN_CHECK_KEY, check);
        console.log(JSON.stringify(check));
        return check;
    };
    if (newLabels < settings.minNewLabels) return record({ ...base, action: "waiting" });
    const running = await jobsInProgress(clients.sagemaker);
    if (running.length > 0)
        return record({
            ...base,
            action: "waiting",
            reason: `job ${running[0]} is still running; the next check counts again`,
        });
    const started = await startJob(clients, settings, requestId);
    if ("failed" in started) {
        const failed = await record({ ...base, action: "failed", requestId, reason: started.failed });
        // Lambda retries what may succeed when tried again; the same request id starts one job at most.
        if (started.retry) throw new Error(`The retraining check could not start a job: ${started.failed}`);
        return failed;
    }
    const lastStarted = { ...started, at: base.checkedAt };
    return record({ ...base, action: "started", requestId, ...started, lastStarted });
}
