import { DescribeTrainingJobCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { datasetIdOfChannels } from "./dataset";
import { awsErrorName } from "./errors";

/** What the stack, the Lambdas and the CLI say alike of a SageMaker job: its tags, when it has ended, where it logs. */

/** The tags the trigger puts on every job; a tuning job's training jobs inherit them. */
export const JOB_TAGS = {
    /** Which project started it (the value is PROJECT_NAME). */
    project: "project",
    /** The Pulumi stack: the job-events rules match it, so that only this stack's jobs reach its function. */
    stack: "bootboots:stack",
    /** The dataset it trains on. */
    datasetId: "bootboots:datasetId",
    /** The trigger invocation that named it. */
    requestId: "bootboots:requestId",
} as const;

export const PROJECT_NAME = "bootboots-ai";

/** A job in one of these states has ended: its event is sent, its status no longer changes. */
export const TERMINAL_JOB_STATUSES = ["Completed", "Failed", "Stopped"] as const;
export type TerminalJobStatus = (typeof TERMINAL_JOB_STATUSES)[number];

export function hasEnded(status: string | undefined): status is TerminalJobStatus {
    return (TERMINAL_JOB_STATUSES as readonly string[]).includes(status ?? "");
}

/** Where SageMaker writes every training job's log (streams `<job>/…`). */
export const TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs";
/** Where SageMaker writes every endpoint's log. */
export const ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints";

/** The dataset a job trained on (its training channel), or undefined when there is no such job, or it names none. */
export async function datasetOfJob(sagemaker: SageMakerClient, job: string): Promise<string | undefined> {
    try {
        const described = await sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: job }));
        return datasetIdOfChannels(described.InputDataConfig);
    } catch (error) {
        // SageMaker answers a job it does not have with a ValidationException.
        if (awsErrorName(error) === "ValidationException" || awsErrorName(error) === "ResourceNotFound")
            return undefined;
        throw error;
    }
}
