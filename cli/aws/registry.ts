import { NotFoundError, explainAwsError } from "../errors";
import { CliContext } from "../context";
import { getObjectJson } from "./s3json";
import { RETRAIN_CHECK_KEY, TRAINING_OUTPUT_PREFIX } from "../../lib/layout";
import { awsErrorName } from "../../lib/errors";
import { FAILED_EVENT_DAYS } from "../../lib/failedEvents";
import { RetrainCheck } from "../../lib/retrain";

/** A job's version in the model package group, as the job-events function registered it. */
export interface RegisteredVersion {
    readonly arn: string;
    readonly version?: number;
    readonly approval?: string;
    readonly description?: string;
}

/** The version the job-events function registered for a job, or undefined (an older job, or its event not handled yet). */
export async function registeredVersion(context: CliContext, job: string): Promise<RegisteredVersion | undefined> {
    const bucket = await context.stack.name("modelBucket");
    const marker = await getObjectJson<{ modelPackageArn: string }>(
        context.aws.s3,
        bucket,
        `${TRAINING_OUTPUT_PREFIX}${job}/output/model-package.json`,
        `${job} is not in the model registry.`,
    ).catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
    });
    if (!marker) return undefined;
    const { DescribeModelPackageCommand } = await import("@aws-sdk/client-sagemaker");
    try {
        const described = await context.aws.sagemaker.send(
            new DescribeModelPackageCommand({ ModelPackageName: marker.modelPackageArn }),
        );
        return {
            arn: marker.modelPackageArn,
            version: described.ModelPackageVersion,
            approval: described.ModelApprovalStatus,
            description: described.ApprovalDescription,
        };
    } catch (error) {
        throw explainAwsError(error, `reading the model package ${marker.modelPackageArn}`);
    }
}

/** One line on a job's version: "Model registry: bootboots version 3, Approved". */
export function registryLine(version: RegisteredVersion | undefined): string {
    if (!version)
        return "Model registry: not registered (trained before the registry, or the job-events function has not handled it yet).";
    const group = version.arn.split("/").at(-2);
    return `Model registry: ${group} version ${version.version ?? "?"}, ${version.approval ?? "unknown"}${version.description ? ` (${version.description})` : ""}.`;
}

/** Marks a job's version Approved (deployed) or Rejected (refused by the gate, with the reason); says when there is none. */
export async function setApproval(
    context: CliContext,
    job: string,
    status: "Approved" | "Rejected",
    description: string,
    say: (line: string) => void,
): Promise<void> {
    const version = await registeredVersion(context, job);
    if (!version) return say(registryLine(undefined));
    const { UpdateModelPackageCommand } = await import("@aws-sdk/client-sagemaker");
    try {
        await context.aws.sagemaker.send(
            new UpdateModelPackageCommand({
                ModelPackageArn: version.arn,
                ModelApprovalStatus: status,
                // The API caps the description at 1,024 characters.
                ApprovalDescription: description.slice(0, 1024),
            }),
        );
    } catch (error) {
        throw explainAwsError(error, `marking ${version.arn} ${status}`);
    }
    say(`Model registry: version ${version.version ?? "?"} of ${job} marked ${status}.`);
}

/** The scheduled retraining check's last record, or undefined when it never ran. */
export async function lastRetrainCheck(context: CliContext): Promise<RetrainCheck | undefined> {
    const bucket = await context.stack.name("trainingBucket");
    return getObjectJson<RetrainCheck>(context.aws.s3, bucket, RETRAIN_CHECK_KEY, "No retraining check yet.").catch(
        (error) => {
            if (error instanceof NotFoundError) return undefined;
            throw error;
        },
    );
}

/** The events no retry could process, kept in the stack's queue (docs/design.md §12); undefined for a stack from before it. */
export async function failedEvents(context: CliContext): Promise<{ queueUrl: string; count: number } | undefined> {
    const queueUrl = await context.stack.optionalOutput("failedEventsQueueUrl");
    if (typeof queueUrl !== "string" || !queueUrl) return undefined;
    const { GetQueueAttributesCommand } = await import("@aws-sdk/client-sqs");
    try {
        const attributes = await context.aws.sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
        );
        return { queueUrl, count: Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) };
    } catch (error) {
        // A queue the stack no longer has (or not yet): nothing to count.
        if (/QueueDoesNotExist|NonExistentQueue/.test(awsErrorName(error))) return undefined;
        throw explainAwsError(error, `counting the failed events in ${queueUrl}`);
    }
}

/** One line on them: none, or how many, where, and how to read them. */
export function failedEventsLine(failed: { queueUrl: string; count: number }): string {
    return failed.count === 0
        ? "Failed events: none (every asynchronous event of the stack was processed)."
        : `Failed events: ${failed.count} that no retry could process, kept ${FAILED_EVENT_DAYS} days in ${failed.queueUrl} (aws sqs receive-message --queue-url ${failed.queueUrl}); the jobs topic named each one.`;
}
