import { createHash } from "crypto";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
    CreateTrainingJobCommand,
    CreateTrainingJobRequest,
    DescribeTrainingJobCommand,
    DescribeTrainingJobResponse,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { contract, metricDefinitions } from "../lib/contract";
import { CHECKPOINTS_PREFIX, LATEST_DATASET_KEY, TRAINING_JOB_NAME_PREFIX, TRAINING_OUTPUT_PREFIX } from "../lib/layout";
import type { DataPrepResult } from "./dataPrep";
import { DATASET_ID_PATTERN, DatasetManifest, DatasetPointer, datasetPrefix } from "./dataset";
import { requiredEnv } from "./env";
import { describeAwsError, isUserFacing, userFacingError } from "./errors";
import { readInvokeResult } from "./invokeResult";
import { booleanField, integerField, numberField, oneOfField, patternField, validateEvent } from "./eventFields";

/** Below this many training images a fine-tuned model is not worth the instance hours. */
export const MIN_TRAINING_IMAGES = 50;
/** Where the training container keeps checkpoints that SageMaker syncs to S3. */
const CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints";
/** SageMaker's own limit on a training job's run time. */
const MAX_RUNTIME_LIMIT_SECONDS = 28 * 24 * 3600;

export interface TriggerClients {
    readonly s3: S3Client;
    readonly sagemaker: SageMakerClient;
    readonly lambda: LambdaClient;
}

export interface TriggerSettings {
    readonly region: string;
    readonly trainingBucket: string;
    readonly modelBucket: string;
    readonly dataPrepFunction: string;
    readonly sagemakerRoleArn: string;
    readonly trainingImageUri: string;
    readonly trainingScriptUri: string;
    readonly instanceType: string;
    readonly spot: boolean;
    readonly classes: readonly string[];
}

export interface TriggerEvent {
    readonly skipDataPrep: boolean;
    readonly datasetId?: string;
    readonly epochs: number;
    readonly learningRate: number;
    readonly batchSize: number;
    readonly trainOnlyTopLayer: boolean;
    readonly dropoutRate: number;
    readonly spot: boolean;
    readonly instanceType: string;
    readonly maxRuntimeSeconds: number;
    readonly classWeights: "balanced" | "none";
}

export interface TriggerSuccess {
    readonly success: true;
    readonly trainingJobName: string;
    readonly datasetId: string;
    readonly hyperParameters: Record<string, string>;
    readonly consoleUrl: string;
    readonly modelDataUrl: string;
    readonly deployCommand: string;
    /** The data-prep result, or null when an existing dataset was used. */
    readonly dataPrep: DataPrepResult | null;
    /** True when this request id had already started the job (a retried invocation). */
    readonly alreadyStarted: boolean;
}

export type TriggerResult = TriggerSuccess | { readonly success: false; readonly error: string };

const defaults = contract.hyperparameterDefaults;

const EVENT_RULES = {
    skipDataPrep: booleanField,
    datasetId: patternField(DATASET_ID_PATTERN, "a dataset id such as 20260221T153033Z-4f2a"),
    epochs: integerField(1, 10_000),
    learningRate: numberField(0, 1),
    batchSize: integerField(1, 1024),
    trainOnlyTopLayer: booleanField,
    dropoutRate: numberField(0, 1, true),
    spot: booleanField,
    instanceType: patternField(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, "a SageMaker instance type such as ml.m5.xlarge"),
    maxRuntimeSeconds: integerField(60, MAX_RUNTIME_LIMIT_SECONDS),
    classWeights: oneOfField(["balanced", "none"]),
};

export function triggerSettingsFromEnv(env: NodeJS.ProcessEnv): TriggerSettings {
    const required = (name: string): string => requiredEnv(env, name);
    return {
        region: required("AWS_REGION"),
        trainingBucket: required("TRAINING_BUCKET"),
        modelBucket: required("MODEL_BUCKET"),
        dataPrepFunction: required("DATA_PREP_FUNCTION"),
        sagemakerRoleArn: required("SAGEMAKER_ROLE_ARN"),
        trainingImageUri: required("TRAINING_IMAGE_URI"),
        trainingScriptUri: required("TRAINING_SCRIPT_URI"),
        instanceType: required("TRAINING_INSTANCE_TYPE"),
        spot: required("SPOT_TRAINING") === "true",
        classes: JSON.parse(required("CLASSES")),
    };
}

