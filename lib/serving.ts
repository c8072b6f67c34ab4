import { createHash } from "crypto";
import { contract } from "./contract";
import { TRAINING_OUTPUT_PREFIX } from "./layout";

/** The JSON body the endpoint takes for one JPEG (docs/design.md, "Serving contract"). */
export function servingRequestBody(jpeg: Uint8Array): string {
    return JSON.stringify({ instances: [{ [contract.serving.instanceKey]: Buffer.from(jpeg).toString("base64") }] });
}

/** The largest JPEG whose request body stays under the endpoint's limit once base64-encoded. */
export function maxJpegBytes(maxRequestBytes: number = contract.serving.maxRequestBytes): number {
    const envelope = servingRequestBody(new Uint8Array(0)).length;
    return Math.floor((maxRequestBytes - 1 - envelope) / 4) * 3;
}

/** The probabilities of the first image in a response body, or why they cannot be read. */
export function readPredictions(
    body: string,
    classes: readonly string[],
): { probabilities: number[] } | { error: string } {
    let row: unknown;
    try {
        row = (JSON.parse(body) as Record<string, unknown[]>)[contract.serving.predictionsKey]?.[0];
    } catch {
        return { error: "the endpoint's answer is not JSON" };
    }
    if (
        !Array.isArray(row) ||
        row.length !== classes.length ||
        !row.every((p) => typeof p === "number" && Number.isFinite(p))
    ) {
        const count = Array.isArray(row) ? row.length : "no";
        return {
            error: `the endpoint answered ${count} probabilities for ${classes.length} classes (${classes.join(", ")})`,
        };
    }
    return { probabilities: row as number[] };
}

/** A training job's name, as SageMaker allows it; production variant names follow the same pattern. */
const JOB_NAME = "[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}";
const VARIANT_PATTERN = new RegExp(`^${JOB_NAME}$`);

/** `s3://<bucket>/training-output/<job>/output/model.tar.gz`: the model of a job of this stack. */
export function jobModelUrl(modelBucket: string, jobName: string): string {
    return `s3://${modelBucket}/${TRAINING_OUTPUT_PREFIX}${jobName}/output/model.tar.gz`;
}

/** The training job whose model a URL names, when it is one of the stack's models bucket. */
export function trainingJobOfModelUrl(modelDataUrl: string, modelBucket: string): string | undefined {
    const prefix = `s3://${modelBucket}/${TRAINING_OUTPUT_PREFIX}`;
    if (!modelDataUrl.startsWith(prefix)) return undefined;
    const match = new RegExp(`^(${JOB_NAME})/output/model\\.tar\\.gz$`).exec(modelDataUrl.slice(prefix.length));
    return match?.[1];
}

const OTHER_MODEL_VARIANT_PREFIX = "model-";

/**
 * The production variant that serves a model, named after it so that InvokeEndpoint's
 * answer says which model answered (the old one answers while an update rolls out): the
 * training job's name for a job of this stack, else `model-` and a hash of the URL.
 * Job names start with `bootboots-`, never `model-`.
 */
export function variantNameFor(modelDataUrl: string, modelBucket: string): string {
    const job = trainingJobOfModelUrl(modelDataUrl, modelBucket);
    if (job && VARIANT_PATTERN.test(job)) return job;
    return `${OTHER_MODEL_VARIANT_PREFIX}${createHash("sha256").update(modelDataUrl).digest("hex").slice(0, 16)}`;
}

/**
 * The model behind a variant name: the configured model when the name is its variant, a job
 * of the stack's models bucket when the name is a job's, else unknown (a model outside the
 * bucket that is no longer configured).
 */
export function modelOfVariant(
    variantName: string,
    configured: { readonly modelDataUrl: string; readonly modelBucket: string },
): { modelDataUrl: string; trainingJobName?: string } | undefined {
    const { modelDataUrl, modelBucket } = configured;
    if (variantName === variantNameFor(modelDataUrl, modelBucket)) {
        return { modelDataUrl, trainingJobName: trainingJobOfModelUrl(modelDataUrl, modelBucket) };
    }
    if (variantName.startsWith(OTHER_MODEL_VARIANT_PREFIX) || !VARIANT_PATTERN.test(variantName)) return undefined;
    return { modelDataUrl: jobModelUrl(modelBucket, variantName), trainingJobName: variantName };
}

/**
 * What TF Serving's error text for one image means, in words: the endpoint answers an image it
 * cannot decode with a ModelError whose message quotes TensorFlow (e.g. "Invalid JPEG data or
 * crop window"), which a user cannot act on.
 */
export function modelErrorReason(message: string): string {
    if (/jpeg|decode|image data|crop window/i.test(message))
        return "the model could not decode it as a JPEG (the file is damaged, or only its name says JPEG)";
    const first = message.split("\n")[0].trim();
    return `the model refused it (${first.length > 200 ? `${first.slice(0, 200)}…` : first})`;
}
