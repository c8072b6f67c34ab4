import type { DataPrepResult } from "../../lib/dataset";
import type { ClassCounts, SideCounts } from "../../lib/dataset";
import { TriggerResult, trainingJobName } from "../../lib/triggerEvent";
import { CliContext } from "../context";
import { readManifest } from "../aws/datasets";
import { CliError, EXIT } from "../errors";
import { table } from "../format";
import { TriggerOptions, invokeTrigger, sendTrigger, triggerPayload } from "../aws/trigger";

export interface TrainOptions extends TriggerOptions {
    readonly async?: boolean;
    readonly dryRun?: boolean;
    readonly json?: boolean;
}

/** The flags that shape a training job, which a dry run (data prep alone) cannot use. */
const JOB_FLAGS: Partial<Record<keyof TrainOptions, string>> = {
    epochs: "--epochs",
    learningRate: "--learning-rate",
    batchSize: "--batch-size",
    trainOnlyTopLayer: "--train-only-top-layer",
    skipDataPrep: "--skip-data-prep",
    dataset: "--dataset",
    async: "--async",
};

export function countsTable(distribution: Readonly<Record<string, ClassCounts>>): string {
    type Counted = "available" | "training" | "validation" | "test";
    // Datasets built before the test split have no test counts, and before the grouped split no visits.
    const visits = (groups: SideCounts | undefined) =>
        groups ? `${groups.training}/${groups.validation}/${groups.test}` : "-";
    const rows = Object.entries(distribution).map(([name, c]) => [
        name,
        c.available,
        c.training,
        c.validation,
        c.test ?? 0,
        visits(c.groups),
    ]);
    const total = (key: Counted) => Object.values(distribution).reduce((sum, c) => sum + (c[key] ?? 0), 0);
    const totalVisits = (side: keyof SideCounts) =>
        Object.values(distribution).reduce((sum, c) => sum + (c.groups?.[side] ?? 0), 0);
    const hasVisits = Object.values(distribution).every((c) => c.groups);
    return table(
        ["class", "labelled", "training", "validation", "test", "visits (t/v/t)"],
        [
            ...rows,
            [
                "total",
                total("available"),
                total("training"),
                total("validation"),
                total("test"),
                hasVisits ? `${totalVisits("training")}/${totalVisits("validation")}/${totalVisits("test")}` : "-",
            ],
        ],
    );
}

async function dryRun(context: CliContext, options: TrainOptions): Promise<void> {
    const given = Object.entries(JOB_FLAGS)
        .filter(([key]) => options[key as keyof TrainOptions] !== undefined)
        .map(([, flag]) => flag);
    if (!options.spot) given.push("--no-spot");
    if (given.length > 0) {
        throw new CliError(
            `--dry-run only counts the images data prep would use, so ${given.join(", ")} would do nothing: leave ${given.length > 1 ? "them" : "it"} out.`,
            EXIT.usage,
        );
    }
    const functionName = await context.stack.name("dataPrepFunction");
    const result = await invokeTrigger<DataPrepResult>(context, functionName, { dryRun: true });
    if (!result.success) throw new CliError(`Data prep (dry run) failed: ${result.error}`);
    if (options.json) return context.out(JSON.stringify(result, null, 2));
    context.out(
        `Dry run: nothing was written. ${result.trainingImages} training, ${result.validationImages} validation and ${result.testImages} test images.`,
    );
    context.out(countsTable(result.classDistribution));
    context.out(`Repaired JPEGs (end marker added): ${result.repairedImages}`);
    context.out(`Unlabelled (the backlog; npx bootboots suggest, then label): ${result.unlabelledImages}`);
    context.out(`Skipped: ${result.skippedCount}`);
    const byReason = new Map<string, string[]>();
    for (const s of result.skipped) {
        const reason = s.reason.replace(/ s3:\/\/\S+/, "").replace(/ \(classes: .*\)$/, "");
        byReason.set(reason, [...(byReason.get(reason) ?? []), s.imageName]);
    }
    for (const [reason, names] of byReason)
        context.out(`  ${reason}: ${names.length} (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""})`);
    if (result.skippedCount > result.skipped.length) {
        context.out(`  (${result.skippedCount - result.skipped.length} more are listed in the manifest of a real run)`);
    }
}

/** The hyperparameters train.py reads, without the toolkit's own (sagemaker_*). */
function hyperparameterLine(hyperParameters: Record<string, string>): string {
    return Object.entries(hyperParameters)
        .filter(([key]) => !key.startsWith("sagemaker_"))
        .map(([key, value]) => `${key}=${value}`)
        .join(" ");
}

export async function train(context: CliContext, options: TrainOptions): Promise<void> {
    if (options.dryRun) return dryRun(context, options);
    const functionName = await context.stack.name("triggerFunction");
    const payload = triggerPayload(options);
    if (options.async) {
        const response = await sendTrigger(context, functionName, payload, true);
        // Lambda runs an asynchronous event under the request id it answered with, and the trigger names the job after it.
        const requestId = response.$metadata.requestId;
        const jobName = requestId ? trainingJobName(requestId) : undefined;
        if (options.json)
            return context.out(JSON.stringify({ accepted: true, requestId, trainingJobName: jobName }, null, 2));
        context.out(`Training requested (asynchronous invocation of ${functionName} accepted, request ${requestId}).`);
        if (jobName) {
            context.out(`The job will be ${jobName} once data prep is done.`);
            context.out(`Next: npx bootboots status ${jobName} --watch`);
        } else {
            context.out("Next: npx bootboots status --watch");
        }
        return;
    }
    context.err(
        options.skipDataPrep || options.dataset
            ? "Starting the training job..."
            : "Preparing the dataset and starting the training job...",
    );
    const result = await invokeTrigger<TriggerResult>(context, functionName, payload);
    if (!result.success) throw new CliError(`Training was not started: ${result.error}`);
    if (!("trainingJobName" in result))
        throw new CliError(
            `The trigger started tuning job ${result.tuningJobName}, not a training job: see npx bootboots status ${result.tuningJobName}.`,
        );
    if (options.json) return context.out(JSON.stringify(result, null, 2));
    const distribution =
        result.dataPrep && result.dataPrep.success
            ? result.dataPrep.classDistribution
            : (await readManifest(context, result.datasetId)).classDistribution;
    context.out(
        `Training job ${result.trainingJobName}${result.alreadyStarted ? " (already started by this request)" : ""} on dataset ${result.datasetId}`,
    );
    context.out(countsTable(distribution));
    context.out(`Hyperparameters sent: ${hyperparameterLine(result.hyperParameters)}`);
    context.out(`Console: ${result.consoleUrl}`);
    context.out(`Next: npx bootboots status ${result.trainingJobName} --watch`);
    context.out(`Then: npx bootboots deploy ${result.trainingJobName}`);
}