/** Checks a trigger event and fills in the defaults. */
export function parseTriggerEvent(raw: unknown, settings: Pick<TriggerSettings, "spot" | "instanceType">): TriggerEvent {
    const given = validateEvent<TriggerEvent>(raw, EVENT_RULES, "trigger");
    if (given.datasetId !== undefined && given.skipDataPrep !== true) {
        throw userFacingError(
            `Invalid "datasetId": it names an existing dataset, so it needs "skipDataPrep": true (without it a new dataset is prepared).`,
        );
    }
    return {
        skipDataPrep: given.skipDataPrep ?? false,
        datasetId: given.datasetId,
        epochs: given.epochs ?? defaults.epochs,
        learningRate: given.learningRate ?? defaults.learning_rate,
        batchSize: given.batchSize ?? defaults.batch_size,
        trainOnlyTopLayer: given.trainOnlyTopLayer ?? defaults.train_only_top_layer,
        dropoutRate: given.dropoutRate ?? defaults.dropout_rate,
        spot: given.spot ?? settings.spot,
        instanceType: given.instanceType ?? settings.instanceType,
        maxRuntimeSeconds: given.maxRuntimeSeconds ?? 7200,
        classWeights: given.classWeights ?? "balanced",
    };
}

/** The same request id always gives the same name, so a retried invocation finds its job. */
export function trainingJobName(requestId: string): string {
    return `${TRAINING_JOB_NAME_PREFIX}${createHash("sha256").update(requestId).digest("hex").slice(0, 24)}`;
}

/** Balanced weights, N / (K · n_c) over the training counts: each class weighs as much in the loss. */
export function balancedClassWeights(trainingCounts: Readonly<Record<string, number>>, classes: readonly string[]): Record<string, number> {
    const total = classes.reduce((sum, c) => sum + trainingCounts[c], 0);
    return Object.fromEntries(classes.map((c) => [c, Number((total / (classes.length * trainingCounts[c])).toFixed(6))]));
}

async function runDataPrep(clients: TriggerClients, settings: TriggerSettings): Promise<DataPrepResult & { success: true }> {
    let response;
    try {
        response = await clients.lambda.send(
            new InvokeCommand({ FunctionName: settings.dataPrepFunction, InvocationType: "RequestResponse", Payload: JSON.stringify({}) }),
        );
    } catch (error) {
        throw userFacingError(describeAwsError(error, `data-prep function '${settings.dataPrepFunction}'`, "redeploy the stack"));
    }
    const read = readInvokeResult<DataPrepResult>(response);
    if ("functionError" in read) {
        throw userFacingError(`Data prep failed (${read.functionError}): ${read.detail}. No training job was started.`);
    }
    const result = read.result;
    if (!result.success) {
        throw userFacingError(`Data prep failed: ${result.error} No training job was started.`);
    }
    return result;
}

async function readJson<T>(clients: TriggerClients, bucket: string, key: string, missing: string): Promise<T> {
    try {
        const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return JSON.parse(await object.Body!.transformToString()) as T;
    } catch (error) {
        const name = (error as { name?: string }).name;
        if (name === "NoSuchKey" || name === "NotFound") throw userFacingError(missing);
        throw userFacingError(describeAwsError(error, `s3://${bucket}/${key}`, "check the training-data bucket exists"));
    }
}

function checkDataset(manifest: DatasetManifest, settings: TriggerSettings): void {
    if (manifest.classes.join(",") !== settings.classes.join(",")) {
        throw userFacingError(
            `Dataset ${manifest.datasetId} was built for classes ${manifest.classes.join(", ")}, but the stack trains ` +
                `${settings.classes.join(", ")}: prepare a new dataset (leave out skipDataPrep).`,
        );
    }
    if (manifest.trainingImages < MIN_TRAINING_IMAGES) {
        throw userFacingError(
            `Dataset ${manifest.datasetId} has ${manifest.trainingImages} training images; training needs at least ` +
                `${MIN_TRAINING_IMAGES}. Label more images in catadata, then run again.`,
        );
    }
    const empty = settings.classes.filter((c) => {
        const counts = manifest.classDistribution[c];
        return !counts || counts.training === 0 || counts.validation === 0;
    });
    if (empty.length > 0) {
        const detail = empty
            .map((c) => `${c} (training ${manifest.classDistribution[c]?.training ?? 0}, validation ${manifest.classDistribution[c]?.validation ?? 0})`)
            .join("; ");
        throw userFacingError(`Every class needs training and validation images; dataset ${manifest.datasetId} lacks them for ${detail}.`);
    }
}

