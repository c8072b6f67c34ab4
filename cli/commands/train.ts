import { InvokeCommand, InvokeCommandOutput } from "@aws-sdk/client-lambda";
import type { DataPrepResult } from "../../lib/dataset";
import type { ClassCounts } from "../../lib/dataset";
import { readInvokeResult } from "../../lib/invokeResult";
import { TriggerResult, trainingJobName } from "../../lib/triggerEvent";
import { CliContext } from "../context";
import { readManifest } from "../datasets";
import { CliError, EXIT, explainAwsError } from "../errors";
import { table } from "../format";

export interface TrainOptions {
    readonly epochs?: number;
    readonly learningRate?: number;
    readonly batchSize?: number;
    readonly trainOnlyTopLayer?: boolean;
    readonly spot: boolean;
    readonly skipDataPrep?: boolean;
    readonly dataset?: string;
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

/** Invokes a function: synchronously, or with `async` as an Event (Lambda answers at once). */
export async function sendTrigger(
    context: CliContext,
    functionName: string,
    payload: unknown,
    async: boolean,
): Promise<InvokeCommandOutput> {
    let response;
    try {
        response = await context.aws.lambda.send(
            new InvokeCommand({
                FunctionName: functionName,
                InvocationType: async ? "Event" : "RequestResponse",
                Payload: JSON.stringify(payload),
            }),
        );
    } catch (error) {
        throw explainAwsError(error, `invoking ${functionName}`);
    }
    return response;
}

/** Invokes a function synchronously and returns its result; a function error is a CliError. */
export async function invokeTrigger<T>(context: CliContext, functionName: string, payload: unknown): Promise<T> {
    const read = readInvokeResult<T>(await sendTrigger(context, functionName, payload, false));
    if ("functionError" in read) throw new CliError(`${functionName} failed (${read.functionError}): ${read.detail}`);
    return read.result;
}

export function countsTable(distribution: Readonly<Record<string, ClassCounts>>): string {
    // Datasets built before the test split have no test counts.
    const rows = Object.entries(distribution).map(([name, c]) => [
        name,
        c.available,
        c.training,
        c.validation,
        c.test ?? 0,
    ]);
    const total = (key: keyof ClassCounts) => Object.values(distribution).reduce((sum, c) => sum + (c[key] ?? 0), 0);
    return table(
        ["class", "labelled", "training", "validation", "test"],
        [...rows, ["total", total("available"), total("training"), total("validation"), total("test")]],
    );
}

/** The trigger payload (docs/design.md, "Trigger") from the command's flags; unset flags keep the trigger's defaults. */
export function triggerPayload(options: TrainOptions): Record<string, unknown> {
    const payload: Record<string, unknown> = {
        epochs: options.epochs,
        learningRate: options.learningRate,
        batchSize: options.batchSize,
        trainOnlyTopLayer: options.trainOnlyTopLayer,
        skipDataPrep: options.skipDataPrep || options.dataset !== undefined || undefined,
        datasetId: options.dataset,
        spot: options.spot ? undefined : false,
    };
    return Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
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
