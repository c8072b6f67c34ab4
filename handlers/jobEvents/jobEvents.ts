import type { S3Client } from "@aws-sdk/client-s3";
import { createHash } from "crypto";
import { CreateModelPackageCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { compareModels, notComparable, verdict } from "../../lib/comparison";
import { awsErrorName } from "../../lib/errors";
import { JobFiles, jobFileSources, readJobFiles } from "../../lib/jobFiles";
import { DECISION_FILE, EVALUATION_FILE } from "../../lib/jobOutput";
import { TRAINING_OUTPUT_PREFIX } from "../../lib/layout";
import { jobModelUrl, trainingJobOfModelUrl } from "../../lib/serving";
import type { JobEventsEnv } from "../../lib/functionSettings";
import { getJsonIfAny, getObjectIfAny, putJsonObject } from "../../lib/s3Objects";
import {
    FinishedJob,
    Notice,
    completedNotice,
    failedNotice,
    figuresOf,
    modelPackageRequest,
    parseJobEvent,
    tuningNotice,
} from "./jobNotice";
import { retireUnusedDatasets } from "./datasetRetention";
import { claimJob, finishClaim } from "./jobClaim";

export interface JobEventClients {
    readonly s3: S3Client;
    readonly sagemaker: SageMakerClient;
    readonly sns: SNSClient;
}

/** The job-events function's settings: its environment (lib/functionSettings.ts JOB_EVENTS_ENV). */
export type JobEventSettings = JobEventsEnv;

/** What one run did; a step already done by an earlier run of the same event says "already". */
export interface JobEventResult {
    readonly job?: string;
    readonly stored?: "stored" | "already" | "no evaluation";
    readonly registered?: string;
    readonly notified?: "sent" | "already";
    readonly verdict?: string;
    readonly ignored?: string;
    /** The datasets tagged for expiry (nothing uses them any more), and those untagged (used again). */
    readonly retention?: { readonly tagged: string[]; readonly untagged: string[] };
}

/** The markers that make a second delivery of an event do nothing twice. */
const REGISTERED_MARKER = "model-package.json";
const NOTIFIED_MARKER = "notified.json";

/** A job's evaluation and decision from the models bucket: the plain files, else its output.tar.gz. */
function jobFiles(clients: JobEventClients, settings: JobEventSettings, outputDir: string): Promise<JobFiles> {
    const read = (bucket: string, key: string) => getObjectIfAny(clients.s3, bucket, key);
    return readJobFiles(read, { bucket: settings.modelBucket, outputDir }, ["evaluation", "decision"]);
}

/** The verdict against the serving model, in one sentence. */
async function verdictAgainstServing(
    clients: JobEventClients,
    settings: JobEventSettings,
    job: string,
    files: JobFiles,
): Promise<string> {
    if (!settings.servingModelUrl) return "No model is serving yet, so there is nothing to compare it with.";
    const serving = trainingJobOfModelUrl(settings.servingModelUrl, settings.modelBucket);
    if (!serving)
        return `The serving model ${settings.servingModelUrl} is not one of this stack's jobs, so it was not compared.`;
    if (serving === job) return `${job} is the model serving now.`;
    const baseline = await jobFiles(clients, settings, `${TRAINING_OUTPUT_PREFIX}${serving}/output/`);
    const candidate = { jobName: job, evaluation: { ...files.evaluation!, decision: files.decision } };
    if (!baseline.evaluation) return `The serving model ${serving} left no evaluation.json, so it was not compared.`;
    const against = { jobName: serving, evaluation: { ...baseline.evaluation, decision: baseline.decision } };
    const reason = notComparable(candidate, against);
    if (reason) return `Not comparable with the serving model: ${reason}.`;
    return verdict(compareModels(candidate, against)).sentence;
}

/** Runs one step; a failure is logged by name and remembered, so the others still run and the event is retried. */
async function step<T>(failures: string[], name: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
        return await run();
    } catch (error) {
        console.error(JSON.stringify({ step: name, error: awsErrorName(error), message: (error as Error).message }));
        failures.push(`${name} (${awsErrorName(error)})`);
        return undefined;
    }
}

