import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";

/** The label counts of the original system's data (Feb 2026): 3,064 labels. */
export const SEED_COUNTS: Readonly<Record<string, number>> = {
    NoCat: 2067,
    Tau: 255,
    Kappa: 235,
    Chi: 196,
    Boots: 190,
    Mu: 62,
    Wolf: 59,
};

export const IMAGES_PREFIX = "catcam-training/";

/** A tiny JPEG-shaped file: SOI, a comment naming it (so each file differs), EOI. */
export function tinyJpeg(id: string, options: { truncated?: boolean } = {}): Buffer {
    const comment = Buffer.from(`bootboots test image ${id}`);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(comment.length + 2);
    const parts = [Buffer.from([0xff, 0xd8, 0xff, 0xfe]), length, comment];
    if (!options.truncated) parts.push(Buffer.from([0xff, 0xd9]));
    return Buffer.concat(parts);
}

export interface SeedLabel {
    /** As stored in the table: a bare file name or a full key under the prefix. */
    readonly imageName: string;
    /** The `cat` attribute; omitted rows have no object uploaded when `body` is null. */
    readonly cat: string;
    /** The object's bytes; null for a label whose image is missing. */
    readonly body: Buffer | null;
    /** The row's camera, as the infer Lambda writes it. */
    readonly camera?: string;
}

/** Both name styles of the original: old numeric `.jpeg` names and new timestamp `.jpg` names. */
export function seedName(className: string, index: number): string {
    const classNumber = Object.keys(SEED_COUNTS).indexOf(className) + 1;
    if (index % 2 === 0) return `${classNumber * 1_000_000 + index}.jpeg`;
    const second = String(index % 60).padStart(2, "0");
    const minute = String(Math.floor(index / 60) % 60).padStart(2, "0");
    return `2026-02-${String(1 + (index % 28)).padStart(2, "0")}T10_${minute}_${second}_${className}.jpg`;
}

/** Labels at the seed's scale; every seventh one is stored as a full key under the prefix. */
export function seedLabels(counts: Readonly<Record<string, number>> = SEED_COUNTS, firstIndex = 0): SeedLabel[] {
    const labels: SeedLabel[] = [];
    for (const [className, count] of Object.entries(counts)) {
        for (let i = firstIndex; i < firstIndex + count; i++) {
            const name = seedName(className, i);
            labels.push({
                imageName: i % 7 === 3 ? `${IMAGES_PREFIX}${name}` : name,
                cat: className,
                body: tinyJpeg(`${className}-${i}`),
            });
        }
    }
    return labels;
}

export function sourceKey(imageName: string): string {
    return imageName.startsWith(IMAGES_PREFIX) ? imageName : `${IMAGES_PREFIX}${imageName}`;
}

export async function createWorld(
    s3: S3Client,
    dynamodb: DynamoDBClient,
    world: { imagesBucket: string; trainingBucket: string; table: string },
) {
    await s3.send(new CreateBucketCommand({ Bucket: world.imagesBucket }));
    await s3.send(new CreateBucketCommand({ Bucket: world.trainingBucket }));
    await dynamodb.send(
        new CreateTableCommand({
            TableName: world.table,
            KeySchema: [{ AttributeName: "imageName", KeyType: "HASH" }],
            AttributeDefinitions: [{ AttributeName: "imageName", AttributeType: "S" }],
            BillingMode: "PAY_PER_REQUEST",
        }),
    );
}

/** The events table as the camera API's stack creates it: partition `day`, sort `eventId`. */
export async function createEventsTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
    await dynamodb.send(
        new CreateTableCommand({
            TableName: tableName,
            KeySchema: [
                { AttributeName: "day", KeyType: "HASH" },
                { AttributeName: "eventId", KeyType: "RANGE" },
            ],
            AttributeDefinitions: [
                { AttributeName: "day", AttributeType: "S" },
                { AttributeName: "eventId", AttributeType: "S" },
            ],
            BillingMode: "PAY_PER_REQUEST",
        }),
    );
}

/** The camera API's visits table (components/cameraApi.ts): one item per camera, as the stack names it under the mocks. */
export const VISITS_TABLE = "bootboots-camera-visits-a1b2c3d";

