import { randomBytes } from "crypto";
import { DynamoDBClient, ScanCommand, ScanCommandOutput, AttributeValue } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { hasEndMarker, isJpeg } from "../lib/jpeg";
import { LATEST_DATASET_KEY } from "../lib/layout";
import {
    ClassCounts,
    DatasetManifest,
    ManifestImage,
    SkippedImage,
    datasetPrefix,
    newDatasetId,
    stableFraction,
} from "./dataset";
import { requiredEnv } from "./env";
import { describeAwsError, isUserFacing, userFacingError } from "./errors";
import { booleanField, integerField, numberField, validateEvent } from "./eventFields";

/** Image copies in flight at once: hides S3 latency without tripping its request-rate limits. */
export const DEFAULT_COPY_CONCURRENCY = 32;
/** How many skipped images the result lists (the manifest lists all). */
const SKIPPED_IN_RESULT = 50;

export interface DataPrepClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
}

export interface DataPrepSettings {
    readonly tableName: string;
    readonly imagesBucket: string;
    readonly imagesPrefix: string;
    readonly trainingBucket: string;
    readonly classes: readonly string[];
    readonly noCatClass: string;
    readonly validationSplit: number;
    readonly maxNoCatSamples: number;
    readonly copyConcurrency: number;
    /** Scan page size; unset reads DynamoDB's 1 MB pages. */
    readonly scanPageSize?: number;
}

export interface DataPrepEvent {
    readonly dryRun: boolean;
    readonly validationSplit: number;
    readonly maxNoCatSamples: number;
}

export interface DataPrepSuccess {
    readonly success: true;
    readonly dryRun: boolean;
    readonly datasetId: string;
    readonly trainingUri: string;
    readonly validationUri: string;
    readonly trainingImages: number;
    readonly validationImages: number;
    readonly classDistribution: Record<string, ClassCounts>;
    readonly repairedImages: number;
    readonly skipped: readonly SkippedImage[];
    readonly skippedCount: number;
    readonly durationMs: number;
}

export interface DataPrepFailure {
    readonly success: false;
    readonly error: string;
}

export type DataPrepResult = DataPrepSuccess | DataPrepFailure;

const EVENT_RULES = {
    dryRun: booleanField,
    validationSplit: numberField(0, 1),
    maxNoCatSamples: integerField(1, 1_000_000),
};

/** Reads the settings the stack hands the function as environment variables. */
export function dataPrepSettingsFromEnv(env: NodeJS.ProcessEnv): DataPrepSettings {
    const required = (name: string): string => requiredEnv(env, name);
    return {
        tableName: required("CATADATA_TABLE"),
        imagesBucket: required("IMAGES_BUCKET"),
        imagesPrefix: required("IMAGES_PREFIX"),
        trainingBucket: required("TRAINING_BUCKET"),
        classes: JSON.parse(required("CLASSES")),
        noCatClass: required("NO_CAT_CLASS"),
        validationSplit: Number(required("VALIDATION_SPLIT")),
        maxNoCatSamples: Number(required("MAX_NO_CAT_SAMPLES")),
        copyConcurrency: Number(env.COPY_CONCURRENCY ?? DEFAULT_COPY_CONCURRENCY),
    };
}

interface Label {
    readonly imageName: string;
    readonly sourceKey: string;
    readonly label: string;
}

interface LabelScan {
    readonly labels: Label[];
    readonly skipped: SkippedImage[];
}

const JPEG_NAME = /\.jpe?g$/i;
const MULTI_LABEL_SEPARATOR = /[,;|+&/]| and /i;

/** The label of one row, or why it cannot be used. */
function readLabel(
    item: Record<string, AttributeValue>,
    classByLowerName: ReadonlyMap<string, string>,
): { label: string } | { reason: string } {
    const cat = item.cat;
    let values: string[];
    if (cat?.S !== undefined) values = [cat.S];
    else if (cat?.SS !== undefined) values = cat.SS;
    else if (cat?.L !== undefined) values = cat.L.map((v) => v.S ?? "");
    else return { reason: "no cat label (string attribute 'cat' missing)" };

    const parts = [...new Set(values.flatMap((v) => v.split(MULTI_LABEL_SEPARATOR)).map((v) => v.trim()).filter(Boolean))];
    if (parts.length === 0) return { reason: "empty cat label" };
    if (parts.length > 1) return { reason: `multi-label value ${JSON.stringify(values.join(", "))}: label one cat per image` };
    const canonical = classByLowerName.get(parts[0].toLowerCase());
    if (canonical === undefined) {
        return { reason: `unknown class ${JSON.stringify(parts[0])} (classes: ${[...classByLowerName.values()].join(", ")})` };
    }
    return { label: canonical };
}

