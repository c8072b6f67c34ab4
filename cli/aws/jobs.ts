import { awsErrorName } from "../../lib/errors";
import {
    DescribeEndpointCommand,
    DescribeHyperParameterTuningJobCommand,
    DescribeHyperParameterTuningJobResponse,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    DescribeTrainingJobCommand,
    DescribeTrainingJobResponse,
    ListTrainingJobsCommand,
} from "@aws-sdk/client-sagemaker";
import { OUTPUT_ARCHIVE, jobFileSources, readJobFiles } from "../../lib/jobFiles";
import { TRAINING_JOB_NAME_PREFIX, TRAINING_OUTPUT_PREFIX } from "../../lib/layout";
import { TUNING_JOB_NAME_PATTERN } from "../../lib/triggerEvent";
import { Decision, JobEvaluation } from "../../lib/comparison";
import { CliContext } from "../context";
import { CliError, NotFoundError, explainAwsError } from "../errors";
import { getObjectBytes } from "./s3json";

/** The job named, or the newest bootboots job (the newest completed one with `completed`). */
export async function jobName(context: CliContext, given?: string, completed = false): Promise<string> {
    if (given) return given;
    try {
        const page = await context.aws.sagemaker.send(
            new ListTrainingJobsCommand({
                NameContains: TRAINING_JOB_NAME_PREFIX,
                SortBy: "CreationTime",
                SortOrder: "Descending",
                MaxResults: 1,
                ...(completed ? { StatusEquals: "Completed" as const } : {}),
            }),
        );
        const newest = page.TrainingJobSummaries?.[0]?.TrainingJobName;
        if (!newest) {
            const region = await context.aws.sagemaker.config.region();
            throw new CliError(
                `No ${completed ? "completed " : ""}BootBoots training job in region ${region}: if the stack is in another region, ` +
                    `set AWS_REGION to it; otherwise start one with npx bootboots train.`,
            );
        }
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
        if (awsErrorName(error) === "ValidationException") {
            throw new NotFoundError(
                `No training job named ${name}: list them with 'aws sagemaker list-training-jobs' or leave the name out for the newest.`,
            );
        }
        throw explainAwsError(error, `describing training job ${name}`);
    }
}

/**
 * What train.py left for the job: evaluation.json and decision.json, read from the plain copies
 * beside model.tar.gz, or for jobs from before those were stored, out of output.tar.gz.
 */
export async function readJobOutput(
    context: CliContext,
    job: DescribeTrainingJobResponse,
): Promise<{ evaluation?: JobEvaluation; decision?: Decision }> {
    const model = job.ModelArtifacts?.S3ModelArtifacts;
    if (!model) throw new CliError(`Job ${job.TrainingJobName} reports no model artifact.`);
    const { bucket, outputDir } = jobFileSources(model);
    const read = (b: string, k: string) =>
        getObjectBytes(context.aws.s3, b, k, `s3://${b}/${k} was not found.`).catch((error) => {
            if (error instanceof NotFoundError) return undefined;
            throw error;
        });
    const files = await readJobFiles(read, { bucket, outputDir }, ["evaluation", "decision"]);
    if (files.source === "none") throw new NotFoundError(`s3://${bucket}/${outputDir}${OUTPUT_ARCHIVE} was not found.`);
    return { evaluation: files.evaluation, decision: files.decision };
}

/**
 * The training job whose model the endpoint serves now (endpoint → configuration → model →
 * its `training-output/<job>/…` URL), or undefined when no endpoint is deployed.
 */
export async function servingJobName(
    context: CliContext,
): Promise<{ jobName: string; modelDataUrl: string } | undefined> {
    const endpointName = await context.stack.name("endpoint").catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
    });
    if (!endpointName) return undefined;
    const sagemaker = context.aws.sagemaker;
    let modelDataUrl: string | undefined;
    try {
        const endpoint = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
        const config = await sagemaker.send(
            new DescribeEndpointConfigCommand({ EndpointConfigName: endpoint.EndpointConfigName }),
        );
        const model = await sagemaker.send(
            new DescribeModelCommand({ ModelName: config.ProductionVariants?.[0]?.ModelName }),
        );
        modelDataUrl = model.PrimaryContainer?.ModelDataUrl;
    } catch (error) {
        if (awsErrorName(error) === "ValidationException" && /could not find/i.test((error as Error).message))
            return undefined;
        throw explainAwsError(error, `finding the model that endpoint ${endpointName} serves`);
    }
    const job = new RegExp(`${TRAINING_OUTPUT_PREFIX}([^/]+)/output/model\\.tar\\.gz$`).exec(modelDataUrl ?? "")?.[1];
    if (!job || !modelDataUrl) {
        throw new CliError(
            `Endpoint ${endpointName} serves ${modelDataUrl ?? "no model data"}, which is not a BootBoots training job's model.`,
        );
    }
    return { jobName: job, modelDataUrl };
}

/** The serving model's decision threshold for the target class, or why there is none (never fatal: the classes still come). */
export async function servingDecision(context: CliContext): Promise<Decision | string> {
    try {
        const serving = await servingJobName(context);
        if (!serving) return "no model is serving";
        const { decision } = await readJobOutput(context, await describeJob(context, serving.jobName));
        return (
            decision ?? `the serving model (${serving.jobName}) has no decision threshold (it was trained before them)`
        );
    } catch (error) {
        if (error instanceof CliError) return `the serving model's threshold could not be read (${error.message})`;
        throw error;
    }
}

/** A tuning job, described; a missing one is named. */
export async function describeTuningJob(
    context: CliContext,
    name: string,
): Promise<DescribeHyperParameterTuningJobResponse> {
    try {
        return await context.aws.sagemaker.send(
            new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name }),
        );
    } catch (error) {
        const code = awsErrorName(error);
        if (code === "ResourceNotFound" || code === "ValidationException") {
            throw new NotFoundError(`No tuning job named ${name}: start one with npx bootboots tune.`);
        }
        throw explainAwsError(error, `describing tuning job ${name}`);
    }
}

/** The name of the training job to deploy for a name given: a tuning job's best training job, or the name itself. */
export async function deployableJobName(context: CliContext, name: string): Promise<string> {
    if (!TUNING_JOB_NAME_PATTERN.test(name)) return name;
    const tuning = await describeTuningJob(context, name);
    const best = tuning.BestTrainingJob?.TrainingJobName;
    if (!best) {
        throw new CliError(
            `Tuning job ${name} (${tuning.HyperParameterTuningJobStatus}) has no completed training job yet: follow it with npx bootboots status ${name} --watch.`,
        );
    }
    context.err(
        `Tuning job ${name}: its best training job is ${best} (${tuning.BestTrainingJob?.FinalHyperParameterTuningJobObjectiveMetric?.MetricName} ${tuning.BestTrainingJob?.FinalHyperParameterTuningJobObjectiveMetric?.Value}).`,
    );
    return best;
}
