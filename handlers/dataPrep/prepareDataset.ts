import { randomBytes } from "crypto";
import { setMaxListeners } from "events";
import { AttributeValue, DynamoDBClient, ScanCommand, ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import {
    ClassCounts,
    DataPrepResult,
    DatasetManifest,
    ManifestImage,
    SPLIT_RULES,
    SkippedImage,
    SplitSettings,
    datasetPrefix,
    leavesMostForTraining,
    newDatasetId,
} from "../../lib/dataset";
import { backoffMs, sleep } from "../../lib/backoff";
import { describeAwsError, isMissingObject, isUserFacing, userFacingError } from "../../lib/errors";
import { booleanField, validateEvent } from "../../lib/eventFields";
import { hasEndMarker, isJpeg } from "../../lib/jpeg";
import { LATEST_DATASET_KEY } from "../../lib/layout";
import type { DataPrepEnv } from "../../lib/functionSettings";
import { Label, S3_MAX_KEY_BYTES, resolveLabels } from "../../lib/labels";
import { RETIRED_SETTINGS } from "../../lib/stackSettings";
import { putJsonObject } from "../../lib/s3Objects";
import { PlannedImage, SplitRule, countClasses, datasetFileName, planSplit, sampleLabels } from "./split";

/** How many skipped images the result lists (the manifest lists all). */
const SKIPPED_IN_RESULT = 50;
/** Reads of one image body, in all: a connection lost mid-body is tried again after a back-off. */
const BODY_READ_ATTEMPTS = 4;
const BODY_READ_BACKOFF_MS = 100;

export interface DataPrepClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
}

/** Data prep's settings: its environment (lib/functionSettings.ts), and the scan's page size a test may set. */
export interface DataPrepSettings extends DataPrepEnv {
    /** Scan page size; unset reads DynamoDB's 1 MB pages. */
    readonly scanPageSize?: number;
}

/** The data-prep payload, defaults filled in. */
export interface DataPrepEvent extends SplitSettings {
    /** Count and check only; write nothing. */
    readonly dryRun: boolean;
}

// Each member named: the closure serializer keeps of an imported object only the members named.
const EVENT_RULES = {
    dryRun: booleanField,
    validationSplit: SPLIT_RULES.validationSplit,
    testSplit: SPLIT_RULES.testSplit,
    maxNoCatSamples: SPLIT_RULES.maxNoCatSamples,
    visitGapMinutes: SPLIT_RULES.visitGapMinutes,
    splitNumberBlock: SPLIT_RULES.splitNumberBlock,
};

/** Every row of the labels table, page by page. */
async function scanTable(
    clients: DataPrepClients,
    settings: DataPrepSettings,
): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let exclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
        let page: ScanCommandOutput;
        try {
            page = await clients.dynamodb.send(
                new ScanCommand({
                    TableName: settings.tableName,
                    // The camera names the visit's frames (lib/visits.ts); placeholders, since a projection may not hold reserved words.
                    ProjectionExpression: "#name, #cat, #camera",
                    ExpressionAttributeNames: { "#name": "imageName", "#cat": "cat", "#camera": "camera" },
                    ExclusiveStartKey: exclusiveStartKey,
                    Limit: settings.scanPageSize,
                }),
            );
        } catch (error) {
            throw userFacingError(
                describeAwsError(
                    error,
                    `DynamoDB table '${settings.tableName}'`,
                    "check the catadataTableName config and the stack's region",
                ),
            );
        }
        items.push(...(page.Items ?? []));
        exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    return items;
}

/**
 * An object's bytes, or undefined when it does not exist. The SDK retries the request;
 * the body arrives after that, so a connection lost while reading it (or a body shorter
 * than its Content-Length) is tried again here, a bounded number of times with back-off.
 * A short body is never returned.
 */