/** Scans every page of the labels table and resolves each row to one source key and class. */
async function scanLabels(clients: DataPrepClients, settings: DataPrepSettings): Promise<LabelScan> {
    const classByLowerName = new Map(settings.classes.map((c) => [c.toLowerCase(), c]));
    const byKey = new Map<string, { imageNames: string[]; labels: Set<string> }>();
    const skipped: SkippedImage[] = [];
    let exclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
        let page: ScanCommandOutput;
        try {
            page = await clients.dynamodb.send(
                new ScanCommand({
                    TableName: settings.tableName,
                    ProjectionExpression: "#name, #cat",
                    ExpressionAttributeNames: { "#name": "imageName", "#cat": "cat" },
                    ExclusiveStartKey: exclusiveStartKey,
                    Limit: settings.scanPageSize,
                }),
            );
        } catch (error) {
            throw userFacingError(
                describeAwsError(error, `DynamoDB table '${settings.tableName}'`, "check the catadataTableName config and the stack's region"),
            );
        }
        for (const item of page.Items ?? []) {
            const imageName = item.imageName?.S;
            if (!imageName) {
                skipped.push({ imageName: JSON.stringify(item.imageName ?? null), reason: "no imageName (string attribute)" });
                continue;
            }
            if (!JPEG_NAME.test(imageName)) {
                skipped.push({ imageName, reason: "not a .jpg or .jpeg name" });
                continue;
            }
            const label = readLabel(item, classByLowerName);
            if ("reason" in label) {
                skipped.push({ imageName, reason: label.reason });
                continue;
            }
            const sourceKey = imageName.startsWith(settings.imagesPrefix) ? imageName : `${settings.imagesPrefix}${imageName}`;
            const entry = byKey.get(sourceKey) ?? { imageNames: [], labels: new Set<string>() };
            entry.imageNames.push(imageName);
            entry.labels.add(label.label);
            byKey.set(sourceKey, entry);
        }
        exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);

    const labels: Label[] = [];
    for (const [sourceKey, entry] of byKey) {
        if (entry.labels.size > 1) {
            const reason = `conflicting labels: ${[...entry.labels].sort().join(", ")}`;
            skipped.push(...entry.imageNames.map((imageName) => ({ imageName, reason })));
        } else {
            labels.push({ imageName: entry.imageNames[0], sourceKey, label: [...entry.labels][0] });
        }
    }
    return { labels, skipped };
}

interface PlannedImage extends Label {
    readonly split: "training" | "validation";
}

/** Images ordered by their stable fraction for the purpose, each hashed once. */
function byStableFraction(purpose: "split" | "sample", images: readonly Label[]): { image: Label; fraction: number }[] {
    return images
        .map((image) => ({ image, fraction: stableFraction(purpose, image.imageName) }))
        .sort((a, b) => a.fraction - b.fraction);
}

/**
 * Stable, stratified plan: NoCat keeps the images with the lowest sample hashes, and
 * each image falls on the validation side when its split hash is below the split.
 */
function planSplit(labels: readonly Label[], settings: DataPrepSettings, event: DataPrepEvent): {
    planned: PlannedImage[];
    available: Map<string, number>;
} {
    const byClass = new Map<string, Label[]>(settings.classes.map((c) => [c, []]));
    for (const label of labels) byClass.get(label.label)!.push(label);
    const available = new Map([...byClass].map(([c, images]) => [c, images.length]));

    const planned: PlannedImage[] = [];
    for (const [className, images] of byClass) {
        const kept =
            className === settings.noCatClass && images.length > event.maxNoCatSamples
                ? byStableFraction("sample", images).slice(0, event.maxNoCatSamples).map((entry) => entry.image)
                : images;
        const bySplitHash = byStableFraction("split", kept);
        // Below the split goes to validation; a small class still gets one image on each side
        // (its lowest hash to validation, its highest to training).
        let validationCount = bySplitHash.filter((entry) => entry.fraction < event.validationSplit).length;
        if (bySplitHash.length >= 2) validationCount = Math.min(Math.max(validationCount, 1), bySplitHash.length - 1);
        bySplitHash.forEach(({ image }, index) => planned.push({ ...image, split: index < validationCount ? "validation" : "training" }));
    }
    return { planned, available };
}

function isMissingObject(error: unknown): boolean {
    const name = (error as { name?: string }).name;
    return name === "NoSuchKey" || name === "NotFound";
}

/** The file name inside the dataset: the key below the images prefix, flattened. */
function datasetFileName(sourceKey: string, imagesPrefix: string): string {
    return sourceKey.slice(imagesPrefix.length).split("/").join("__");
}

type CopyOutcome = { image: ManifestImage } | { skipped: SkippedImage };

