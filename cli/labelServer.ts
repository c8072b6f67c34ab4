import { awsErrorName } from "../lib/errors";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { randomBytes } from "crypto";
import * as http from "http";
import { Readable } from "stream";
import { CliContext } from "./context";
import { CliError, explainAwsError } from "./errors";
import { LABELLING_QUEUE_KEY } from "../lib/layout";
import { LabellingQueue, QueueItem } from "./labelling";
import { LABEL_PAGE } from "./labelPage";
import { getObjectJson } from "./s3json";

/** The label for an image with more than one cat in it (data prep leaves such images out). */
export const MULTI_LABEL = "Multi";

/** The stack the labeller is run against, to refuse a queue made for another one. */
export interface LabelStack {
    readonly trainingBucket: string;
    readonly imagesBucket: string;
    readonly catadataTable: string;
    /** The model serving now, or undefined. */
    readonly modelDataUrl?: string;
}

export interface LabelServer {
    /** The page's address, token included. */
    readonly url: string;
    readonly token: string;
    close(): Promise<void>;
}

/** A label this session wrote, so that `u` can take it back exactly. */
interface Written {
    readonly key: string;
    readonly rowName: string;
    readonly label: string;
    /** True when the row did not exist before: undo deletes it. */
    readonly createdRow: boolean;
}

class HttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly details: Record<string, unknown> = {},
    ) {
        super(message);
    }
}

/** Why a DynamoDB condition failed or a call could not be made, as the page says it. */
function awsFailure(error: unknown, doing: string): HttpError {
    return new HttpError(503, `${explainAwsError(error, doing).message} The label was not saved: try again.`);
}

/**
 * The labelling web server: 127.0.0.1 only, every request carries the random token, images
 * streamed from S3, every label written to catadata at once with a conditional write.
 */