async function readObject(
    s3: S3Client,
    bucket: string,
    key: string,
    abortSignal: AbortSignal,
): Promise<Uint8Array | undefined> {
    for (let attempt = 1; ; attempt++) {
        let object;
        try {
            object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal });
        } catch (error) {
            if (isMissingObject(error)) return undefined;
            throw error;
        }
        try {
            const body = await object.Body!.transformToByteArray();
            if (object.ContentLength !== undefined && body.length !== object.ContentLength) {
                throw new Error(`body of ${body.length} bytes, Content-Length ${object.ContentLength}`);
            }
            return body;
        } catch (error) {
            if (attempt >= BODY_READ_ATTEMPTS || abortSignal.aborted) {
                throw new Error(`reading the body failed ${attempt} times (last: ${(error as Error).message})`);
            }
            await sleep(backoffMs(attempt, BODY_READ_BACKOFF_MS) * (1 + Math.random()));
        }
    }
}

type CopyOutcome = { image: ManifestImage } | { skipped: SkippedImage } | { cancelled: true };
type ProbeOutcome = { usable: Label } | { skipped: SkippedImage } | { cancelled: true };

/** The longest split folder name: a key that fits with it fits on any side. */
const LONGEST_SPLIT = "validation";

/** Why an image's bytes cannot go into a dataset, or undefined when they can. */
function unusableBytes(body: Uint8Array): string | undefined {
    return isJpeg(body) ? undefined : "not a JPEG (no FF D8 FF header)";
}

/**
 * Whether an image can be copied, before the split is planned: its dataset key fits S3's limit
 * and its first bytes are a JPEG's (a ranged GET of 3 bytes). The split then counts only the
 * visits whose images will be copied, so a class keeps a visit on every side.
 */
async function probeImage(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    prefix: string,
    image: Label,
    abortSignal: AbortSignal,
): Promise<ProbeOutcome> {
    if (abortSignal.aborted) return { cancelled: true };
    const key = `${prefix}${LONGEST_SPLIT}/${image.label}/${datasetFileName(image.sourceKey, settings.imagesPrefix)}`;
    if (Buffer.byteLength(key, "utf8") > S3_MAX_KEY_BYTES) {
        const reason = `dataset key longer than S3's ${S3_MAX_KEY_BYTES}-byte limit`;
        return { skipped: { imageName: image.imageName, reason } };
    }
    let head: Uint8Array | undefined;
    try {
        head = await readHead(clients.s3, settings.imagesBucket, image.sourceKey, abortSignal);
    } catch (error) {
        throw sourceError(settings, image, error);
    }
    if (head === undefined) return { skipped: missingImage(settings, image) };
    const reason = unusableBytes(head);
    return reason ? { skipped: { imageName: image.imageName, reason } } : { usable: image };
}

function missingImage(settings: DataPrepSettings, image: Label): SkippedImage {
    return { imageName: image.imageName, reason: `missing object s3://${settings.imagesBucket}/${image.sourceKey}` };
}

function sourceError(settings: DataPrepSettings, image: Label, error: unknown): Error {
    return userFacingError(
        describeAwsError(
            error,
            `s3://${settings.imagesBucket}/${image.sourceKey}`,
            "check the imagesBucketName config",
        ),
    );
}