async function notifyOnce(
    clients: JobEventClients,
    settings: JobEventSettings,
    markerKey: string,
    notice: () => Promise<Notice>,
): Promise<"sent" | "already"> {
    if (await getJsonIfAny(clients.s3, settings.modelBucket, markerKey)) return "already";
    const { subject, body } = await notice();
    const sent = await clients.sns.send(
        new PublishCommand({ TopicArn: settings.topicArn, Subject: subject, Message: body }),
    );
    await putJsonObject(clients.s3, settings.modelBucket, markerKey, { messageId: sent.MessageId, subject }, true);
    return "sent";
}

/** Stores evaluation.json and decision.json beside the model, out of output.tar.gz, once. */
async function storeFiles(clients: JobEventClients, settings: JobEventSettings, outputDir: string, files: JobFiles) {
    if (files.source === "plain") return "already" as const;
    if (!files.evaluation) return "no evaluation" as const;
    await putJsonObject(clients.s3, settings.modelBucket, `${outputDir}${EVALUATION_FILE}`, files.evaluation);
    if (files.decision)
        await putJsonObject(clients.s3, settings.modelBucket, `${outputDir}${DECISION_FILE}`, files.decision);
    return "stored" as const;
}

/** Registers the job's model once: the marker tells a later run, the ClientToken a retried call. */
async function registerOnce(
    clients: JobEventClients,
    settings: JobEventSettings,
    job: Extract<FinishedJob, { kind: "training" }>,
    paths: { modelUrl: string; outputDir: string },
    figures: ReturnType<typeof figuresOf>,
    sentence: string,
): Promise<string> {
    const markerKey = `${paths.outputDir}${REGISTERED_MARKER}`;
    const marker = await getJsonIfAny<{ modelPackageArn: string }>(clients.s3, settings.modelBucket, markerKey);
    if (marker) return `already: ${marker.modelPackageArn}`;
    const request = modelPackageRequest({
        group: settings.modelPackageGroup,
        job: job.name,
        datasetId: job.datasetId,
        modelUrl: paths.modelUrl,
        evaluationUrl: `s3://${settings.modelBucket}/${paths.outputDir}${EVALUATION_FILE}`,
        inferenceImage: settings.inferenceImage,
        figures,
        verdict: sentence,
    });
    const created = await clients.sagemaker.send(
        new CreateModelPackageCommand({ ...request, ClientToken: clientToken(job.name) }),
    );
    await putJsonObject(
        clients.s3,
        settings.modelBucket,
        markerKey,
        { modelPackageArn: created.ModelPackageArn },
        true,
    );
    return created.ModelPackageArn!;
}

/** CreateModelPackage's idempotency token: one per job, so a call retried after a lost answer registers nothing new. */
function clientToken(job: string): string {
    return createHash("sha256").update(`register:${job}`).digest("hex").slice(0, 36);
}

/** A completed training job: its files stored plain, the verdict, a registered version, and (unless a tuner ran it) a message. */
async function completedTrainingJob(
    clients: JobEventClients,
    settings: JobEventSettings,
    job: Extract<FinishedJob, { kind: "training" }>,
    failures: string[],
): Promise<JobEventResult> {
    const modelUrl = job.modelUrl ?? jobModelUrl(settings.modelBucket, job.name);
    const { outputDir } = jobFileSources(modelUrl);
    // A read that fails is no fact about the job: it throws, and Lambda's retry reads again.
    const files = await jobFiles(clients, settings, outputDir);
    const stored =
        (await step(failures, "store", () => storeFiles(clients, settings, outputDir, files))) ?? "no evaluation";
    const figures = figuresOf(files.evaluation, files.decision);
    const sentence = files.evaluation
        ? ((await step(failures, "compare", () => verdictAgainstServing(clients, settings, job.name, files))) ??
          "The comparison with the serving model failed; npx bootboots compare runs it.")
        : "It left no evaluation.json, so it was not compared.";
    const registered = await step(failures, "register", () =>
        registerOnce(clients, settings, job, { modelUrl, outputDir }, figures, sentence),
    );
    const notified = job.tuningJob
        ? undefined
        : await step(failures, "notify", () =>
              notifyOnce(clients, settings, `${outputDir}${NOTIFIED_MARKER}`, async () =>
                  completedNotice(job.name, figures, sentence, `npx bootboots deploy ${job.name}`),
              ),
          );
    // The registry changed: which datasets nothing uses any more may change too.
    const retention = await step(failures, "retention", () => retireUnusedDatasets(clients, settings, job.datasetId));
    return { job: job.name, stored, registered, notified, verdict: sentence, retention };
}

