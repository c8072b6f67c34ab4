import * as fs from "fs";
import * as path from "path";
import { SingleBar } from "cli-progress";
import { isJpeg } from "../../lib/jpeg";
import { awsErrorName } from "../../lib/errors";
import { CliContext } from "../context";
import { CliError, EXIT, explainAwsError } from "../errors";
import { readImageFile } from "../files";
import { ExifTimes, captureTimeOf, contentHash, hashOfPhotoName, photoName } from "../photos";

export interface ImportOptions {
    /** The class of every photo given: writes their catadata rows. */
    readonly label?: string;
    readonly concurrency: number;
    readonly json?: boolean;
}

/** What became of one photo. */
export type ImportOutcome =
    | {
          readonly file: string;
          readonly imported: string;
          readonly capturedFrom: "exif" | "file";
          readonly labelled: boolean;
      }
    | { readonly file: string; readonly skipped: string };

/** Where the photos go, and what is known there already. */
interface Destination {
    readonly bucket: string;
    readonly prefix: string;
    readonly table: string;
    /** Content hashes of the photos imported before, from their names. */
    readonly imported: Set<string>;
    /** Content hash → the first file of this run that has it. */
    readonly seen: Map<string, string>;
}

/** Every file named, and every file under the folders named, in a stable order; hidden files left out. */
export async function* filesOf(paths: readonly string[]): AsyncGenerator<string> {
    for (const given of paths) {
        const stat = await fs.promises.stat(given).catch(() => undefined);
        if (!stat) throw new CliError(`${given}: no such file or folder.`, EXIT.usage);
        if (!stat.isDirectory()) {
            yield given;
            continue;
        }
        const entries = (await fs.promises.readdir(given, { withFileTypes: true }))
            .filter((e) => !e.name.startsWith("."))
            .sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const entry of entries) yield* filesOf([path.join(given, entry.name)]);
    }
}

/** How many files the paths name, for the progress bar (a walk of names only). */
async function countFiles(paths: readonly string[]): Promise<number> {
    let total = 0;
    for await (const _ of filesOf(paths)) total += 1;
    return total;
}

/**
 * Runs `work` on each item as the walk yields it, `concurrency` at once: items are drawn only
 * when a worker is free, so no more than `concurrency` photos are ever read at a time.
 */