export async function createVisitsTable(dynamodb: DynamoDBClient, tableName = VISITS_TABLE): Promise<void> {
    await dynamodb.send(
        new CreateTableCommand({
            TableName: tableName,
            KeySchema: [{ AttributeName: "camera", KeyType: "HASH" }],
            AttributeDefinitions: [{ AttributeName: "camera", AttributeType: "S" }],
            BillingMode: "PAY_PER_REQUEST",
        }),
    );
}

/** Writes the labels to the table and their images (where they have one) to the bucket. */
export async function putLabels(
    s3: S3Client,
    dynamodb: DynamoDBClient,
    world: { imagesBucket: string; table: string },
    labels: readonly SeedLabel[],
): Promise<void> {
    const limit = pLimit(16);
    await Promise.all(
        labels
            .filter((l) => l.body !== null)
            .map((l) =>
                limit(() =>
                    s3.send(
                        new PutObjectCommand({
                            Bucket: world.imagesBucket,
                            Key: sourceKey(l.imageName),
                            Body: l.body!,
                        }),
                    ),
                ),
            ),
    );
    for (let i = 0; i < labels.length; i += 25) {
        const batch = labels.slice(i, i + 25);
        await dynamodb.send(
            new BatchWriteItemCommand({
                RequestItems: {
                    [world.table]: batch.map((l) => ({
                        PutRequest: {
                            Item: {
                                imageName: { S: l.imageName },
                                cat: { S: l.cat },
                                ...(l.camera ? { camera: { S: l.camera } } : {}),
                            },
                        },
                    })),
                },
            }),
        );
    }
}

/** The buckets and table of a stack in account 123456789012, eu-west-2, as the mocks name them. */
export const WORLD = {
    imagesBucket: "bootboots-images-123456789012-eu-west-2",
    trainingBucket: "bootboots-training-data-123456789012",
    modelBucket: "bootboots-models-123456789012",
    table: "catadata",
} as const;

/** A small labelled set that every class can train on: 170 labels. */
export const SMALL_SEED: Readonly<Record<string, number>> = {
    NoCat: 60,
    Tau: 20,
    Kappa: 20,
    Chi: 20,
    Boots: 20,
    Mu: 15,
    Wolf: 15,
};

/** Empties moto, then creates the stack's buckets and the labels table holding the labels given. */
export async function seedWorld(
    endpoint: string,
    labels: readonly SeedLabel[],
    clientConfig: (endpoint: string) => object,
) {
    const direct = { s3: new S3Client(clientConfig(endpoint)), dynamodb: new DynamoDBClient(clientConfig(endpoint)) };
    await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
    await createWorld(direct.s3, direct.dynamodb, WORLD);
    await direct.s3.send(new CreateBucketCommand({ Bucket: WORLD.modelBucket }));
    await putLabels(direct.s3, direct.dynamodb, WORLD, labels);
    return direct;
}

/** A tiny JPEG with an EXIF APP1 segment carrying DateTimeOriginal (`YYYY:MM:DD HH:MM:SS`) and, if given, OffsetTimeOriginal. */
export function jpegWithExif(id: string, dateTimeOriginal: string, offset?: string): Buffer {
    const ascii = (text: string) => Buffer.from(`${text}\0`, "latin1");
    const date = ascii(dateTimeOriginal);
    const zone = offset ? ascii(offset) : undefined;
    // TIFF, big-endian: IFD0 with one entry (the Exif IFD's offset), then the Exif IFD, then the values.
    const exifIfdOffset = 8 + 2 + 12 + 4;
    const entries = zone ? 2 : 1;
    const valuesOffset = exifIfdOffset + 2 + entries * 12 + 4;
    const entry = (tag: number, type: number, count: number, value: number) => {
        const b = Buffer.alloc(12);
        b.writeUInt16BE(tag, 0);
        b.writeUInt16BE(type, 2);
        b.writeUInt32BE(count, 4);
        b.writeUInt32BE(value, 8);
        return b;
    };
    const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
    const tiff = Buffer.concat([
        Buffer.from("MM\0*\0\0\0\x08", "latin1"),
        u16(1),
        entry(0x8769, 4, 1, exifIfdOffset),
        Buffer.alloc(4),
        u16(entries),
        entry(0x9003, 2, date.length, valuesOffset),
        ...(zone ? [entry(0x9011, 2, zone.length, valuesOffset + date.length)] : []),
        Buffer.alloc(4),
        date,
        ...(zone ? [zone] : []),
    ]);
    const app1 = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(app1.length + 2);
    return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1]), length, app1, tinyJpeg(id).subarray(2)]);
}
