import { InvokeCommand, InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import {
    CreateHyperParameterTuningJobCommand,
    CreateHyperParameterTuningJobRequest,
    CreateTrainingJobCommand,
    DescribeHyperParameterTuningJobCommand,
    DescribeHyperParameterTuningJobResponse,
    DescribeTrainingJobCommand,
    DescribeTrainingJobResponse,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import {
    DataPrepResult,
    DataPrepSuccess,
    DatasetManifest,
    DatasetPointer,
    datasetIdOfChannels,
    datasetPrefix,
} from "../../lib/dataset";
import { awsErrorName, describeAwsError, isAccessDenied, isUserFacing, userFacingError } from "../../lib/errors";
import { backoffMs, sleep } from "../../lib/backoff";
import { readInvokeResult } from "../../lib/invokeResult";
import { getJsonIfAny } from "../../lib/s3Objects";
import { LATEST_DATASET_KEY, TRAINING_OUTPUT_PREFIX } from "../../lib/layout";
import {
    TriggerEvent,
    TriggerResult,
    TriggerSuccess,
    TuningSuccess,
    parseTriggerEvent,
    trainingJobName,
    tuningJobName,
} from "../../lib/triggerEvent";
import type { TriggerEnv } from "../../lib/functionSettings";
import { checkDataset, trainingJobRequest, tuningJobRequest } from "./trainingJob";

/** Invocations of data prep in all when Lambda answers 429 (too many requests: data prep never started). */
const DATA_PREP_INVOKE_ATTEMPTS = 5;
const DATA_PREP_INVOKE_BACKOFF_MS = 500;

export interface TriggerClients {
    readonly s3: S3Client;
    readonly sagemaker: SageMakerClient;
    readonly lambda: LambdaClient;
}

/** The trigger's settings: its environment (lib/functionSettings.ts TRIGGER_ENV), which holds a job's settings too. */
export type TriggerSettings = TriggerEnv;

async function invokeDataPrep(clients: TriggerClients, settings: TriggerSettings): Promise<InvokeCommandOutput> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await clients.lambda.send(
                new InvokeCommand({
                    FunctionName: settings.dataPrepFunction,
                    InvocationType: "RequestResponse",
                    Payload: JSON.stringify({}),
                }),
            );
        } catch (error) {
            // Lambda answers 429 before running anything, so trying again cannot start data prep twice.
            if (awsErrorName(error) === "TooManyRequestsException" && attempt < DATA_PREP_INVOKE_ATTEMPTS) {
                await sleep(backoffMs(attempt, DATA_PREP_INVOKE_BACKOFF_MS));
                continue;
            }
            throw userFacingError(
                describeAwsError(error, `data-prep function '${settings.dataPrepFunction}'`, "redeploy the stack"),
            );
        }
    }
}

async function runDataPrep(clients: TriggerClients, settings: TriggerSettings): Promise<DataPrepSuccess> {
    const read = readInvokeResult<DataPrepResult>(await invokeDataPrep(clients, settings));
    if ("functionError" in read) {
        throw userFacingError(`Data prep failed (${read.functionError}): ${read.detail}. No training job was started.`);
    }
    const result = read.result;
    if (!result.success) {
        throw userFacingError(`Data prep failed: ${result.error} No training job was started.`);
    }
    return result;
}

/** A JSON object of the training bucket; `missing` is what the user reads when it does not exist. */
async function readJson<T>(clients: TriggerClients, bucket: string, key: string, missing: string): Promise<T> {
    let value: T | undefined;
    try {
        value = await getJsonIfAny<T>(clients.s3, bucket, key);
    } catch (error) {
        if (isAccessDenied(error)) {
            throw userFacingError(
                `Access denied reading s3://${bucket}/${key}: the trigger's role needs s3:GetObject on datasets/* and s3:ListBucket on the bucket (redeploy the stack).`,
            );
        }
        throw userFacingError(
            describeAwsError(error, `s3://${bucket}/${key}`, "check the training-data bucket exists"),
        );
    }
    if (value === undefined) throw userFacingError(missing);
    return value;
}

/** A job's description, or undefined when SageMaker has no job of that name. */
async function describeIfExists<T>(describe: () => Promise<T>, what: string): Promise<T | undefined> {
    try {
        return await describe();
    } catch (error) {
        const name = awsErrorName(error);
        if (name === "ValidationException" || name === "ResourceNotFound") return undefined;
        throw userFacingError(describeAwsError(error, what, "check the trigger's role"));
    }
}

const describeJob = (clients: TriggerClients, jobName: string): Promise<DescribeTrainingJobResponse | undefined> =>
    describeIfExists(
        () => clients.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })),
        `training job ${jobName}`,
    );

const describeTuningJob = (
    clients: TriggerClients,
    jobName: string,
): Promise<DescribeHyperParameterTuningJobResponse | undefined> =>
    describeIfExists(
        () =>
            clients.sagemaker.send(
                new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: jobName }),
            ),
        `tuning job ${jobName}`,
    );

