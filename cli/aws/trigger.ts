import { InvokeCommand, InvokeCommandOutput } from "@aws-sdk/client-lambda";
import { readInvokeResult } from "../../lib/invokeResult";
import { CliContext } from "../context";
import { CliError, explainAwsError } from "../errors";

/** The flags that shape a training job, shared by train and tune. */
export interface TriggerOptions {
    readonly epochs?: number;
    readonly learningRate?: number;
    readonly batchSize?: number;
    readonly trainOnlyTopLayer?: boolean;
    readonly spot: boolean;
    readonly skipDataPrep?: boolean;
    readonly dataset?: string;
}

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

/** The trigger payload (docs/design.md, "Trigger") from the command's flags; unset flags keep the trigger's defaults. */
export function triggerPayload(options: TriggerOptions): Record<string, unknown> {
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
