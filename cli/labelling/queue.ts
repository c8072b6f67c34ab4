import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { sourceKeyOf } from "../../lib/dataset";
import { captureTime } from "../../lib/visits";
import { CliContext } from "../context";
import { explainAwsError } from "../errors";
import type { QueueFile } from "./queueSession";

/** A model's likeliest classes, most likely first. */
export type TopClasses = readonly { readonly className: string; readonly probability: number }[];

/** One image of the queue: what the serving model guessed and how much a label would teach. */
export interface QueueItem {
    /** The image's key in the images bucket. */
    readonly key: string;
    /** The catadata row's imageName when a row without a label exists; absent when there is no row. */
    readonly rowName?: string;
    /** What the serving model guessed; absent in a queue made before any model served. */
    readonly top3?: TopClasses;
    /** Rank by this, highest first (see rankScore); absent in a queue made before any model served. */
    readonly score?: number;
}

/** What `suggest` writes to labelling/queue.json and `label` reads. */
export interface LabellingQueue extends QueueFile {
    /** The model that scored the images (a queue is redone when it changes); absent before any model served. */
    readonly modelDataUrl?: string;
    readonly endpointName?: string;
    readonly targetClass: string;
    readonly items: readonly QueueItem[];
}

/** How much the score rises for an image the model calls the target class, and at most for a rare class. */
export const TARGET_BONUS = 0.5;
export const RARITY_BONUS = 0.5;

/**
 * What a label would teach, from the model's probabilities (classes in model order):
 *   score = (1 − (p₁ − p₂))              the margin uncertainty: 1 when the two likeliest classes tie
 *         + 0.5 × (1 − n / n_max)         n the labels of the likeliest class, n_max those of the most labelled one
 *         + 0.5 if the likeliest class is the target class (its mistakes cost most).
 * The bonuses are added, not multiplied, so that an image of a rare class or of the target
 * class comes before a confident one of a common class even when the model is sure of it.
 */
export function rankScore(
    probabilities: readonly number[],
    classes: readonly string[],
    labelCounts: Readonly<Record<string, number>>,
    targetClass: string,
): { score: number; top3: TopClasses } {
    const ranked = classes.map((className, i) => ({ className, probability: probabilities[i] }));
    return rankTopClasses(ranked, classes, labelCounts, targetClass);
}

/**
 * The same score from the likeliest classes alone (the score reads only the top two and the
 * top class): what the camera API stored in an image's catadata row.
 */
export function rankTopClasses(
    classProbabilities: readonly { readonly className: string; readonly probability: number }[],
    classes: readonly string[],
    labelCounts: Readonly<Record<string, number>>,
    targetClass: string,
): { score: number; top3: TopClasses } {
    const ranked = [...classProbabilities].sort((a, b) => b.probability - a.probability);
    const uncertainty = 1 - (ranked[0].probability - (ranked[1]?.probability ?? 0));
    const most = Math.max(1, ...classes.map((c) => labelCounts[c] ?? 0));
    const rarity = 1 - (labelCounts[ranked[0].className] ?? 0) / most;
    const target = ranked[0].className === targetClass ? TARGET_BONUS : 0;
    return { score: Number((uncertainty + RARITY_BONUS * rarity + target).toFixed(6)), top3: ranked.slice(0, 3) };
}

const JPEG_KEY = /\.jpe?g$/i;

/** The top classes the camera API stored in a row, and the model that gave them. */
export interface StoredPrediction {
    readonly modelDataUrl: string;
    readonly top3: TopClasses;
}

/** The labelled images and the rows without a label, by image key; labels counted per class. */
export interface LabelState {
    /** Key → the imageName of its catadata row, for rows without a label. */
    readonly unlabelledRows: Map<string, string>;
    /** Key → the prediction stored in its unlabelled row by the camera API. */
    readonly storedPredictions: Map<string, StoredPrediction>;
    /** Keys whose row has a label. */
    readonly labelled: Set<string>;
    readonly labelCounts: Record<string, number>;
    /** The imageName of each labelled row, per class (for counting visits). */
    readonly labelledNames: Record<string, string[]>;
    /** Labels that name no class of the stack, counted by what they say. */
    readonly unknownLabels: Record<string, number>;
}