/** The hyperparameters train.py reads, as the strings SageMaker requires (DESIGN.md §6). */
export function trainingHyperParameters(
    event: TriggerEvent,
    settings: Pick<TriggerSettings, "classes" | "trainingScriptUri" | "region">,
    trainingCounts: Readonly<Record<string, number>>,
): Record<string, string> {
    return {
        epochs: String(event.epochs),
        learning_rate: String(event.learningRate),
        batch_size: String(event.batchSize),
        train_only_top_layer: String(event.trainOnlyTopLayer),
        dropout_rate: String(event.dropoutRate),
        augmentation: String(defaults.augmentation),
        augmentation_random_flip: defaults.augmentation_random_flip,
        augmentation_random_rotation: String(defaults.augmentation_random_rotation),
        augmentation_random_zoom: String(defaults.augmentation_random_zoom),
        early_stopping: String(defaults.early_stopping),
        early_stopping_patience: String(defaults.early_stopping_patience),
        early_stopping_min_delta: String(defaults.early_stopping_min_delta),
        classes: settings.classes.join(","),
        class_weights: event.classWeights === "none" ? "none" : JSON.stringify(balancedClassWeights(trainingCounts, settings.classes)),
        sagemaker_program: "train.py",
        sagemaker_submit_directory: settings.trainingScriptUri,
        sagemaker_region: settings.region,
    };
}

function createJobRequest(
    jobName: string,
    event: TriggerEvent,
    settings: TriggerSettings,
    manifest: DatasetManifest,
    requestId: string,
): CreateTrainingJobRequest {
    const datasetUri = `s3://${settings.trainingBucket}/${datasetPrefix(manifest.datasetId)}`;
    const channel = (name: "training" | "validation") => ({
        ChannelName: name,
        InputMode: "File" as const,
        DataSource: {
            S3DataSource: { S3DataType: "S3Prefix" as const, S3Uri: `${datasetUri}${name}/`, S3DataDistributionType: "FullyReplicated" as const },
        },
    });
    return {
        TrainingJobName: jobName,
        RoleArn: settings.sagemakerRoleArn,
        AlgorithmSpecification: {
            TrainingImage: settings.trainingImageUri,
            TrainingInputMode: "File",
            MetricDefinitions: metricDefinitions.map((m) => ({ Name: m.Name, Regex: m.Regex })),
        },
        HyperParameters: trainingHyperParameters(
            event,
            settings,
            Object.fromEntries(settings.classes.map((c) => [c, manifest.classDistribution[c].training])),
        ),
        InputDataConfig: [channel("training"), channel("validation")],
        OutputDataConfig: { S3OutputPath: `s3://${settings.modelBucket}/${TRAINING_OUTPUT_PREFIX}` },
        ResourceConfig: { InstanceType: event.instanceType as never, InstanceCount: 1, VolumeSizeInGB: 30 },
        StoppingCondition: event.spot
            ? { MaxRuntimeInSeconds: event.maxRuntimeSeconds, MaxWaitTimeInSeconds: Math.min(2 * event.maxRuntimeSeconds, MAX_RUNTIME_LIMIT_SECONDS) }
            : { MaxRuntimeInSeconds: event.maxRuntimeSeconds },
        EnableManagedSpotTraining: event.spot,
        CheckpointConfig: event.spot
            ? { S3Uri: `s3://${settings.modelBucket}/${CHECKPOINTS_PREFIX}${jobName}/`, LocalPath: CHECKPOINT_LOCAL_PATH }
            : undefined,
        Tags: [
            { Key: "project", Value: "bootboots-ai" },
            { Key: "bootboots:datasetId", Value: manifest.datasetId },
            { Key: "bootboots:requestId", Value: requestId },
        ],
    };
}