/** The dataset a started job trains on, read back from its training channel. */
/** What the user reads when CreateTrainingJob is refused. */
function createJobError(
    error: unknown,
    kind: "training job" | "tuning job",
    jobName: string,
    spot: boolean,
    instanceType: string,
): Error {
    if (awsErrorName(error) === "ResourceLimitExceeded" && spot) {
        return userFacingError(
            `SageMaker refused ${kind} ${jobName}: the account's quota for spot training on ${instanceType} is used up ` +
                `(${(error as Error).message}). Train on demand with {"spot": false} (npx bootboots train --no-spot), ` +
                `or ask for a higher "${instanceType} for spot training job usage" quota in Service Quotas.`,
        );
    }
    return userFacingError(
        describeAwsError(error, `${kind} ${jobName}`, "check the instance type and the stack's region"),
    );
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
    return success(
        settings,
        jobName,
        datasetIdOfChannels(job.InputDataConfig) ?? "",
        job.HyperParameters ?? {},
        null,
        true,
    );
}

function tuningSuccess(
    settings: TriggerSettings,
    jobName: string,
    datasetId: string,
    request: Pick<CreateHyperParameterTuningJobRequest, "TrainingJobDefinition" | "HyperParameterTuningJobConfig">,
    dataPrep: DataPrepResult | null,
    alreadyStarted: boolean,
): TuningSuccess {
    const limits = request.HyperParameterTuningJobConfig?.ResourceLimits;
    return {
        success: true,
        tuningJobName: jobName,
        datasetId,
        staticHyperParameters: request.TrainingJobDefinition?.StaticHyperParameters ?? {},
        maxJobs: limits?.MaxNumberOfTrainingJobs ?? 0,
        parallelJobs: limits?.MaxParallelTrainingJobs ?? 0,
        consoleUrl: `https://${settings.region}.console.aws.amazon.com/sagemaker/home?region=${settings.region}#/hyper-tuning-jobs/${jobName}`,
        dataPrep,
        alreadyStarted,
    };
}

function tuningAlreadyStarted(
    settings: TriggerSettings,
    jobName: string,
    job: DescribeHyperParameterTuningJobResponse,
): TuningSuccess {
    return tuningSuccess(
        settings,
        jobName,
        datasetIdOfChannels(job.TrainingJobDefinition?.InputDataConfig) ?? "",
        job,
        null,
        true,
    );
}

/** The existing job a retried invocation of this request id already started, if any. */
async function startedBefore(
    clients: TriggerClients,
    settings: TriggerSettings,
    event: TriggerEvent,
    requestId: string,
): Promise<TriggerResult | undefined> {
    if (event.tune) {
        const jobName = tuningJobName(requestId);
        const existing = await describeTuningJob(clients, jobName);
        return existing && tuningAlreadyStarted(settings, jobName, existing);
    }
    const jobName = trainingJobName(requestId);
    const existing = await describeJob(clients, jobName);
    return existing && alreadyStarted(settings, jobName, existing);
}

/** Starts the training job, or with `tune` the tuning job; a concurrent retry that got there first is reported as such. */
async function startJob(
    clients: TriggerClients,
    settings: TriggerSettings,
    event: TriggerEvent,
    manifest: DatasetManifest,
    requestId: string,
    dataPrep: DataPrepResult | null,
): Promise<TriggerResult> {
    const tune = event.tune;
    const jobName = tune ? tuningJobName(requestId) : trainingJobName(requestId);
    try {
        if (tune) {
            const request = tuningJobRequest(jobName, { ...event, tune }, settings, manifest, requestId);
            await clients.sagemaker.send(new CreateHyperParameterTuningJobCommand(request));
            return tuningSuccess(settings, jobName, manifest.datasetId, request, dataPrep, false);
        }
        const request = trainingJobRequest(jobName, event, settings, manifest, requestId);
        await clients.sagemaker.send(new CreateTrainingJobCommand(request));
        return success(settings, jobName, manifest.datasetId, request.HyperParameters!, dataPrep, false);
    } catch (error) {
        if (awsErrorName(error) === "ResourceInUse") {
            const existing = await startedBefore(clients, settings, event, requestId);
            if (existing) return existing;
        }
        throw createJobError(error, tune ? "tuning job" : "training job", jobName, event.spot, event.instanceType);
    }
}

/**
 * Validates the event, prepares (or picks) a dataset, and starts one SageMaker training job
 * (or, with `tune`, one tuning job) per request id: a retried invocation reports the job it
 * already started.
 */
export async function triggerTraining(
    clients: TriggerClients,
    settings: TriggerSettings,
    rawEvent: unknown,
    invocationRequestId: string,
): Promise<TriggerResult> {
    try {
        const event = parseTriggerEvent(rawEvent, settings);
        const requestId = event.requestId ?? invocationRequestId;
        const existing = await startedBefore(clients, settings, event, requestId);
        if (existing) return existing;

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
        checkDataset(manifest, settings.classes);
        return await startJob(clients, settings, event, manifest, requestId, dataPrep);
    } catch (error) {
        if (isUserFacing(error)) return { success: false, error: error.message };
        return { success: false, error: `Unexpected error: ${(error as Error).message ?? String(error)}` };
    }
}
