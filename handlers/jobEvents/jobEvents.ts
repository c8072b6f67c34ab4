import type { S3Client } from "@aws-sdk/client-s3";
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
    await putJsonObject(clients.s3, settings.modelBucket, markerKey, { messageId: sent.MessageId, subject });
    return "sent";
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
    const files = (await step(failures, "read", () => jobFiles(clients, settings, outputDir))) ?? {
        source: "none" as const,
    };
    let stored: JobEventResult["stored"] = files.source === "plain" ? "already" : "no evaluation";
    if (files.source === "archive" && files.evaluation) {
        stored = await step(failures, "store", async () => {
            await putJsonObject(clients.s3, settings.modelBucket, `${outputDir}${EVALUATION_FILE}`, files.evaluation);
            if (files.decision)
                await putJsonObject(clients.s3, settings.modelBucket, `${outputDir}${DECISION_FILE}`, files.decision);
            return "stored" as const;
        });
    }
    const figures = figuresOf(files.evaluation, files.decision);
    const sentence = files.evaluation
        ? ((await step(failures, "compare", () => verdictAgainstServing(clients, settings, job.name, files))) ??
          "The comparison with the serving model failed; npx bootboots compare runs it.")
        : "It left no evaluation.json, so it was not compared.";
    const registered = await step(failures, "register", async () => {
        const marker = await getJsonIfAny<{ modelPackageArn: string }>(
            clients.s3,
            settings.modelBucket,
            `${outputDir}${REGISTERED_MARKER}`,
        );
        if (marker) return `already: ${marker.modelPackageArn}`;
        const created = await clients.sagemaker.send(
            new CreateModelPackageCommand(
                modelPackageRequest({
                    group: settings.modelPackageGroup,
                    job: job.name,
                    datasetId: job.datasetId,
                    modelUrl,
                    evaluationUrl: `s3://${settings.modelBucket}/${outputDir}${EVALUATION_FILE}`,
                    inferenceImage: settings.inferenceImage,
                    figures,
                    verdict: sentence,
                }),
            ),
        );
        await putJsonObject(clients.s3, settings.modelBucket, `${outputDir}${REGISTERED_MARKER}`, {
            modelPackageArn: created.ModelPackageArn,
        });
        return created.ModelPackageArn!;
    });
    const notified = job.tuningJob
        ? undefined
        : await step(failures, "notify", () =>
              notifyOnce(clients, settings, `${outputDir}${NOTIFIED_MARKER}`, async () =>
                  completedNotice(job.name, figures, sentence, `npx bootboots deploy ${job.name}`),
              ),
          );
    return { job: job.name, stored, registered, notified, verdict: sentence };
}

/**
 * The job-events Lambda: on every finished job of the stack (EventBridge), stores its
 * evaluation beside the model, compares it with the serving model, registers it in the model
 * package group and tells the user; a repeated event does nothing twice, and a step that failed
 * is done by the retry.
 */
export async function handleJobEvent(
    clients: JobEventClients,
    settings: JobEventSettings,
    event: unknown,
): Promise<JobEventResult> {
    const job = parseJobEvent(event);
    if (!job) return { ignored: "not a finished training or tuning job" };
    const failures: string[] = [];
    let result: JobEventResult;
    if (job.kind === "training" && job.status === "Completed") {
        result = await completedTrainingJob(clients, settings, job, failures);
    } else if (job.kind === "training") {
        const notified = job.tuningJob
            ? undefined
            : await step(failures, "notify", () =>
                  notifyOnce(
                      clients,
                      settings,
                      `${TRAINING_OUTPUT_PREFIX}${job.name}/output/${NOTIFIED_MARKER}`,
                      async () => failedNotice(job.name, job.status, job.failureReason, "Training"),
                  ),
              );
        result = { job: job.name, notified };
    } else {
        const marker = `${TRAINING_OUTPUT_PREFIX}${job.name}/${NOTIFIED_MARKER}`;
        const notified = await step(failures, "notify", () =>
            notifyOnce(clients, settings, marker, async () => {
                if (job.status !== "Completed" || !job.bestJob)
                    return failedNotice(job.name, job.status, job.failureReason, "Tuning");
                const files = await jobFiles(clients, settings, `${TRAINING_OUTPUT_PREFIX}${job.bestJob}/output/`);
                const sentence = files.evaluation
                    ? await verdictAgainstServing(clients, settings, job.bestJob, files)
                    : "Its best job left no evaluation.json, so it was not compared.";
                return tuningNotice(
                    job.name,
                    job.bestJob,
                    figuresOf(files.evaluation, files.decision),
                    sentence,
                    `npx bootboots deploy ${job.name}`,
                );
            }),
        );
        result = { job: job.name, notified };
    }
    console.log(JSON.stringify(result));
    // Lambda retries a failed asynchronous invocation: the steps done are not done again.
    if (failures.length) throw new Error(`Not done for ${job.name}: ${failures.join(", ")}; the retry completes it.`);
    return result;
}