/** One image: a GET of the source and, unless a dry run, one PUT of the (repaired) copy. */
async function copyImage(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    prefix: string,
    image: PlannedImage,
    dryRun: boolean,
): Promise<CopyOutcome> {
    let body: Uint8Array;
    try {
        const object = await clients.s3.send(new GetObjectCommand({ Bucket: settings.imagesBucket, Key: image.sourceKey }));
        body = await object.Body!.transformToByteArray();
    } catch (error) {
        if (isMissingObject(error)) {
            return { skipped: { imageName: image.imageName, reason: `missing object s3://${settings.imagesBucket}/${image.sourceKey}` } };
        }
        throw userFacingError(
            describeAwsError(error, `s3://${settings.imagesBucket}/${image.sourceKey}`, "check the imagesBucketName config"),
        );
    }
    if (!isJpeg(body)) {
        return { skipped: { imageName: image.imageName, reason: "not a JPEG (no FF D8 FF header)" } };
    }
    const repaired = !hasEndMarker(body);
    const content = repaired ? Buffer.concat([body, Buffer.from([0xff, 0xd9])]) : body;
    const key = `${prefix}${image.split}/${image.label}/${datasetFileName(image.sourceKey, settings.imagesPrefix)}`;
    if (!dryRun) {
        await clients.s3.send(
            new PutObjectCommand({ Bucket: settings.trainingBucket, Key: key, Body: content, ContentType: "image/jpeg" }),
        );
    }
    return {
        image: { imageName: image.imageName, sourceKey: image.sourceKey, key, class: image.label, split: image.split, repaired },
    };
}

function countClasses(settings: DataPrepSettings, available: Map<string, number>, images: readonly ManifestImage[]) {
    const distribution: Record<string, ClassCounts> = {};
    for (const className of settings.classes) {
        const ofClass = images.filter((i) => i.class === className);
        distribution[className] = {
            available: available.get(className) ?? 0,
            training: ofClass.filter((i) => i.split === "training").length,
            validation: ofClass.filter((i) => i.split === "validation").length,
        };
    }
    return distribution;
}

async function putJson(clients: DataPrepClients, bucket: string, key: string, value: unknown): Promise<void> {
    await clients.s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value, null, 2), ContentType: "application/json" }),
    );
}

/**
 * Builds a new dataset snapshot under `datasets/<id>/` from the labels table and the
 * images bucket, then points `datasets/latest.json` at it. A failure before that last
 * write leaves the previous dataset as the latest one.
 */
export async function prepareDataset(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    rawEvent: unknown,
    now: () => Date = () => new Date(),
): Promise<DataPrepResult> {
    const started = Date.now();
    try {
        const given = validateEvent<DataPrepEvent>(rawEvent, EVENT_RULES, "data-prep");
        const event: DataPrepEvent = {
            dryRun: given.dryRun ?? false,
            validationSplit: given.validationSplit ?? settings.validationSplit,
            maxNoCatSamples: given.maxNoCatSamples ?? settings.maxNoCatSamples,
        };

        const { labels, skipped } = await scanLabels(clients, settings);
        const { planned, available } = planSplit(labels, settings, event);

        const datasetId = newDatasetId(now(), randomBytes(2).toString("hex"));
        const prefix = datasetPrefix(datasetId);
        const limit = pLimit(settings.copyConcurrency);
        const outcomes = await Promise.all(
            planned.map((image) => limit(() => copyImage(clients, settings, prefix, image, event.dryRun))),
        );
        const images: ManifestImage[] = [];
        for (const outcome of outcomes) {
            if ("image" in outcome) images.push(outcome.image);
            else skipped.push(outcome.skipped);
        }
        images.sort((a, b) => a.key.localeCompare(b.key));

        const classDistribution = countClasses(settings, available, images);
        const short = Object.entries(classDistribution).filter(([, c]) => c.training === 0 || c.validation === 0);
        if (short.length > 0) {
            const detail = short
                .map(([name, c]) => `${name} (available ${c.available}, training ${c.training}, validation ${c.validation})`)
                .join("; ");
            throw userFacingError(
                `Every class needs at least one training and one validation image, and these do not: ${detail}. ` +
                    `Label more images of them in '${settings.tableName}', or remove them from the classes config.`,
            );
        }

        const trainingImages = images.filter((i) => i.split === "training").length;
        const validationImages = images.length - trainingImages;
        const repairedImages = images.filter((i) => i.repaired).length;
        const manifest: DatasetManifest = {
            datasetId,
            createdAt: now().toISOString(),
            sourceBucket: settings.imagesBucket,
            sourcePrefix: settings.imagesPrefix,
            classes: settings.classes,
            validationSplit: event.validationSplit,
            maxNoCatSamples: event.maxNoCatSamples,
            classDistribution,
            trainingImages,
            validationImages,
            repairedImages,
            images,
            skipped,
        };
        if (!event.dryRun) {
            await putJson(clients, settings.trainingBucket, `${prefix}manifest.json`, manifest);
            await putJson(clients, settings.trainingBucket, LATEST_DATASET_KEY, { datasetId });
        }
        return {
            success: true,
            dryRun: event.dryRun,
            datasetId,
            trainingUri: `s3://${settings.trainingBucket}/${prefix}training/`,
            validationUri: `s3://${settings.trainingBucket}/${prefix}validation/`,
            trainingImages,
            validationImages,
            classDistribution,
            repairedImages,
            skipped: skipped.slice(0, SKIPPED_IN_RESULT),
            skippedCount: skipped.length,
            durationMs: Date.now() - started,
        };
    } catch (error) {
        if (isUserFacing(error)) return { success: false, error: error.message };
        return {
            success: false,
            error: describeAwsError(error, `data prep into s3://${settings.trainingBucket}`, "check the bucket exists and the function's role"),
        };
    }
}