/** A failed or stopped training job: one message (unless a tuner ran it). */
async function endedTrainingJob(
    clients: JobEventClients,
    settings: JobEventSettings,
    job: Extract<FinishedJob, { kind: "training" }>,
    failures: string[],
): Promise<JobEventResult> {
    if (job.tuningJob) return { job: job.name };
    const marker = `${TRAINING_OUTPUT_PREFIX}${job.name}/output/${NOTIFIED_MARKER}`;
    const notified = await step(failures, "notify", () =>
        notifyOnce(clients, settings, marker, async () =>
            failedNotice(job.name, job.status, job.failureReason, "Training"),
        ),
    );
    return { job: job.name, notified };
}

/** A tuning job that ended: one message naming its best training job, with that job's figures and verdict. */
async function endedTuningJob(
    clients: JobEventClients,
    settings: JobEventSettings,
    job: Extract<FinishedJob, { kind: "tuning" }>,
    failures: string[],
): Promise<JobEventResult> {
    const marker = `${TRAINING_OUTPUT_PREFIX}${job.name}/${NOTIFIED_MARKER}`;
    const notified = await step(failures, "notify", () =>
        notifyOnce(clients, settings, marker, async () => {
            if (job.status !== "Completed" || !job.bestJob)
                return failedNotice(job.name, job.status, job.failureReason, "Tuning");
            const files = await jobFiles(clients, settings, `${TRAINING_OUTPUT_PREFIX}${job.bestJob}/output/`);
            const sentence = files.evaluation
                ? await verdictAgainstServing(clients, settings, job.bestJob, files)
                : "Its best job left no evaluation.json, so it was not compared.";
            const figures = figuresOf(files.evaluation, files.decision);
            return tuningNotice(job.name, job.bestJob, figures, sentence, `npx bootboots deploy ${job.name}`);
        }),
    );
    return { job: job.name, notified };
}

/**
 * The job-events Lambda: on every finished job of the stack (EventBridge), stores its
 * evaluation beside the model, compares it with the serving model, registers it in the model
 * package group and tells the user. One delivery claims the job (two concurrent ones do not
 * both act), each step is done once (its marker), a failed read is retried rather than
 * recorded, and a step that failed is done by Lambda's retry of the same invocation.
 */
export async function handleJobEvent(
    clients: JobEventClients,
    settings: JobEventSettings,
    event: unknown,
    requestId: string,
    now: () => Date = () => new Date(),
): Promise<JobEventResult> {
    const job = parseJobEvent(event);
    if (!job) return { ignored: "not a finished training or tuning job" };
    const claim = await claimJob(clients.s3, settings.modelBucket, job.name, requestId, now());
    if (!claim.claimed) {
        const ignored = {
            job: job.name,
            ignored: `another delivery of this event (request ${claim.by}) is handling it`,
        };
        console.log(JSON.stringify(ignored));
        return ignored;
    }
    const failures: string[] = [];
    const result =
        job.kind === "tuning"
            ? await endedTuningJob(clients, settings, job, failures)
            : job.status === "Completed"
              ? await completedTrainingJob(clients, settings, job, failures)
              : await endedTrainingJob(clients, settings, job, failures);
    console.log(JSON.stringify(result));
    // Lambda retries a failed asynchronous invocation under the same request id: the steps done are not done again.
    if (failures.length) throw new Error(`Not done for ${job.name}: ${failures.join(", ")}; the retry completes it.`);
    await finishClaim(clients.s3, settings.modelBucket, job.name, requestId, now());
    return result;
}