/** One image: a GET of the source and, unless a dry run, one PUT of the (repaired) copy. */
async function copyImage(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    prefix: string,
    image: PlannedImage,
    dryRun: boolean,
    abortSignal: AbortSignal,
): Promise<CopyOutcome> {
    if (abortSignal.aborted) return { cancelled: true };
    const key = `${prefix}${image.split}/${image.label}/${datasetFileName(image.sourceKey, settings.imagesPrefix)}`;
    let body: Uint8Array | undefined;
    try {
        body = await readObject(clients.s3, settings.imagesBucket, image.sourceKey, abortSignal);
    } catch (error) {
        throw sourceError(settings, image, error);
    }
    // Probed before the plan; changed since only by a race with a writer of the images bucket.
    if (body === undefined) return { skipped: missingImage(settings, image) };
    const reason = unusableBytes(body);
    if (reason) return { skipped: { imageName: image.imageName, reason } };
    const repaired = !hasEndMarker(body);
    const content = repaired ? Buffer.concat([body, Buffer.from([0xff, 0xd9])]) : body;
    if (!dryRun) {
        await clients.s3.send(
            new PutObjectCommand({
                Bucket: settings.trainingBucket,
                Key: key,
                Body: content,
                ContentType: "image/jpeg",
            }),
            { abortSignal },
        );
    }
    const copied: ManifestImage = {
        imageName: image.imageName,
        sourceKey: image.sourceKey,
        key,
        class: image.label,
        split: image.split,
        visit: image.visit,
        ...(image.capturedAt ? { capturedAt: image.capturedAt } : {}),
        ...(image.camera ? { camera: image.camera } : {}),
        repaired,
        bytes: content.length,
    };
    return { image: copied };
}

/**
 * Runs `work` on every item, at most `concurrency` at once. The first fatal error cancels the
 * items still queued and aborts those in flight; it is thrown only once nothing is in flight,
 * so no work outlives the invocation.
 */
async function runAll<T, R>(
    items: readonly T[],
    concurrency: number,
    work: (item: T, abortSignal: AbortSignal) => Promise<R>,
): Promise<R[]> {
    const limit = pLimit(concurrency);
    const controller = new AbortController();
    // Every request in flight listens on the one signal: more than Node's default of 10.
    setMaxListeners(0, controller.signal);
    let firstError: unknown;
    const settled = await Promise.allSettled(
        items.map((item) =>
            limit(async () => {
                try {
                    return await work(item, controller.signal);
                } catch (error) {
                    if (!controller.signal.aborted) {
                        firstError = error;
                        controller.abort();
                    }
                    throw error;
                }
            }),
        ),
    );
    if (firstError !== undefined) throw firstError;
    return settled.map((outcome) => (outcome as PromiseFulfilledResult<R>).value);
}

/** Every object under the prefix, key → size. */
async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
    const objects = new Map<string, number>();
    let token: string | undefined;
    do {
        const page = await s3.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) objects.set(object.Key!, object.Size ?? 0);
        token = page.NextContinuationToken;
    } while (token);
    return objects;
}

/** Throws unless the objects written under the dataset's prefix are exactly the manifest's, size for size. */
async function checkWritten(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    manifest: DatasetManifest,
): Promise<void> {
    const prefix = datasetPrefix(manifest.datasetId);
    const written = await listObjects(clients.s3, settings.trainingBucket, prefix);
    written.delete(`${prefix}manifest.json`);
    const problems: string[] = [];
    const keys = new Set<string>();
    for (const image of manifest.images) {
        if (keys.has(image.key)) problems.push(`${image.key} is listed twice`);
        keys.add(image.key);
        const size = written.get(image.key);
        if (size === undefined) problems.push(`${image.key} is missing`);
        else if (size !== image.bytes) problems.push(`${image.key} holds ${size} bytes, not ${image.bytes}`);
    }
    for (const key of written.keys()) if (!keys.has(key)) problems.push(`${key} is not in the manifest`);
    if (problems.length > 0) {
        throw userFacingError(
            `Dataset ${manifest.datasetId} does not match its manifest (${manifest.images.length} images listed, ${written.size} objects ` +
                `written; ${problems.slice(0, 3).join("; ")}), so it was not marked latest: run data prep again.`,
        );
    }
}

