import { contract } from "../../lib/contract";
import { TRIGGER_EVENT_DEFAULTS, TUNE_DEFAULTS, TriggerResult, tuningJobName } from "../../lib/triggerEvent";
import { CliContext } from "../context";
import { CliError, explainAwsError } from "../errors";
import { TriggerOptions, invokeTrigger, sendTrigger, triggerPayload } from "../aws/trigger";

export interface TuneOptions extends TriggerOptions {
    readonly maxJobs?: number;
    readonly parallel?: number;
    readonly maxRuntime?: number;
    readonly yes?: boolean;
    readonly async?: boolean;
    readonly json?: boolean;
}

/** The on-demand price per hour of a training instance in a region, from the AWS Price List API, or why it is unknown. */
export async function trainingPricePerHour(
    context: CliContext,
    region: string,
    instanceType: string,
): Promise<number | string> {
    const { GetProductsCommand } = await import("@aws-sdk/client-pricing");
    let priceList: string[];
    try {
        const page = await context.aws.pricing.send(
            new GetProductsCommand({
                ServiceCode: "AmazonSageMaker",
                Filters: [
                    { Type: "TERM_MATCH", Field: "regionCode", Value: region },
                    { Type: "TERM_MATCH", Field: "instanceName", Value: instanceType },
                    { Type: "TERM_MATCH", Field: "component", Value: "Training" },
                ],
                MaxResults: 10,
            }),
        );
        priceList = (page.PriceList ?? []) as string[];
    } catch (error) {
        return `the AWS Price List could not be read (${explainAwsError(error, "reading prices").message})`;
    }
    for (const entry of priceList) {
        // The SDK may hand each entry as a lazy JSON string object: its text is the product.
        const product = JSON.parse(String(entry)) as PriceListProduct | null;
        for (const term of Object.values(product?.terms?.OnDemand ?? {})) {
            for (const dimension of Object.values(term.priceDimensions ?? {})) {
                const usd = Number(dimension?.pricePerUnit?.USD);
                if (dimension?.unit?.toLowerCase().startsWith("hr") && usd > 0) return usd;
            }
        }
    }
    return `the AWS Price List has no on-demand training price for ${instanceType} in ${region}`;
}

/** The parts of a Price List product that hold its on-demand hourly price. */
interface PriceListProduct {
    readonly terms?: {
        readonly OnDemand?: Record<
            string,
            {
                readonly priceDimensions?: Record<
                    string,
                    { readonly unit?: string; readonly pricePerUnit?: { readonly USD?: string } }
                >;
            }
        >;
    };
}

/** The worst case of a tuning job: every training job runs to its time limit, on demand. */
export interface TuningCost {
    readonly instanceType: string;
    readonly region: string;
    readonly maxJobs: number;
    readonly maxRuntimeSeconds: number;
    readonly instanceHours: number;
    readonly pricePerHourUsd: number | null;
    readonly costUsd: number | null;
    readonly priceUnknownBecause: string | null;
    readonly limitUsd: number;
}

async function worstCase(context: CliContext, options: TuneOptions, maxJobs: number): Promise<TuningCost> {
    const instanceType = (await context.stack.optionalOutput("trainingInstanceType")) as string | undefined;
    if (!instanceType) throw new CliError("The stack has no output trainingInstanceType: run 'pulumi up' first.");
    const region = await context.aws.sagemaker.config.region();
    const maxRuntimeSeconds = options.maxRuntime ?? TRIGGER_EVENT_DEFAULTS.maxRuntimeSeconds;
    const instanceHours = (maxJobs * maxRuntimeSeconds) / 3600;
    const price = await trainingPricePerHour(context, region, instanceType);
    const limit = Number((await context.stack.optionalOutput("maxTuningCostUsd")) ?? contract.tuning.maxTuningCostUsd);
    return {
        instanceType,
        region,
        maxJobs,
        maxRuntimeSeconds,
        instanceHours,
        pricePerHourUsd: typeof price === "number" ? price : null,
        costUsd: typeof price === "number" ? instanceHours * price : null,
        priceUnknownBecause: typeof price === "string" ? price : null,
        limitUsd: limit,
    };
}