/** Every catadata row, sorted into labelled and not; labels counted per class (case-insensitively). */
export async function readLabelState(
    context: CliContext,
    table: string,
    imagesPrefix: string,
    classes: readonly string[],
): Promise<LabelState> {
    const { ScanCommand } = await import("@aws-sdk/client-dynamodb");
    const state: LabelState = {
        unlabelledRows: new Map(),
        storedPredictions: new Map(),
        labelled: new Set(),
        labelCounts: Object.fromEntries(classes.map((c) => [c, 0])),
        labelledNames: Object.fromEntries(classes.map((c) => [c, []])),
        unknownLabels: {},
    };
    const byLower = new Map(classes.map((c) => [c.toLowerCase(), c]));
    let start: Record<string, AttributeValue> | undefined;
    do {
        let page;
        try {
            page = await context.aws.dynamodb.send(
                new ScanCommand({
                    TableName: table,
                    ProjectionExpression: "#n, #c, #t, #m",
                    ExpressionAttributeNames: { "#n": "imageName", "#c": "cat", "#t": "top3", "#m": "modelDataUrl" },
                    ExclusiveStartKey: start,
                }),
            );
        } catch (error) {
            throw explainAwsError(error, `reading the labels table ${table}`);
        }
        for (const item of page.Items ?? []) {
            const name = item.imageName?.S;
            if (!name) continue;
            const key = sourceKeyOf(name, imagesPrefix);
            const label = item.cat?.S?.trim();
            if (label) {
                state.labelled.add(key);
                const className = byLower.get(label.toLowerCase());
                if (className) {
                    state.labelCounts[className] += 1;
                    state.labelledNames[className].push(name);
                } else state.unknownLabels[label] = (state.unknownLabels[label] ?? 0) + 1;
            } else {
                state.unlabelledRows.set(key, name);
                const stored = storedPrediction(item);
                if (stored) state.storedPredictions.set(key, stored);
            }
        }
        start = page.LastEvaluatedKey;
    } while (start);
    return state;
}

/** The camera API's `top3` and `modelDataUrl` of a row, when it has both and they are well formed. */
function storedPrediction(item: Record<string, AttributeValue>): StoredPrediction | undefined {
    const modelDataUrl = item.modelDataUrl?.S;
    const top3 = item.top3?.L?.map((entry) => ({
        className: entry.M?.className?.S ?? "",
        probability: Number(entry.M?.probability?.N),
    }));
    if (!modelDataUrl || !top3 || top3.length < 2 || top3.some((t) => !t.className || !Number.isFinite(t.probability)))
        return undefined;
    return { modelDataUrl, top3 };
}

/** Every JPEG under the prefix of the images bucket. */
export async function listImageKeys(context: CliContext, bucket: string, prefix: string): Promise<string[]> {
    return (await listImages(context, bucket, prefix)).map((image) => image.key);
}

/** A camera image: its key and when it was taken. */
export interface CameraImage {
    readonly key: string;
    readonly takenAt: Date;
}

/** When an image was taken: the capture time its name carries (the camera names them so), else when it was stored. */
export function takenAt(key: string, lastModified: Date): Date {
    return captureTime(key.split("/").pop() ?? "") ?? lastModified;
}

/**
 * The images to label first when no model can rank them: the newest, taken in turn from each
 * UTC day (newest day first), so that one long visit does not fill the queue; at most `limit`.
 */
export function newestSpreadOverDays(images: readonly CameraImage[], limit: number): CameraImage[] {
    const byDay = new Map<string, CameraImage[]>();
    const newestFirst = [...images].sort(
        (a, b) => b.takenAt.getTime() - a.takenAt.getTime() || (a.key < b.key ? -1 : 1),
    );
    for (const image of newestFirst) {
        const day = image.takenAt.toISOString().slice(0, 10);
        byDay.set(day, [...(byDay.get(day) ?? []), image]);
    }
    const days = [...byDay.values()];
    const picked: CameraImage[] = [];
    for (let round = 0; picked.length < limit && days.some((d) => d.length > round); round++) {
        for (const day of days) if (day[round] && picked.length < limit) picked.push(day[round]);
    }
    return picked;
}

/** Every JPEG under the prefix of the images bucket, with when it was taken. */
export async function listImages(context: CliContext, bucket: string, prefix: string): Promise<CameraImage[]> {
    const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
    const images: CameraImage[] = [];
    let token: string | undefined;
    do {
        let page;
        try {
            page = await context.aws.s3.send(
                new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
            );
        } catch (error) {
            throw explainAwsError(error, `listing s3://${bucket}/${prefix}`);
        }
        for (const object of page.Contents ?? []) {
            if (JPEG_KEY.test(object.Key!))
                images.push({ key: object.Key!, takenAt: takenAt(object.Key!, object.LastModified ?? new Date(0)) });
        }
        token = page.NextContinuationToken;
    } while (token);
    return images;
}
