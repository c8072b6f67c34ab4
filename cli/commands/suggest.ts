import { CliContext } from "../context";
import { endpointCost, scoreS3Images } from "../aws/endpoint";
import { NotFoundError } from "../errors";
import { table } from "../format";
import { servingJobName } from "../aws/jobs";
import { LABELLING_QUEUE_KEY } from "../../lib/layout";
import {
    CameraImage,
    LabelState,
    LabellingQueue,
    QueueItem,
    listImages,
    newestSpreadOverDays,
    rankScore,
    rankTopClasses,
    readLabelState,
} from "../labelling/queue";
import { getObjectJson, putObjectJson } from "../aws/s3json";

export interface SuggestOptions {
    /** Images scored at most in this run (those scored before by the same model are free). */
    readonly limit: number;
    readonly concurrency: number;
    readonly json?: boolean;
    /** Rows of the queue printed (default 10). */
    readonly top: number;
}

async function previousQueue(context: CliContext, bucket: string): Promise<LabellingQueue | undefined> {
    return getObjectJson<LabellingQueue>(
        context.aws.s3,
        bucket,
        LABELLING_QUEUE_KEY,
        `No queue in s3://${bucket}/${LABELLING_QUEUE_KEY}.`,
    ).catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
    });
}

/** The stack's names a queue is made from and belongs to, and its classes in the model's output order. */
interface QueueNames {
    readonly imagesBucket: string;
    readonly imagesPrefix: string;
    readonly catadataTable: string;
    readonly trainingBucket: string;
    readonly classes: readonly string[];
    /** The class the camera acts on: the ranking puts it first. */
    readonly targetClass: string;
}

/**
 * Ranks the unlabelled images (a catadata row without `cat`, or no row) by what a label
 * would teach, scoring them with the model serving now, and writes the queue that
 * `bootboots label` works through. With no model serving yet, the queue holds the newest
 * unlabelled images, spread over days, without scores.
 */
export async function suggest(context: CliContext, options: SuggestOptions): Promise<void> {
    const serving = await servingJobName(context);
    const [imagesBucket, imagesPrefix, catadataTable, trainingBucket] = await Promise.all([
        context.stack.name("imagesBucket"),
        context.stack.name("imagesPrefix"),
        context.stack.name("catadataTable"),
        context.stack.name("trainingBucket"),
    ]);
    // The stack's own cats, in the model's output order: the queue's buttons and the ranking use them.
    const { classes, targetClass } = await context.stack.classes();
    const names: QueueNames = { imagesBucket, imagesPrefix, catadataTable, trainingBucket, classes, targetClass };
    const [images, labels] = await Promise.all([
        listImages(context, imagesBucket, imagesPrefix),
        readLabelState(context, catadataTable, imagesPrefix, classes),
    ]);
    const unlabelled = images.filter((image) => !labels.labelled.has(image.key));
    const { queue, skipped } = serving
        ? await rankedQueue(context, options, serving.modelDataUrl, names, unlabelled, labels)
        : { queue: unscoredQueue(context, options, names, unlabelled, labels), skipped: [] };
    await putObjectJson(context.aws.s3, trainingBucket, LABELLING_QUEUE_KEY, queue);
    if (options.json) return context.out(JSON.stringify({ ...queue, skipped }, null, 2));
    const items = queue.items;
    context.out(
        `Queue of ${items.length} images written to s3://${trainingBucket}/${LABELLING_QUEUE_KEY}; the first ${Math.min(options.top, items.length)}:`,
    );
    const guess = (item: QueueItem) =>
        item.top3?.map((t) => `${t.className} ${(100 * t.probability).toFixed(0)}%`).join(", ") ?? "";
    context.out(
        serving
            ? table(
                  ["score", "image", "model's top 3"],
                  items.slice(0, options.top).map((i) => [i.score!.toFixed(3), i.key, guess(i)]),
              )
            : table(
                  ["image"],
                  items.slice(0, options.top).map((i) => [i.key]),
              ),
    );
    for (const s of skipped) context.err(`skipped ${s.key}: ${s.error}`);
    context.out("Next: npx bootboots label");
}

