import { AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DescribeTrainingJobCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { DatasetManifest, datasetIdOfChannels, datasetPrefix } from "../../lib/dataset";
import { RETRAIN_CHECK_KEY } from "../../lib/layout";
import { RetrainCheck } from "../../lib/retrain";
import { trainingJobOfModelUrl } from "../../lib/serving";
import type { RetrainCheckEnv } from "../../lib/functionSettings";
import { readLabel } from "../../lib/labels";
import { putJsonObject } from "../../lib/s3Objects";

export interface RetrainClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
    readonly sagemaker: SageMakerClient;
    readonly lambda: LambdaClient;
}

/** The retraining check's settings: its environment (lib/functionSettings.ts RETRAIN_CHECK_ENV). */
export type RetrainSettings = RetrainCheckEnv;

/** The dataset the serving model was trained on: its labels by imageName, or undefined when no model serves. */
async function servingDataset(
    clients: RetrainClients,
    settings: RetrainSettings,
): Promise<{ id: string; classOf: Map<string, string> } | undefined> {
    const job = settings.servingModelUrl
        ? trainingJobOfModelUrl(settings.servingModelUrl, settings.modelBucket)
        : undefined;
    if (!job) return undefined;
    const described = await clients.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: job }));
    const id = datasetIdOfChannels(described.InputDataConfig);
    if (!id) throw new Error(`The serving job ${job} names no dataset in its training channel.`);
    const object = await clients.s3.send(
        new GetObjectCommand({ Bucket: settings.trainingBucket, Key: `${datasetPrefix(id)}manifest.json` }),
    );
    const manifest = JSON.parse(await object.Body!.transformToString()) as DatasetManifest;
    return { id, classOf: new Map(manifest.images.map((image) => [image.imageName, image.class])) };
}

/**
 * The scheduled check: counts the catadata labels that the serving model's dataset does not
 * hold (new images, or images labelled otherwise since), and starts a job through the trigger
 * when there are at least minNewLabels. It writes what it found and did for `bootboots status`.
 */
export async function checkForRetraining(
    clients: RetrainClients,
    settings: RetrainSettings,
    now: () => Date = () => new Date(),
): Promise<RetrainCheck> {
    const dataset = await servingDataset(clients, settings);
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
            if (!("label" in label)) continue;
            if (dataset?.classOf.get(item.imageName?.S ?? "") !== label.label) newLabels += 1;
        }
        start = page.LastEvaluatedKey;
    } while (start);
    const base = {
        checkedAt: now().toISOString(),
        newLabels,
        minNewLabels: settings.minNewLabels,
        servingDataset: dataset?.id ?? null,
    };
    let check: RetrainCheck;
    if (newLabels >= settings.minNewLabels) {
        // Asynchronous: the trigger waits for data prep, and names the job after this request id.
        const invoked = await clients.lambda.send(
            new InvokeCommand({ FunctionName: settings.triggerFunction, InvocationType: "Event", Payload: "{}" }),
        );
        check = { ...base, action: "started", requestId: invoked.$metadata.requestId };
    } else {
        check = { ...base, action: "waiting" };
    }
    await putJsonObject(clients.s3, settings.trainingBucket, RETRAIN_CHECK_KEY, check);
    console.log(JSON.stringify(check));
    return check;
}
