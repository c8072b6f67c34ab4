import type { FieldRule } from "./eventFields";
import { DATASETS_PREFIX } from "./layout";
import { SPLIT_KEYS, STACK_SETTINGS, StackSettings } from "./stackSettings";

/**
 * How a dataset is split and sampled: the stack settings of SPLIT_KEYS (lib/stackSettings.ts
 * says what each does), handed whole to the data-prep Lambda, which a data-prep event may
 * override.
 */
export type SplitSettings = Pick<StackSettings, (typeof SPLIT_KEYS)[number]>;

/** The split settings among the stack's. */
export function splitSettingsOf(settings: SplitSettings): SplitSettings {
    return Object.fromEntries(SPLIT_KEYS.map((key) => [key, settings[key]])) as unknown as SplitSettings;
}

/** Each split setting's default: the stack's. */
export const SPLIT_DEFAULTS = Object.fromEntries(
    SPLIT_KEYS.map((key) => [key, STACK_SETTINGS[key].default]),
) as unknown as SplitSettings;

/** Each split setting's rule: the stack config and the data-prep event check with the same. */
export const SPLIT_RULES = Object.fromEntries(SPLIT_KEYS.map((key) => [key, STACK_SETTINGS[key].rule])) as Readonly<
    Record<keyof SplitSettings, FieldRule>
>;

/** The dataset id form (docs/design.md, "S3 layout"): sorts by time, e.g. `20260221T153033Z-4f2a`. */
export const DATASET_ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

/** The dataset a job trained on: the id in its training channel's S3 URI (`…/datasets/<id>/training/`). */
export function datasetIdOfChannels(
    channels: readonly { ChannelName?: string; DataSource?: { S3DataSource?: { S3Uri?: string } } }[] | undefined,
): string | undefined {
    const uri = channels?.find((c) => c.ChannelName === "training")?.DataSource?.S3DataSource?.S3Uri ?? "";
    return uri.split("/").find((part) => DATASET_ID_PATTERN.test(part));
}

export function newDatasetId(now: Date, randomHex: string): string {
    const stamp = now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "");
    return `${stamp}-${randomHex.slice(0, 4)}`;
}

/** What `datasets/latest.json` holds. */
export interface DatasetPointer {
    /** The newest complete dataset. */
    readonly datasetId: string;
}

/** A count on each side of the split. */
export interface SideCounts {
    readonly training: number;
    readonly validation: number;
    readonly test: number;
}

/** The images of one class: labelled and usable, then as split. */
export interface ClassCounts {
    /** Labelled images of the class that passed the label checks (before NoCat sampling). */
    readonly available: number;
    /** Images in training/<Class>/. */
    readonly training: number;
    /** Images in validation/<Class>/. */
    readonly validation: number;
    /** Images in test/<Class>/: held out from training and early stopping. */
    readonly test: number;
    /** The visits (groups of near-identical frames) on each side; datasets built before the grouped split have none. */
    readonly groups?: SideCounts;
}

export type Split = "training" | "validation" | "test";

/** What data prep writes as `datasets/<id>/manifest.json` and the trigger reads back. */
/** The split settings it was built with, among the rest. */
export interface DatasetManifest extends SplitSettings {
    readonly datasetId: string;
    /** ISO time the dataset was built. */
    readonly createdAt: string;
    /** The images bucket read. */
    readonly sourceBucket: string;
    /** The key prefix of the camera images in it. */
    readonly sourcePrefix: string;
    /** The class list, in model-output order. */
    readonly classes: readonly string[];
    readonly classDistribution: Readonly<Record<string, ClassCounts>>;
    readonly trainingImages: number;
    readonly validationImages: number;
    readonly testImages: number;
    /** JPEGs whose missing end marker was added. */
    readonly repairedImages: number;
    /** catadata rows without `cat`: the labelling backlog, counted rather than listed as skipped. */
    readonly unlabelledImages: number;
    /** One entry per object written, sorted by key. */
    readonly images: readonly ManifestImage[];
    /** Every image left out, with its reason. */
    readonly skipped: readonly SkippedImage[];
}

export interface ManifestImage {
    /** The catadata row's imageName. */
    readonly imageName: string;
    /** The image's key in the images bucket. */
    readonly sourceKey: string;
    /** The copy's key in the training-data bucket. */
    readonly key: string;
    readonly class: string;
    readonly split: Split;
    /** Its visit (lib/visits.ts groupVisits): every frame of a visit is on one side. */
    readonly visit?: string;
    /** The capture time its name carries (ISO-8601 UTC): the frames' order within the visit. */
    readonly capturedAt?: string;
    /** The camera its catadata row names, when it names one. */
    readonly camera?: string;
    /** The visit as datasets built before lib/visits.ts named it (a clock window); newer ones say `visit`. */
    readonly group?: string;
    /** True when the end marker was added. */
    readonly repaired: boolean;
    /** The copy's size in bytes. */
    readonly bytes: number;
}

