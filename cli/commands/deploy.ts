import { CliContext } from "../context";
import { CliError } from "../errors";
import { significantlyWorse } from "../../lib/comparison";
import { deployableJobName, describeJob, jobName } from "../aws/jobs";
import { CompareOutcome, compareJobs, comparisonTable } from "../jobComparison";
import { PulumiMissing, deployCommands, pulumiUp, setConfig, upCommand } from "../aws/pulumi";
import { setApproval } from "../aws/registry";

export interface DeployOptions {
    readonly up: boolean;
    /** Deploy even a model significantly worse than the one serving. */
    readonly force?: boolean;
    readonly json?: boolean;
}

/**
 * The promotion gate: compares the job with the model serving now and refuses one that is
 * significantly worse on macro-F1, the target class's recall or its false-alarm rate.
 */
async function promotionGate(
    context: CliContext,
    name: string,
    options: DeployOptions,
    say: (line: string) => void,
): Promise<CompareOutcome> {
    const outcome = await compareJobs(context, name);
    if (outcome.kind === "nothing serving") {
        say("No model is serving yet: nothing to compare with.");
    } else if (outcome.kind === "not comparable") {
        say(`Not compared with the serving model ${outcome.baseline}: ${outcome.reason}.`);
    } else if (outcome.kind === "serving already") {
        say(`${name} is the model serving now.`);
    } else {
        const comparison = outcome.comparison;
        if (!options.json) context.out(comparisonTable(comparison));
        const worse = significantlyWorse(comparison);
        if (worse.length === 0) {
            say(`Gate passed: ${name} is not significantly worse than ${comparison.baseline}.`);
        } else if (options.force) {
            say(
                `--force: deploying ${name} although it is significantly worse than ${comparison.baseline} on ${worse.join("; ")}.`,
            );
        } else {
            const refusal = `${name} is significantly worse than the serving model ${comparison.baseline} on ${worse.join("; ")}`;
            await setApproval(context, name, "Rejected", `Refused by the promotion gate: ${refusal}.`, say);
            if (options.json) context.out(JSON.stringify({ deployed: false, gate: outcome }, null, 2));
            throw new CliError(
                `${refusal}; nothing was deployed. Deploy it anyway with npx bootboots deploy ${name} --force.`,
            );
        }
    }
    return outcome;
}

export async function deploy(context: CliContext, job: string | undefined, options: DeployOptions): Promise<void> {
    const name = await deployableJobName(context, await jobName(context, job));
    const described = await describeJob(context, name);
    if (described.TrainingJobStatus !== "Completed") {
        const why = described.FailureReason ? `: ${described.FailureReason}` : "";
        const next =
            described.TrainingJobStatus === "InProgress" || described.TrainingJobStatus === "Stopping"
                ? `wait for it with npx bootboots status ${name} --watch`
                : "train again with npx bootboots train";
        throw new CliError(
            `Job ${name} is ${described.TrainingJobStatus} (${described.SecondaryStatus})${why}; nothing was deployed: ${next}.`,
        );
    }
    const modelDataUrl = described.ModelArtifacts?.S3ModelArtifacts;
    if (!modelDataUrl) throw new CliError(`Job ${name} reports no model artifact.`);
    // With --json, stdout is the JSON document alone: the notes go to stderr.
    const say = (line: string) => (options.json ? context.err(line) : context.out(line));
    const gate = await promotionGate(context, name, options, say);
    try {
        await setConfig(context.stack.stack, "modelDataUrl", modelDataUrl);
    } catch (error) {
        if (!(error instanceof PulumiMissing)) throw error;
        throw new CliError(
            `The pulumi CLI is not installed or not on PATH, so nothing was deployed. Install it (https://www.pulumi.com/docs/install/), ` +
                `then run: ${deployCommands(context.stack.stack, modelDataUrl)}`,
        );
    }
    say(`Set modelDataUrl = ${modelDataUrl}`);
    await setApproval(
        context,
        name,
        "Approved",
        `Deployed with bootboots deploy${options.force ? " --force" : ""}.`,
        say,
    );
    if (options.up) {
        say(`Running ${upCommand(context.stack.stack)} ...`);
        await pulumiUp(context.stack.stack, options.json === true);
    } else {
        say(`Next: ${upCommand(context.stack.stack)}`);
    }
    if (options.json)
        context.out(
            JSON.stringify(
                { deployed: true, trainingJobName: name, modelDataUrl, pulumiUp: options.up, gate },
                null,
                2,
            ),
        );
}
