import { DescribeTrainingJobCommand, DescribeTrainingJobResponse, ListTrainingJobsCommand } from "@aws-sdk/client-sagemaker";
import { TRAINING_JOB_NAME_PREFIX } from "../lib/layout";
import { CliContext } from "./context";
import { CliError, explainAwsError } from "./errors";

export const TERMINAL_STATUSES = ["Completed", "Failed", "Stopped"];

/** The job named, or the newest bootboots job. */
export async function jobName(context: CliContext, given?: string): Promise<string> {
    if (given) return given;
    try {
        const page = await context.aws.sagemaker.send(
            new ListTrainingJobsCommand({ NameContains: TRAINING_JOB_NAME_PREFIX, SortBy: "CreationTime", SortOrder: "Descending", MaxResults: 1 }),
        );
        const newest = page.TrainingJobSummaries?.[0]?.TrainingJobName;
        if (!newest) throw new CliError("No BootBoots training job yet: start one with npx bootboots train.");
        return newest;
    } catch (error) {
        if (error instanceof CliError) throw error;
        throw explainAwsError(error, "listing training jobs");
    }
}

export async function describeJob(context: CliContext, name: string): Promise<DescribeTrainingJobResponse> {
    try {
        return await context.aws.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: name }));
    } catch (error) {
        if ((error as { name?: string }).name === "ValidationException") {
            throw new CliError(`No training job named ${name}: list them with 'aws sagemaker list-training-jobs' or leave the name out for the newest.`);
        }
        throw explainAwsError(error, `describing training job ${name}`);
    }
}

/** `s3://bucket/key` to its parts. */
export function parseS3Url(url: string): { bucket: string; key: string } {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (!match) throw new CliError(`Not an S3 URL: ${url}`);
    return { bucket: match[1], key: match[2] };
}