export interface SkippedImage {
    readonly imageName: string;
    /** Why it was left out, in words. */
    readonly reason: string;
}

/** A manifest image's file name inside the dataset (the last part of its key), as train.py names its predictions. */
export function manifestFileName(image: Pick<ManifestImage, "key">): string {
    return image.key.slice(image.key.lastIndexOf("/") + 1);
}

/** A catadata row's image key: its imageName, under the prefix unless it already is (data prep and the CLI read rows alike). */
export function sourceKeyOf(imageName: string, imagesPrefix: string): string {
    return imageName.startsWith(imagesPrefix) ? imageName : `${imagesPrefix}${imageName}`;
}

/** Validation and test together must leave most of each class (more than half) for training. */
export function leavesMostForTraining(validationSplit: number, testSplit: number): boolean {
    return validationSplit + testSplit < 0.5;
}

/** A training job needs at least this many training images: below it, a fine-tuned model is not worth the instance hours. */
export const MIN_TRAINING_IMAGES = 50;
/** A class needs labels from this many visits to have an image on every side (training, validation, test). */
export const VISITS_FOR_EVERY_SIDE = 3;

/** What the first training job still lacks, estimated from the labels per class and the split fractions. */
export interface LabelShortfall {
    /** Training images the split would give (each class's share; NoCat capped at maxNoCatSamples). */
    readonly estimatedTraining: number;
    /** Labels each class lacks, each from another visit, for an image on every side. */
    readonly perClass: Readonly<Record<string, number>>;
    /** Further labels (of any cat) for MIN_TRAINING_IMAGES training images, after the per-class ones. */
    readonly forTraining: number;
}

/**
 * The split's expected sides (a class of three or more visits keeps one on each side, as the
 * split does; its hashes then give about the fractions), and what is missing for a first job.
 * `visitCounts` are the visits (lib/visits.ts groupVisits) of each class's labels.
 */
export function labelShortfall(
    labelCounts: Readonly<Record<string, number>>,
    visitCounts: Readonly<Record<string, number>>,
    classes: readonly string[],
    noCatClass: string,
    split: SplitSettings,
): LabelShortfall {
    const trainingShare = 1 - split.validationSplit - split.testSplit;
    const trainingOf = (n: number) => {
        if (n >= VISITS_FOR_EVERY_SIDE) {
            const held =
                Math.max(1, Math.round(n * split.validationSplit)) + Math.max(1, Math.round(n * split.testSplit));
            return Math.max(1, n - held);
        }
        return n === 0 ? 0 : 1;
    };
    const perClass: Record<string, number> = {};
    let estimatedTraining = 0;
    for (const c of classes) {
        const n = labelCounts[c] ?? 0;
        perClass[c] = Math.max(0, VISITS_FOR_EVERY_SIDE - (visitCounts[c] ?? 0));
        estimatedTraining += trainingOf(c === noCatClass ? Math.min(n, split.maxNoCatSamples) : n);
    }
    // The per-class labels add training images too (one each once a class has three visits).
    const afterPerClass = estimatedTraining + Object.values(perClass).filter((more) => more > 0).length;
    // Rounded first: 1 − 0.2 − 0.1 is 0.7000000000000001 in floating point.
    const forTraining = Math.max(
        0,
        Math.ceil(Number(((MIN_TRAINING_IMAGES - afterPerClass) / trainingShare).toFixed(6))),
    );
    return { estimatedTraining, perClass, forTraining };
}

export function datasetPrefix(datasetId: string): string {
    return `${DATASETS_PREFIX}${datasetId}/`;
}

/** What data prep returns when it built (or, for a dry run, counted) a dataset. */
export interface DataPrepSuccess {
    readonly success: true;
    readonly dryRun: boolean;
    readonly datasetId: string;
    readonly trainingUri: string;
    readonly validationUri: string;
    readonly testUri: string;
    readonly trainingImages: number;
    readonly validationImages: number;
    readonly testImages: number;
    readonly classDistribution: Record<string, ClassCounts>;
    readonly repairedImages: number;
    /** catadata rows without `cat` (the labelling backlog). */
    readonly unlabelledImages: number;
    /** The first skipped images (the manifest lists them all). */
    readonly skipped: readonly SkippedImage[];
    readonly skippedCount: number;
    readonly durationMs: number;
}

export interface DataPrepFailure {
    readonly success: false;
    /** One sentence: what happened and what to do. */
    readonly error: string;
}

export type DataPrepResult = DataPrepSuccess | DataPrepFailure;
