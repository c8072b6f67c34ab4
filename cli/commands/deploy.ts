import { CliContext } from "../context";
import { CliError } from "../errors";
import { describeJob, jobName } from "../jobs";
import { pulumiUp, setConfig, upCommand } from "../pulumi";

export interface DeployOptions {
    readonly up: boolean;
}

export async function deploy(context: CliContext, job: string | undefined, options: DeployOptions): Promise<void> {
    const name = await jobName(context, job);
    const described = await describeJob(context, name);
    if (described.TrainingJobStatus !== "Completed") {
        const why = described.FailureReason ? `: ${described.FailureReason}` : "";
        const next =
            described.TrainingJobStatus === "InProgress" || described.TrainingJobStatus === "Stopping"
                ? `wait for it with npx bootboots status ${name} --watch`
                : "train again with npx bootboots train";
        throw new CliError(`Job ${name} is ${described.TrainingJobStatus} (${described.SecondaryStatus})${why}; nothing was deployed: ${next}.`);
    }
    const modelDataUrl = described.ModelArtifacts?.S3ModelArtifacts;
    if (!modelDataUrl) throw new CliError(`Job ${name} reports no model artifact.`);
    await setConfig(context.stack.stack, "modelDataUrl", modelDataUrl);
    context.out(`Set modelDataUrl = ${modelDataUrl}`);
    if (!options.up) {
        context.out(`Next: ${upCommand(context.stack.stack)}`);
        return;
    }
    context.out(`Running ${upCommand(context.stack.stack)} ...`);
    await pulumiUp(context.stack.stack);
}