async function describeJob(clients: TriggerClients, jobName: string): Promise<DescribeTrainingJobResponse | undefined> {
    try {
        return await clients.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
    } catch (error) {
        const name = (error as { name?: string }).name;
        if (name === "ValidationException" || name === "ResourceNotFound") return undefined;
        throw userFacingError(describeAwsError(error, `training job ${jobName}`, "check the trigger's role"));
    }
}

function success(
    settings: TriggerSettings,
    jobName: string,
    datasetId: string,
    hyperParameters: Record<string, string>,
    dataPrep: DataPrepResult | null,
    alreadyStarted: boolean,
): TriggerSuccess {
    const modelDataUrl = `s3://${settings.modelBucket}/${TRAINING_OUTPUT_PREFIX}${jobName}/output/model.tar.gz`;
    return {
        success: true,
        trainingJobName: jobName,
        datasetId,
        hyperParameters,
        consoleUrl: `https://${settings.region}.console.aws.amazon.com/sagemaker/home?region=${settings.region}#/jobs/${jobName}`,
        modelDataUrl,
        deployCommand: `pulumi config set modelDataUrl ${modelDataUrl} && pulumi up`,
        dataPrep,
        alreadyStarted,
    };
}

function alreadyStarted(settings: TriggerSettings, jobName: string, job: DescribeTrainingJobResponse): TriggerSuccess {
    const hps = job.HyperParameters ?? {};
    const datasetUri = job.InputDataConfig?.find((c) => c.ChannelName === "training")?.DataSource?.S3DataSource?.S3Uri ?? "";
    const datasetId = /datasets\/([^/]+)\//.exec(datasetUri)?.[1] ?? "";
    return success(settings, jobName, datasetId, hps, null, true);
}

/**
 * Validates the event, prepares (or picks) a dataset, and starts one SageMaker training
 * job per request id: a retried invocation reports the job it already started.
 */
export async function triggerTraining(
    clients: TriggerClients,
    settings: TriggerSettings,
    rawEvent: unknown,
    requestId: string,
): Promise<TriggerResult> {
    try {
        const event = parseTriggerEvent(rawEvent, settings);
        const jobName = trainingJobName(requestId);
        const existing = await describeJob(clients, jobName);
        if (existing) return alreadyStarted(settings, jobName, existing);

        let dataPrep: DataPrepResult | null = null;
        let datasetId: string;
        if (event.skipDataPrep) {
            datasetId =
                event.datasetId ??
                (
                    await readJson<DatasetPointer>(
                        clients,
                        settings.trainingBucket,
                        LATEST_DATASET_KEY,
                        `No dataset exists yet in s3://${settings.trainingBucket}/${LATEST_DATASET_KEY}: invoke without "skipDataPrep" to prepare one.`,
                    )
                ).datasetId;
        } else {
            const prepared = await runDataPrep(clients, settings);
            dataPrep = prepared;
            datasetId = prepared.datasetId;
        }
        const manifest = await readJson<DatasetManifest>(
            clients,
            settings.trainingBucket,
            `${datasetPrefix(datasetId)}manifest.json`,
            `Dataset ${datasetId} does not exist in s3://${settings.trainingBucket}/${datasetPrefix(datasetId)}: ` +
                `pick one listed there, or invoke without "skipDataPrep" to prepare a new one.`,
        );
        checkDataset(manifest, settings);

        const request = createJobRequest(jobName, event, settings, manifest, requestId);
        try {
            await clients.sagemaker.send(new CreateTrainingJobCommand(request));
        } catch (error) {
            // A concurrent retry of this invocation created the job first.
            if ((error as { name?: string }).name === "ResourceInUse") {
                const job = await describeJob(clients, jobName);
                if (job) return alreadyStarted(settings, jobName, job);
            }
            throw userFacingError(describeAwsError(error, `training job ${jobName}`, "check the instance type and the stack's region"));
        }
        return success(settings, jobName, datasetId, request.HyperParameters!, dataPrep, false);
    } catch (error) {
        if (isUserFacing(error)) return { success: false, error: error.message };
        return { success: false, error: `Unexpected error: ${(error as Error).message ?? String(error)}` };
    }
}