/** The event, defaults filled in from the stack's split settings; a retired field is refused by name. */
function readEvent(rawEvent: unknown, settings: DataPrepSettings): DataPrepEvent {
    const retired = Object.keys(RETIRED_SETTINGS).find((key) => Object.hasOwn((rawEvent ?? {}) as object, key));
    if (retired) throw userFacingError(`Invalid data-prep event: ${RETIRED_SETTINGS[retired]}.`);
    const given = validateEvent<DataPrepEvent>(rawEvent, EVENT_RULES, "data-prep");
    const event: DataPrepEvent = {
        dryRun: given.dryRun ?? false,
        validationSplit: given.validationSplit ?? settings.split.validationSplit,
        testSplit: given.testSplit ?? settings.split.testSplit,
        maxNoCatSamples: given.maxNoCatSamples ?? settings.split.maxNoCatSamples,
        visitGapMinutes: given.visitGapMinutes ?? settings.split.visitGapMinutes,
        splitNumberBlock: given.splitNumberBlock ?? settings.split.splitNumberBlock,
    };
    if (!leavesMostForTraining(event.validationSplit, event.testSplit)) {
        throw userFacingError(
            `Invalid "validationSplit" ${event.validationSplit} with "testSplit" ${event.testSplit}: together they must stay below 0.5, so that most images train.`,
        );
    }
    return event;
}

/** The first bytes of an object, or undefined when it does not exist. */
async function readHead(
    s3: S3Client,
    bucket: string,
    key: string,
    abortSignal: AbortSignal,
): Promise<Uint8Array | undefined> {
    try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-2" }), {
            abortSignal,
        });
        return await object.Body!.transformToByteArray();
    } catch (error) {
        if (isMissingObject(error)) return undefined;
        throw error;
    }
}

/** Every usable image copied by the plan, sorted by key, and every image left out. */
async function copyDataset(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    event: DataPrepEvent,
    prefix: string,
    labels: readonly Label[],
): Promise<{ images: ManifestImage[]; skipped: SkippedImage[] }> {
    const rule: SplitRule = { classes: settings.classes, noCatClass: settings.noCatClass, ...event };
    const skipped: SkippedImage[] = [];
    const usable: Label[] = [];
    const probe = (image: Label, signal: AbortSignal) => probeImage(clients, settings, prefix, image, signal);
    for (const outcome of await runAll(labels, settings.copyConcurrency, probe)) {
        if ("usable" in outcome) usable.push(outcome.usable);
        else if ("skipped" in outcome) skipped.push(outcome.skipped);
    }
    const copy = (image: PlannedImage, signal: AbortSignal) =>
        copyImage(clients, settings, prefix, image, event.dryRun, signal);
    const images: ManifestImage[] = [];
    for (const outcome of await runAll(planSplit(usable, rule), settings.copyConcurrency, copy)) {
        if ("image" in outcome) images.push(outcome.image);
        else if ("skipped" in outcome) skipped.push(outcome.skipped);
    }
    images.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { images, skipped };
}

/** Throws, naming them, when a class lacks a training or a validation image. */
function checkEveryClassTrains(settings: DataPrepSettings, classDistribution: Record<string, ClassCounts>): void {
    const short = Object.entries(classDistribution).filter(([, c]) => c.training === 0 || c.validation === 0);
    if (short.length === 0) return;
    const detail = short
        .map(([name, c]) => `${name} (available ${c.available}, training ${c.training}, validation ${c.validation})`)
        .join("; ");
    throw userFacingError(
        `Every class needs at least one training and one validation image, and these do not: ${detail}. ` +
            `Label more images of them in '${settings.tableName}', or remove them from the classes config.`,
    );
}

/** The manifest of the images copied: the settings, the counts per class and side, every image and every skip. */
function manifestOf(
    settings: DataPrepSettings,
    event: DataPrepEvent,
    datasetId: string,
    createdAt: Date,
    copied: { images: ManifestImage[]; skipped: SkippedImage[]; available: Map<string, number>; unlabelled: number },
): DatasetManifest {
    const { images, skipped, available, unlabelled } = copied;
    const classDistribution = countClasses(settings.classes, available, images);
    checkEveryClassTrains(settings, classDistribution);
    const count = (split: string) => images.filter((i) => i.split === split).length;
    const { dryRun: _dryRun, ...split } = event;
    return {
        datasetId,
        createdAt: createdAt.toISOString(),
        sourceBucket: settings.imagesBucket,
        sourcePrefix: settings.imagesPrefix,
        classes: settings.classes,
        ...split,
        classDistribution,
        trainingImages: count("training"),
        validationImages: count("validation"),
        testImages: count("test"),
        repairedImages: images.filter((i) => i.repaired).length,
        unlabelledImages: unlabelled,
        images,
        skipped,
    };
}

