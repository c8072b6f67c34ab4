import { CliContext } from "../context";
import { CliError } from "../errors";
import { significantlyWorse } from "../comparison";
import { describeJob, jobName } from "../jobs";
import { compareJobs, comparisonTable } from "./compare";
import { pulumiUp, setConfig, upCommand } from "../pulumi";

export interface DeployOptions {
    readonly up: boolean;
    /** Deploy even a model significantly worse than the one serving. */
    readonly force?: boolean;
}

/**
 * The promotion gate: compares the job with the model serving now and refuses one that is
 * significantly worse on macro-F1, the target class's recall or its false-alarm rate.
 */
async function promotionGate(context: CliContext, name: string, force: boolean): Promise<void> {
    const outcome = await compareJobs(context, name);
    if (outcome.kind === "nothing serving") {
        context.out("No model is serving yet: nothing to compare with.");
        return;
    }
    if (outcome.kind === "not comparable") {
        context.out(`Not compared with the serving model ${outcome.baseline}: ${outcome.reason}.`);
        return;
    }
    const comparison = outcome.comparison;
    if (comparison.baseline === comparison.candidate) {
        context.out(`${name} is the model serving now.`);
        return;
    }
    context.out(comparisonTable(comparison));
    const worse = significantlyWorse(comparison);
    if (worse.length === 0) {
        context.out(`Gate passed: ${name} is not significantly worse than ${comparison.baseline}.`);
    } else if (force) {
        context.out(`--force: deploying ${name} although it is significantly worse than ${comparison.baseline} on ${worse.join("; ")}.`);
    } else {
        throw new CliError(
            `${name} is significantly worse than the serving model ${comparison.baseline} on ${worse.join("; ")}; nothing was deployed. ` +
                `Deploy it anyway with npx bootboots deploy ${name} --force.`,
        );
    }
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
    await promotionGate(context, name, options.force === true);
    await setConfig(context.stack.stack, "modelDataUrl", modelDataUrl);
    context.out(`Set modelDataUrl = ${modelDataUrl}`);
    if (!options.up) {
        context.out(`Next: ${upCommand(context.stack.stack)}`);
        return;
    }
    context.out(`Running ${upCommand(context.stack.stack)} ...`);
    await pulumiUp(context.stack.stack);
}