export async function startLabelServer(context: CliContext, stack: LabelStack, port = 0): Promise<LabelServer> {
    const { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } =
        await import("@aws-sdk/client-dynamodb");
    const { GetObjectCommand } = await import("@aws-sdk/client-s3");
    const queue = await getObjectJson<LabellingQueue>(
        context.aws.s3,
        stack.trainingBucket,
        LABELLING_QUEUE_KEY,
        `No labelling queue in s3://${stack.trainingBucket}/${LABELLING_QUEUE_KEY}: run npx bootboots suggest first.`,
    );
    const token = randomBytes(16).toString("hex");
    const otherStack =
        queue.catadataTable !== stack.catadataTable || queue.imagesBucket !== stack.imagesBucket
            ? `This queue was made for table ${queue.catadataTable} and bucket ${queue.imagesBucket}, not this stack's (${stack.catadataTable}, ${stack.imagesBucket}): run npx bootboots suggest for this stack. Nothing can be labelled here.`
            : undefined;
    const otherModel =
        stack.modelDataUrl && stack.modelDataUrl !== queue.modelDataUrl
            ? `This queue was ranked by ${queue.modelDataUrl}, but the endpoint now serves ${stack.modelDataUrl}: labels are still useful, and npx bootboots suggest ranks the rest again.`
            : undefined;

    const done = new Map<string, "labelled" | "skipped">();
    const written: Written[] = [];
    const perClass: Record<string, number> = Object.fromEntries([...queue.classes, MULTI_LABEL].map((c) => [c, 0]));
    let activeSession = "";

    const rowKey = (rowName: string): Record<string, AttributeValue> => ({ imageName: { S: rowName } });
    const rowNameOf = (item: QueueItem) => item.rowName ?? item.key.slice(queue.imagesPrefix.length);
    const itemOf = (key: string) => {
        const item = queue.items.find((i) => i.key === key);
        if (!item) throw new HttpError(404, `${key} is not in the queue.`);
        return item;
    };

    /** The label on a row now, or undefined (no row, or no label). */
    async function currentLabel(rowName: string): Promise<{ exists: boolean; label?: string }> {
        try {
            const got = await context.aws.dynamodb.send(
                new GetItemCommand({ TableName: queue.catadataTable, Key: rowKey(rowName), ConsistentRead: true }),
            );
            return { exists: got.Item !== undefined, label: got.Item?.cat?.S };
        } catch (error) {
            throw awsFailure(error, `reading the row ${rowName}`);
        }
    }

    /**
     * Writes the label once: on the row that has none, or as a new row; never over a label
     * set meanwhile (by someone else, or by a write whose answer was lost: then it is the same).
     */
    async function writeLabel(item: QueueItem, label: string): Promise<Written | undefined> {
        const rowName = rowNameOf(item);
        for (let attempt = 0; attempt < 2; attempt++) {
            const now = await currentLabel(rowName);
            if (now.label === label) return undefined;
            if (now.label) {
                throw new HttpError(
                    409,
                    `Someone else labelled ${item.key} as ${now.label} meanwhile: their label stays.`,
                    { theirs: now.label },
                );
            }
            try {
                if (now.exists) {
                    await context.aws.dynamodb.send(
                        new UpdateItemCommand({
                            TableName: queue.catadataTable,
                            Key: rowKey(rowName),
                            UpdateExpression: "SET #cat = :label",
                            ConditionExpression: "attribute_exists(imageName) AND attribute_not_exists(#cat)",
                            ExpressionAttributeNames: { "#cat": "cat" },
                            ExpressionAttributeValues: { ":label": { S: label } },
                        }),
                    );
                    return { key: item.key, rowName, label, createdRow: false };
                }
                await context.aws.dynamodb.send(
                    new PutItemCommand({
                        TableName: queue.catadataTable,
                        Item: { ...rowKey(rowName), cat: { S: label } },
                        ConditionExpression: "attribute_not_exists(imageName)",
                    }),
                );
                return { key: item.key, rowName, label, createdRow: true };
            } catch (error) {
                // Someone wrote the row between the read and the write: read it again.
                if (awsErrorName(error) !== "ConditionalCheckFailedException")
                    throw awsFailure(error, `labelling ${item.key}`);
            }
        }
        throw new HttpError(409, `The row of ${item.key} keeps changing under us: reload the page.`);
    }

    /** Takes back the last label this session wrote, if it is still ours. */
    async function undo(): Promise<Written> {
        const last = written.at(-1);
        if (!last) throw new HttpError(400, "Nothing to undo.");
        try {
            const ours = {
                ConditionExpression: "#cat = :label",
                ExpressionAttributeNames: { "#cat": "cat" },
                ExpressionAttributeValues: { ":label": { S: last.label } },
            };
            if (last.createdRow) {
                await context.aws.dynamodb.send(
                    new DeleteItemCommand({ TableName: queue.catadataTable, Key: rowKey(last.rowName), ...ours }),
                );
            } else {
                await context.aws.dynamodb.send(
                    new UpdateItemCommand({
                        TableName: queue.catadataTable,
                        Key: rowKey(last.rowName),
                        UpdateExpression: "REMOVE #cat",
                        ...ours,
                    }),
                );
            }
        } catch (error) {
            if (awsErrorName(error) === "ConditionalCheckFailedException") {
                throw new HttpError(
                    409,
                    `The label of ${last.key} was changed by someone else since: it was left as it is.`,
                );
            }
            throw awsFailure(error, `undoing the label of ${last.key}`);
        }
        written.pop();
        done.delete(last.key);
        perClass[last.label] -= 1;
        return last;
    }

    function state(session: string) {
        const left = queue.items.filter((i) => !done.has(i.key));
        return {
            session,
            classes: queue.classes.map((className, i) => ({ className, key: String(i + 1) })),
            multiLabel: MULTI_LABEL,
            current: left[0] ?? null,
            labelled: written.length,
            skipped: [...done.values()].filter((v) => v === "skipped").length,
            left: left.length,
            total: queue.items.length,
            perClass,
            canUndo: written.length > 0,
            blocking: otherStack ?? null,
            warning: otherModel ?? null,
        };
    }

    async function handle(request: http.IncomingMessage, response: http.ServerResponse, url: URL): Promise<void> {
        if (request.method === "GET" && url.pathname === "/") {
            response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
            response.end(LABEL_PAGE.replace("__TOKEN__", token));
            return;
        }
        if (request.method === "GET" && url.pathname === "/api/image") {
            const item = itemOf(url.searchParams.get("key") ?? "");
            try {
                const object = await context.aws.s3.send(
                    new GetObjectCommand({ Bucket: queue.imagesBucket, Key: item.key }),
                );
                response.writeHead(200, {
                    "content-type": object.ContentType ?? "image/jpeg",
                    "cache-control": "no-store",
                });
                (object.Body as Readable).pipe(response);
            } catch (error) {
                const name = awsErrorName(error);
                if (name === "NoSuchKey" || name === "NotFound")
                    throw new HttpError(
                        404,
                        `${item.key} is gone from s3://${queue.imagesBucket}: press s to skip it.`,
                    );
                throw awsFailure(error, `reading ${item.key}`);
            }
            return;
        }
        if (request.method === "GET" && url.pathname === "/api/state") {
            // Opening the page claims the queue; an older page is told so on its next action.
            activeSession = randomBytes(8).toString("hex");
            return json(response, 200, state(activeSession));
        }
        if (request.method === "POST") {
            const body = JSON.parse((await readBody(request)) || "{}");
            if (body.session !== activeSession) {
                throw new HttpError(
                    409,
                    "This queue was opened in another page: continue there, or reload this page to take it back. Nothing was written from here.",
                );
            }
            if (otherStack) throw new HttpError(409, otherStack);
            if (url.pathname === "/api/label") {
                const item = itemOf(body.key);
                if (done.has(item.key)) throw new HttpError(409, `${item.key} was already done in this session.`);
                const label = body.label === MULTI_LABEL ? MULTI_LABEL : queue.classes.find((c) => c === body.label);
                if (!label) throw new HttpError(400, `Unknown label ${JSON.stringify(body.label)}.`);
                let write: Written | undefined;
                try {
                    write = await writeLabel(item, label);
                } catch (error) {
                    // Their label stands: the image is done here too.
                    if (error instanceof HttpError && error.details.theirs) done.set(item.key, "skipped");
                    throw error;
                }
                if (!write) {
                    done.set(item.key, "skipped");
                    return json(response, 200, {
                        ...state(activeSession),
                        message: `${item.key} was already labelled ${label}: nothing changed.`,
                    });
                }
                written.push(write);
                done.set(item.key, "labelled");
                perClass[label] += 1;
                return json(response, 200, { ...state(activeSession), message: `${item.key}: ${label}` });
            }
            if (url.pathname === "/api/skip") {
                done.set(itemOf(body.key).key, "skipped");
                return json(response, 200, { ...state(activeSession), message: `${body.key}: skipped` });
            }
            if (url.pathname === "/api/undo") {
                const undone = await undo();
                return json(response, 200, {
                    ...state(activeSession),
                    message: `Undone: ${undone.key} is unlabelled again.`,
                });
            }
        }
        throw new HttpError(404, `No such page: ${request.method} ${url.pathname}`);
    }

    const server = http.createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://127.0.0.1");
        if ((url.searchParams.get("token") ?? request.headers["x-bootboots-token"]) !== token) {
            json(response, 403, { error: "This page needs the address bootboots label printed, token included." });
            return;
        }
        handle(request, response, url).catch((error) => {
            if (error instanceof HttpError)
                json(response, error.status, {
                    error: error.message,
                    ...error.details,
                    ...(activeSession ? { state: state(activeSession) } : {}),
                });
            else json(response, 500, { error: `Unexpected failure: ${(error as Error).message}` });
        });
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", (error) =>
            reject(
                new CliError(
                    `Could not listen on 127.0.0.1:${port} (${(error as Error).message}): choose another --port.`,
                ),
            ),
        );
        server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = server.address() as { port: number };
    return {
        url: `http://127.0.0.1:${address.port}/?token=${token}`,
        token,
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
}

function json(response: http.ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    response.end(JSON.stringify(body));
}

function readBody(request: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk) => chunks.push(chunk));
        request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        request.on("error", reject);
    });
}