async function inPool<T, R>(items: AsyncIterator<T>, concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    const worker = async () => {
        for (let next = await items.next(); !next.done; next = await items.next()) results.push(await work(next.value));
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
}

/** The content hashes of the photos already imported under the prefix (their names carry them). */
async function importedHashes(context: CliContext, bucket: string, prefix: string): Promise<Set<string>> {
    const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
    const hashes = new Set<string>();
    let token: string | undefined;
    do {
        const page = await context.aws.s3
            .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
            .catch((error) => {
                throw explainAwsError(error, `listing s3://${bucket}/${prefix}`);
            });
        for (const object of page.Contents ?? []) {
            const hash = hashOfPhotoName(object.Key ?? "");
            if (hash) hashes.add(hash);
        }
        token = page.NextContinuationToken;
    } while (token);
    return hashes;
}

/**
 * What exifr reads: the two capture-time fields, as written. One object for every photo: exifr
 * keeps what it derives from an options object, so a new object per photo grew the heap by
 * about 8 KB a photo (bench:import shows it).
 */
const EXIF_OPTIONS = { pick: ["DateTimeOriginal", "OffsetTimeOriginal"], reviveValues: false };

/** The capture time of a photo: EXIF, else the file's modification time. */
async function captured(file: string, bytes: Buffer) {
    const exifr = (await import("exifr")).default;
    const exif = (await exifr.parse(bytes, EXIF_OPTIONS).catch(() => undefined)) as ExifTimes | undefined;
    return captureTimeOf(exif, (await fs.promises.stat(file)).mtime);
}

/** Writes the photo under its name, unless that object exists already (If-None-Match). */
async function upload(context: CliContext, to: Destination, key: string, bytes: Buffer): Promise<boolean> {
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    try {
        await context.aws.s3.send(
            new PutObjectCommand({
                Bucket: to.bucket,
                Key: key,
                Body: bytes,
                ContentType: "image/jpeg",
                IfNoneMatch: "*",
            }),
        );
        return true;
    } catch (error) {
        if (awsErrorName(error) === "PreconditionFailed") return false;
        throw explainAwsError(error, `writing s3://${to.bucket}/${key}`);
    }
}

/** The photo's catadata row with its label, unless the row exists (a label is never written over). */
async function labelRow(context: CliContext, table: string, imageName: string, label: string): Promise<boolean> {
    const { PutItemCommand } = await import("@aws-sdk/client-dynamodb");
    try {
        await context.aws.dynamodb.send(
            new PutItemCommand({
                TableName: table,
                Item: { imageName: { S: imageName }, cat: { S: label }, source: { S: "import" } },
                ConditionExpression: "attribute_not_exists(imageName)",
            }),
        );
        return true;
    } catch (error) {
        if (awsErrorName(error) === "ConditionalCheckFailedException") return false;
        throw explainAwsError(error, `writing the label of ${imageName} to ${table}`);
    }
}

/** One photo: read, checked, named by capture time and content, uploaded once, and labelled when asked. */
async function importOne(context: CliContext, to: Destination, file: string, label?: string): Promise<ImportOutcome> {
    const bytes = await readImageFile(file).catch((error: Error) => error);
    if (bytes instanceof Error) return { file, skipped: bytes.message.replace(`${file}: `, "") };
    if (!isJpeg(bytes)) return { file, skipped: "not a JPEG" };
    const hash = contentHash(bytes);
    const twin = to.seen.get(hash);
    if (twin) return { file, skipped: `a duplicate of ${twin}` };
    to.seen.set(hash, file);
    if (to.imported.has(hash)) return { file, skipped: "imported before" };
    const { at, from } = await captured(file, bytes);
    const name = photoName(at, hash);
    if (!(await upload(context, to, `${to.prefix}${name}`, bytes))) return { file, skipped: "imported before" };
    const labelled = label ? await labelRow(context, to.table, name, label) : false;
    return { file, imported: name, capturedFrom: from, labelled };
}

/** The closing lines: how many went in, how many were labelled, and every skip with its reason. */
function summary(outcomes: readonly ImportOutcome[], to: Destination, label?: string): string[] {
    const imported = outcomes.filter((o): o is Extract<ImportOutcome, { imported: string }> => "imported" in o);
    const skipped = outcomes.filter((o): o is Extract<ImportOutcome, { skipped: string }> => "skipped" in o);
    const fromFile = imported.filter((o) => o.capturedFrom === "file").length;
    const labelled = imported.filter((o) => o.labelled).length;
    return [
        `Imported ${imported.length} of ${outcomes.length} photos to s3://${to.bucket}/${to.prefix}` +
            (fromFile ? ` (${fromFile} without EXIF capture time, named by the file's time)` : "") +
            (label ? `; labelled ${labelled} as ${label}` : "") +
            `; skipped ${skipped.length}.`,
        ...skipped.map((o) => `  skipped ${o.file}: ${o.skipped}`),
    ];
}

/**
 * Uploads the user's own photos into the images bucket under the images prefix, several at once
 * with a progress bar: each named by its capture time (so visits work) and content (so a second
 * run adds nothing); non-JPEGs and duplicates are skipped and named. With `--label`, the photos
 * of one cat get their catadata rows too.
 */
export async function importPhotos(
    context: CliContext,
    paths: readonly string[],
    options: ImportOptions,
): Promise<void> {
    const classes = options.label === undefined ? [] : (await context.stack.classes()).classes;
    if (options.label !== undefined && !classes.includes(options.label))
        throw new CliError(
            `--label ${options.label} is not one of the stack's classes (${classes.join(", ")}): add it with pulumi config set classes, or check its spelling.`,
            EXIT.usage,
        );
    const [bucket, prefix, table] = await Promise.all(
        (["imagesBucket", "imagesPrefix", "catadataTable"] as const).map((key) => context.stack.name(key)),
    );
    const to: Destination = {
        bucket,
        prefix,
        table,
        imported: await importedHashes(context, bucket, prefix),
        seen: new Map(),
    };
    const total = await countFiles(paths);
    const progress = new SingleBar({ format: "importing [{bar}] {value}/{total} photos", stream: process.stderr });
    progress.start(total, 0);
    let outcomes: ImportOutcome[];
    try {
        outcomes = await inPool(filesOf(paths), options.concurrency, async (file) => {
            const outcome = await importOne(context, to, file, options.label);
            progress.increment();
            return outcome;
        });
    } finally {
        progress.stop();
    }
    if (options.json) context.out(JSON.stringify({ bucket, prefix, outcomes }, null, 2));
    else for (const line of summary(outcomes, to, options.label)) context.out(line);
}
