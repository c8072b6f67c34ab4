import { awsErrorName } from "../../lib/errors";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { SingleBar } from "cli-progress";
import pLimit from "p-limit";
import { contract } from "../../lib/contract";
import { isJpeg } from "../../lib/jpeg";
import { servingRequestBody, modelErrorReason } from "../../lib/serving";
import type { S3Client } from "@aws-sdk/client-s3";
import { CliError, InputError, explainAwsError } from "../errors";
import { getObjectBytes } from "./s3json";

export interface Classification {
    readonly className: string;
    readonly confidence: number;
    /** Probability per class, in model-output order. */
    readonly probabilities: Record<string, number>;
}

/** The serverless endpoint's memory the cost estimates assume (the stack's default). */
const DEFAULT_ENDPOINT_MEMORY_GB = 2;

/** What scoring `requests` images costs, in words: `42 requests to endpoint bootboots, about $0.0002 (…)`. */
export function endpointCost(requests: number, endpointName: string): string {
    const usd =
        requests *
        contract.serving.approxSecondsPerRequest *
        DEFAULT_ENDPOINT_MEMORY_GB *
        contract.serving.approxUsdPerGbSecond;
    return (
        `${requests} requests to endpoint ${endpointName}, about $${usd.toFixed(4)} ` +
        `(${contract.serving.approxSecondsPerRequest} s each on a ${DEFAULT_ENDPOINT_MEMORY_GB} GB serverless endpoint)`
    );
}

/** The request body of the serving contract (docs/design.md, "Serving contract"), refused when it would break the payload limit. */
export function requestBody(image: Uint8Array, label: string): string {
    if (!isJpeg(image))
        throw new InputError(`${label} is not a JPEG (no FF D8 FF header): the endpoint takes JPEG images only.`);
    const body = servingRequestBody(image);
    if (body.length >= contract.serving.maxRequestBytes) {
        const limit = (contract.serving.maxRequestBytes / 1e6).toFixed(1);
        throw new InputError(
            `${label} makes a ${(body.length / 1e6).toFixed(1)} MB request, over the endpoint's ${limit} MB limit: resize it first.`,
        );
    }
    return body;
}

/** Sends one JPEG to the endpoint and reads the probabilities back in `classes` order. */
export async function classifyJpeg(
    client: SageMakerRuntimeClient,
    endpointName: string,
    image: Uint8Array,
    label: string,
    classes: readonly string[],
): Promise<Classification> {
    const body = requestBody(image, label);
    let responseText: string;
    try {
        const response = await client.send(
            new InvokeEndpointCommand({
                EndpointName: endpointName,
                ContentType: contract.serving.contentType,
                Accept: "application/json",
                Body: body,
            }),
        );
        responseText = Buffer.from(response.Body!).toString("utf8");
    } catch (error) {
        const name = awsErrorName(error);
        const message = (error as Error).message ?? "";
        if (name === "ValidationError" || name === "ValidationException") {
            if (/not found/i.test(message)) {
                throw new CliError(
                    `Endpoint ${endpointName} is not deployed (${message}): deploy a model with npx bootboots deploy.`,
                );
            }
        }
        if (name === "ModelError") throw new InputError(`${label}: ${modelErrorReason(message)}.`);
        throw explainAwsError(error, `classifying ${label} with endpoint ${endpointName}`);
    }
    const predictions = (JSON.parse(responseText) as Record<string, number[][]>)[contract.serving.predictionsKey];
    const row = predictions?.[0];
    if (!Array.isArray(row) || row.length !== classes.length) {
        throw new CliError(
            `Endpoint ${endpointName} answered ${row?.length ?? "no"} probabilities for ${classes.length} classes: ` +
                `is the deployed model trained on ${classes.join(", ")}?`,
        );
    }
    const best = row.indexOf(Math.max(...row));
    return {
        className: classes[best],
        confidence: row[best],
        probabilities: Object.fromEntries(classes.map((c, i) => [c, row[i]])),
    };
}

/**
 * Runs `work` on each item, `concurrency` at once, with a progress bar on a terminal. An item
 * whose own fault is an InputError (an image the endpoint refuses, one gone) is set aside
 * with its reason and the rest go on; any other fault (the endpoint, the account) stops all.
 */
export async function forEachImage<T, R>(
    items: readonly T[],
    concurrency: number,
    verb: string,
    work: (item: T) => Promise<R>,
): Promise<{ results: R[]; failed: { item: T; error: string }[] }> {
    const progress = new SingleBar({ format: `${verb} [{bar}] {value}/{total} images`, stream: process.stderr });
    progress.start(items.length, 0);
    const limit = pLimit(concurrency);
    const failed: { item: T; error: string }[] = [];
    try {
        const outcomes = await Promise.all(
            items.map((item) =>
                limit(async () => {
                    try {
                        return { result: await work(item) };
                    } catch (error) {
                        if (!(error instanceof InputError)) throw error;
                        failed.push({ item, error: error.message });
                        return undefined;
                    } finally {
                        progress.increment();
                    }
                }),
            ),
        );
        return { results: outcomes.flatMap((o) => (o ? [o.result] : [])), failed };
    } finally {
        progress.stop();
    }
}

/** Where the images to score are, and how: the endpoint, the class list, the requests in flight. */
export interface ScoringRun {
    readonly endpointName: string;
    readonly bucket: string;
    readonly classes: readonly string[];
    readonly concurrency: number;
    /** The progress bar's verb: "scoring", "evaluating". */
    readonly verb: string;
}

/**
 * The scoring loop of evaluate, suggest and review: each item's image read from S3 and sent to
 * the endpoint, `concurrency` at once; an image that is gone or refused is set aside with its
 * reason (forEachImage), the others' classifications handed to `take`.
 */
export async function scoreS3Images<T, R>(
    context: { readonly aws: { readonly s3: S3Client; readonly runtime: SageMakerRuntimeClient } },
    run: ScoringRun,
    items: readonly T[],
    imageOf: (item: T) => { readonly key: string; readonly label: string; readonly missing: string },
    take: (item: T, classification: Classification) => R,
): Promise<{ results: R[]; failed: { item: T; error: string }[] }> {
    return forEachImage(items, run.concurrency, run.verb, async (item) => {
        const { key, label, missing } = imageOf(item);
        const bytes = await getObjectBytes(context.aws.s3, run.bucket, key, missing);
        return take(item, await classifyJpeg(context.aws.runtime, run.endpointName, bytes, label, run.classes));
    });
}
