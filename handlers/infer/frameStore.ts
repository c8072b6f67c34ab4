import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { marshall } from "@aws-sdk/util-dynamodb";
import { JPEG_CONTENT_TYPE, NotStored, cameraImageFileName } from "../../lib/cameraApi";
import { awsErrorName } from "../../lib/errors";

/** A write's outcome: it never rejects, so a write that fails at any moment cannot end the invocation. */
export type Stored =
    | { readonly part: NotStored; readonly ok: true }
    | { readonly part: NotStored; readonly ok: false; readonly error: string };

/** The stored image's name: its file name below the prefix, and its key. */
export interface StoredImage {
    readonly fileName: string;
    readonly key: string;
}

/** Names tried for one image before its write is given up: a name taken is never written over. */
const IMAGE_NAME_ATTEMPTS = 3;

/** A write's promise as an outcome; the rejection is caught at once, so it is never unhandled. */
export function settle(part: NotStored, write: Promise<unknown>): Promise<Stored> {
    return write.then(
        () => ({ part, ok: true as const }),
        (error) => ({
            part,
            ok: false as const,
            error: `${awsErrorName(error)}: ${(error as Error)?.message ?? error}`,
        }),
    );
}

/** Waits for the writes; what failed is named, with AWS's words for the log. */
export async function outcomes(
    writes: readonly Promise<Stored>[],
): Promise<{ notStored: NotStored[]; errors: string[] }> {
    const failed = (await Promise.all(writes)).filter((s): s is Extract<Stored, { ok: false }> => !s.ok);
    return { notStored: failed.map((s) => s.part), errors: failed.map((s) => `${s.part}: ${s.error}`) };
}

/**
 * The camera's writes: the image (only under a name nobody has: `If-None-Match: *`, and a new
 * name when one is taken), its catadata row (only a row that does not exist), and an event.
 */
export function frameStore(
    clients: { readonly s3: S3Client; readonly dynamodb: DynamoDBClient },
    settings: {
        readonly imagesBucket: string;
        readonly imagesPrefix: string;
        readonly catadataTable: string;
        readonly eventsTable: string;
    },
    newSuffix: () => string,
) {
    /** Writes the image under a new name; the name it was stored under, or the error. */
    async function image(at: Date, jpeg: Buffer): Promise<{ stored: Stored; image: StoredImage }> {
        let name = cameraImageFileName(at, newSuffix());
        for (let attempt = 1; ; attempt++) {
            const key = `${settings.imagesPrefix}${name}`;
            const put = clients.s3.send(
                new PutObjectCommand({
                    Bucket: settings.imagesBucket,
                    Key: key,
                    Body: jpeg,
                    ContentType: JPEG_CONTENT_TYPE,
                    IfNoneMatch: "*",
                }),
            );
            const stored = await settle("image", put);
            const taken = !stored.ok && /^PreconditionFailed/.test(stored.error);
            if (!taken || attempt >= IMAGE_NAME_ATTEMPTS) return { stored, image: { fileName: name, key } };
            name = cameraImageFileName(at, newSuffix());
        }
    }

    const row = (item: Record<string, unknown>): Promise<Stored> =>
        settle(
            "row",
            clients.dynamodb.send(
                new PutItemCommand({
                    TableName: settings.catadataTable,
                    Item: marshall(item),
                    ConditionExpression: "attribute_not_exists(imageName)",
                }),
            ),
        );

    const event = (item: object): Promise<Stored> =>
        settle(
            "event",
            clients.dynamodb.send(new PutItemCommand({ TableName: settings.eventsTable, Item: marshall(item) })),
        );

    return { image, row, event };
}