/** The manifest, the check of what was written against it, then latest.json. */
async function publishDataset(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    manifest: DatasetManifest,
): Promise<void> {
    const { datasetId } = manifest;
    await putJsonObject(clients.s3, settings.trainingBucket, `${datasetPrefix(datasetId)}manifest.json`, manifest);
    await checkWritten(clients, settings, manifest);
    try {
        await putJsonObject(clients.s3, settings.trainingBucket, LATEST_DATASET_KEY, { datasetId });
    } catch (error) {
        throw userFacingError(
            `Dataset ${datasetId} is complete but was not marked latest (${describeAwsError(error, `s3://${settings.trainingBucket}/${LATEST_DATASET_KEY}`, "check the function's role")}): ` +
                `train on it with {"skipDataPrep": true, "datasetId": "${datasetId}"} (npx bootboots train --dataset ${datasetId}), or run data prep again.`,
        );
    }
}

/** What data prep answers for a dataset built (or counted). */
function successOf(settings: DataPrepSettings, manifest: DatasetManifest, dryRun: boolean, started: number) {
    const uri = (side: string) => `s3://${settings.trainingBucket}/${datasetPrefix(manifest.datasetId)}${side}/`;
    return {
        success: true as const,
        dryRun,
        datasetId: manifest.datasetId,
        trainingUri: uri("training"),
        validationUri: uri("validation"),
        testUri: uri("test"),
        trainingImages: manifest.trainingImages,
        validationImages: manifest.validationImages,
        testImages: manifest.testImages,
        classDistribution: manifest.classDistribution,
        repairedImages: manifest.repairedImages,
        unlabelledImages: manifest.unlabelledImages,
        skipped: manifest.skipped.slice(0, SKIPPED_IN_RESULT),
        skippedCount: manifest.skipped.length,
        durationMs: Date.now() - started,
    };
}

/**
 * Builds a new dataset snapshot under `datasets/<id>/` from the labels table and the
 * images bucket: the labels, NoCat's sample, a probe of every image, the split by visit of
 * those that can be copied, the copies; then checks that what was written matches its
 * manifest and points `datasets/latest.json` at it. A failure before that last write
 * leaves the previous dataset as the latest one.
 */
export async function prepareDataset(
    clients: DataPrepClients,
    settings: DataPrepSettings,
    rawEvent: unknown,
    now: () => Date = () => new Date(),
): Promise<DataPrepResult> {
    const started = Date.now();
    try {
        const event = readEvent(rawEvent, settings);
        const resolved = resolveLabels(await scanTable(clients, settings), settings.classes, settings.imagesPrefix);
        const sample = sampleLabels(resolved.labels, {
            classes: settings.classes,
            noCatClass: settings.noCatClass,
            ...event,
        });
        const datasetId = newDatasetId(now(), randomBytes(2).toString("hex"));
        const copied = await copyDataset(clients, settings, event, datasetPrefix(datasetId), sample.kept);
        const manifest = manifestOf(settings, event, datasetId, now(), {
            images: copied.images,
            skipped: [...resolved.skipped, ...copied.skipped],
            available: sample.available,
            unlabelled: resolved.unlabelled,
        });
        if (!event.dryRun) await publishDataset(clients, settings, manifest);
        return successOf(settings, manifest, event.dryRun, started);
    } catch (error) {
        if (isUserFacing(error)) return { success: false, error: error.message };
        return {
            success: false,
            error: describeAwsError(
                error,
                `data prep into s3://${settings.trainingBucket}`,
                "check the bucket exists and the function's role",
            ),
        };
    }
}