/** Shows the worst case, then starts a tuning job through the trigger, asking for --yes above the stack's limit. */
/** The worst case in one line, and a refusal when it is above the limit or unknown, unless --yes. */
function checkWorstCase(
    cost: TuningCost,
    maxJobs: number,
    yes: boolean | undefined,
    say: (line: string) => void,
): void {
    say(
        `Worst case: ${maxJobs} training jobs on ${cost.instanceType}, each up to ${(cost.maxRuntimeSeconds / 3600).toFixed(1)} h: ` +
            `${cost.instanceHours.toFixed(1)} instance-hours` +
            (cost.costUsd !== null
                ? `, $${cost.costUsd.toFixed(2)} at the on-demand price in ${cost.region} ($${cost.pricePerHourUsd!.toFixed(3)}/h; spot costs less).`
                : "."),
    );
    if (cost.priceUnknownBecause) say(`No price: ${cost.priceUnknownBecause}.`);
    if (yes || (cost.costUsd !== null && cost.costUsd <= cost.limitUsd)) return;
    const why =
        cost.costUsd === null
            ? "its cost is unknown"
            : `$${cost.costUsd.toFixed(2)} is above maxTuningCostUsd ($${cost.limitUsd.toFixed(2)})`;
    throw new CliError(
        `Nothing was started: ${why}. Add --yes to start it anyway, or lower --max-jobs or --max-runtime.`,
    );
}

/** An asynchronous start: the name the tuning job will have. */
async function tuneAsync(context: CliContext, functionName: string, payload: object, cost: TuningCost, json?: boolean) {
    const requestId = (await sendTrigger(context, functionName, payload, true)).$metadata.requestId;
    const name = requestId ? tuningJobName(requestId) : undefined;
    if (json)
        return context.out(
            JSON.stringify({ accepted: true, requestId, tuningJobName: name, worstCase: cost }, null, 2),
        );
    context.out(
        `Tuning requested (asynchronous invocation accepted). The tuning job will be ${name} once data prep is done.`,
    );
    context.out(`Next: npx bootboots status ${name} --watch`);
}

export async function tune(context: CliContext, options: TuneOptions): Promise<void> {
    const maxJobs = options.maxJobs ?? TUNE_DEFAULTS.maxJobs;
    const parallelJobs = options.parallel ?? Math.min(TUNE_DEFAULTS.parallelJobs, maxJobs);
    if (parallelJobs > maxJobs)
        throw new CliError(
            `--parallel ${parallelJobs} is more than --max-jobs ${maxJobs}: it must be at most that.`,
            2,
        );
    const cost = await worstCase(context, options, maxJobs);
    checkWorstCase(cost, maxJobs, options.yes, (line) => (options.json ? context.err(line) : context.out(line)));

    const functionName = await context.stack.name("triggerFunction");
    const payload = {
        ...triggerPayload(options),
        tune: { maxJobs, parallelJobs },
        ...(options.maxRuntime ? { maxRuntimeSeconds: options.maxRuntime } : {}),
    };
    if (options.async) return tuneAsync(context, functionName, payload, cost, options.json);
    const result = await invokeTrigger<TriggerResult>(context, functionName, payload);
    if (!result.success) throw new CliError(`Tuning was not started: ${result.error}`);
    if (!("tuningJobName" in result))
        throw new CliError(
            `The trigger started training job ${result.trainingJobName}, not a tuning job: is the deployed trigger up to date? Run 'pulumi up'.`,
        );
    if (options.json) return context.out(JSON.stringify({ ...result, worstCase: cost }, null, 2));
    context.out(
        `Tuning job ${result.tuningJobName}${result.alreadyStarted ? " (already started by this request)" : ""} on dataset ${result.datasetId}: up to ${result.maxJobs} training jobs, ${result.parallelJobs} at a time.`,
    );
    context.out(`Console: ${result.consoleUrl}`);
    context.out(`Next: npx bootboots status ${result.tuningJobName} --watch`);
    context.out(
        `Then: npx bootboots deploy ${result.tuningJobName}   (its best training job, through the promotion gate)`,
    );
}
