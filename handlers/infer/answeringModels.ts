import type { S3Client } from "@aws-sdk/client-s3";
import { ReadObject, jobFileSources, readJobFiles } from "../../lib/jobFiles";
import type { Decision } from "../../lib/jobOutput";
import { getObjectIfAny } from "../../lib/s3Objects";
import { modelOfVariant } from "../../lib/serving";

/** The model that answered, and its decision if it has one. */
export interface AnsweringModel {
    readonly variantName: string;
    readonly modelDataUrl: string | null;
    readonly trainingJobName: string | null;
    readonly decision?: Decision;
    /** Why there is no decision, when there is none. */
    readonly noDecision?: string;
}

/**
 * A model's decision.json: the plain copy beside the archive, else the job's output.tar.gz,
 * else (a model outside the stack's jobs) the model archive itself. Undefined when none has one.
 */
export async function readModelDecision(s3: S3Client, modelDataUrl: string): Promise<Decision | undefined> {
    const read: ReadObject = (bucket, key) => getObjectIfAny(s3, bucket, key);
    return (await readJobFiles(read, jobFileSources(modelDataUrl), ["decision"])).decision;
}

/** The model behind a variant name, its decision read from S3. */
async function resolveModel(
    s3: S3Client,
    configured: { readonly modelDataUrl: string; readonly modelBucket: string },
    variantName: string,
): Promise<AnsweringModel> {
    const model = modelOfVariant(variantName, configured);
    if (!model) {
        return {
            variantName,
            modelDataUrl: null,
            trainingJobName: null,
            noDecision: `variant ${variantName} serves a model this stack no longer knows, so there is no threshold to act on`,
        };
    }
    const decision = await readModelDecision(s3, model.modelDataUrl);
    const base = { variantName, modelDataUrl: model.modelDataUrl, trainingJobName: model.trainingJobName ?? null };
    if (decision) return { ...base, decision };
    return {
        ...base,
        noDecision: `model ${model.trainingJobName ?? model.modelDataUrl} has no decision.json (trained before thresholds, or not a BootBoots job), so there is no threshold to act on`,
    };
}

/**
 * The answering models of one Lambda environment: each variant's decision is read once and
 * kept; a read that failed is tried again by the next request, and answers with no decision now.
 */
export function answeringModels(
    s3: S3Client,
    configured: { readonly modelDataUrl: string; readonly modelBucket: string },
) {
    const models = new Map<string, Promise<AnsweringModel>>();
    return async (variantName: string): Promise<AnsweringModel> => {
        let model = models.get(variantName);
        if (!model) {
            model = resolveModel(s3, configured, variantName);
            models.set(variantName, model);
            model.catch(() => models.delete(variantName));
        }
        try {
            return await model;
        } catch (error) {
            return {
                variantName,
                modelDataUrl: null,
                trainingJobName: null,
                noDecision: `the threshold of variant ${variantName} could not be read (${(error as Error)?.name ?? "Error"})`,
            };
        }
    };
}