/** The newest unlabelled images, a few from each day, for the first labels (no model to rank them yet). */
function unscoredQueue(
    context: CliContext,
    options: SuggestOptions,
    names: QueueNames,
    unlabelled: readonly CameraImage[],
    labels: LabelState,
): LabellingQueue {
    const picked = newestSpreadOverDays(unlabelled, options.limit);
    const days = new Set(picked.map((image) => image.takenAt.toISOString().slice(0, 10))).size;
    context.err(
        `No model is serving yet, so nothing can rank the ${unlabelled.length} unlabelled images under s3://${names.imagesBucket}/${names.imagesPrefix}: ` +
            `the queue holds the ${picked.length} newest (--limit ${options.limit}), taken in turn from ${days} days so that one long visit does not fill it, without scores. ` +
            "Once a model serves, npx bootboots suggest ranks them by what a label would teach.",
    );
    return {
        version: 1,
        createdAt: new Date().toISOString(),
        ...names,
        items: picked.map((image) => {
            const rowName = labels.unlabelledRows.get(image.key);
            return { key: image.key, ...(rowName ? { rowName } : {}) };
        }),
    };
}

/**
 * The scores that need no request: those of the same model in the previous queue (images
 * labelled since drop out), and those the camera API stored when the serving model answered.
 */
function reusedScores(
    previous: LabellingQueue | undefined,
    modelDataUrl: string,
    unlabelled: readonly string[],
    labels: LabelState,
    { classes, targetClass }: QueueNames,
): { kept: Map<string, QueueItem>; fromCamera: number } {
    const kept = new Map<string, QueueItem>(
        previous && previous.modelDataUrl === modelDataUrl
            ? previous.items.filter((i) => !labels.labelled.has(i.key)).map((i) => [i.key, i])
            : [],
    );
    // What the camera API stored when the serving model scored an image needs no second request.
    let fromCamera = 0;
    for (const key of unlabelled) {
        const stored = labels.storedPredictions.get(key);
        if (kept.has(key) || stored?.modelDataUrl !== modelDataUrl) continue;
        const rowName = labels.unlabelledRows.get(key);
        kept.set(key, {
            key,
            ...(rowName ? { rowName } : {}),
            ...rankTopClasses(stored.top3, classes, labels.labelCounts, targetClass),
        });
        fromCamera += 1;
    }
    return { kept, fromCamera };
}

/** The unlabelled images scored by the serving model (what it scored before is kept), highest score first. */
async function rankedQueue(
    context: CliContext,
    options: SuggestOptions,
    modelDataUrl: string,
    names: QueueNames,
    unlabelledImages: readonly CameraImage[],
    labels: LabelState,
): Promise<{ queue: LabellingQueue; skipped: { key: string; error: string }[] }> {
    const endpointName = await context.stack.name("endpoint");
    const { imagesBucket, imagesPrefix, trainingBucket, classes, targetClass } = names;
    const previous = await previousQueue(context, trainingBucket);
    const unlabelled = unlabelledImages.map((image) => image.key);
    const { kept, fromCamera } = reusedScores(previous, modelDataUrl, unlabelled, labels, names);
    const toScore = unlabelled.filter((key) => !kept.has(key)).slice(0, options.limit);
    context.err(
        `${unlabelled.length} unlabelled images under s3://${imagesBucket}/${imagesPrefix}; ${kept.size} already scored by this model. ` +
            `Scoring ${toScore.length} (--limit ${options.limit}): ${endpointCost(toScore.length, endpointName)}.`,
    );

    if (fromCamera > 0) context.err(`${fromCamera} of them scored by the camera API when it answered.`);
    const { results: scored, failed } = await scoreS3Images(
        context,
        { endpointName, bucket: imagesBucket, classes, concurrency: options.concurrency, verb: "scoring" },
        toScore,
        (key) => ({ key, label: key, missing: `s3://${imagesBucket}/${key} is gone.` }),
        (key, result): QueueItem => {
            const probabilities = classes.map((c) => result.probabilities[c]);
            const rowName = labels.unlabelledRows.get(key);
            return {
                key,
                ...(rowName ? { rowName } : {}),
                ...rankScore(probabilities, classes, labels.labelCounts, targetClass),
            };
        },
    );
    const items = [...kept.values(), ...scored].sort((a, b) => b.score! - a.score! || (a.key < b.key ? -1 : 1));
    const queue: LabellingQueue = {
        version: 1,
        createdAt: new Date().toISOString(),
        modelDataUrl,
        endpointName,
        ...names,
        items,
    };
    return { queue, skipped: failed.map((f) => ({ key: f.item, error: f.error })) };
}
