import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { awsErrorName } from "../lib/errors";
import { explainAwsError } from "./errors";
import { LabellingQueue, QueueItem } from "./labelling";

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

/** A failure the page shows: its status and sentence, and what else the page needs to show it. */
export class HttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly details: Record<string, unknown> = {},
    ) {
        super(message);
    }
}

/** A label this session wrote, so that `u` can take it back exactly. */
interface Written {
    readonly key: string;
    readonly rowName: string;
    readonly label: string;
    /** True when the row did not exist before: undo deletes it. */
    readonly createdRow: boolean;
}

/** Why a DynamoDB condition failed or a call could not be made, as the page says it. */
export function awsFailure(error: unknown, doing: string): HttpError {
    return new HttpError(503, `${explainAwsError(error, doing).message} The label was not saved: try again.`);
}

export type DynamoDb = typeof import("@aws-sdk/client-dynamodb");

/** What a queue worked through from the page holds: where it belongs, its classes and its images by key. */
export interface PageQueue {
    readonly imagesBucket: string;
    readonly catadataTable: string;
    readonly classes: readonly string[];
    readonly items: readonly { readonly key: string }[];
}

/**
 * A queue worked through from the page: which page holds it now, and whether it belongs to
 * this stack. The page's actions are label (a class key), skip (s, or Enter in review) and undo.
 */
export abstract class QueueSession<Q extends PageQueue> {
    private activeSession = "";
    /** Why nothing can be done here (a queue of another stack), or undefined. */
    readonly blocking?: string;
    /** The labels this session set, per class (Multi included). */
    protected readonly perClass: Record<string, number>;

    constructor(
        readonly queue: Q,
        stack: LabelStack,
        protected readonly dynamodb: DynamoDBClient,
        protected readonly sdk: DynamoDb,
        private readonly newSessionId: () => string,
        /** The command that makes this kind of queue, for the refusal. */
        remake: string,
    ) {
        this.perClass = Object.fromEntries([...queue.classes, MULTI_LABEL].map((c) => [c, 0]));
        if (queue.catadataTable !== stack.catadataTable || queue.imagesBucket !== stack.imagesBucket) {
            this.blocking = `This queue was made for table ${queue.catadataTable} and bucket ${queue.imagesBucket}, not this stack's (${stack.catadataTable}, ${stack.imagesBucket}): run ${remake} for this stack. Nothing can be labelled here.`;
        }
    }

    /** Opening the page claims the queue; an older page is told so on its next action. */
    claim() {
        this.activeSession = this.newSessionId();
        return this.state();
    }

    /** What the page shows, or undefined before any page claimed the queue. */
    stateIfClaimed() {
        return this.activeSession ? this.state() : undefined;
    }

    /** Refuses an action from a page that no longer holds the queue, or on another stack's queue. */
    checkHolder(session: unknown): void {
        if (session !== this.activeSession) {
            throw new HttpError(
                409,
                "This queue was opened in another page: continue there, or reload this page to take it back. Nothing was written from here.",
            );
        }
        if (this.blocking) throw new HttpError(409, this.blocking);
    }

    item(key: string): Q["items"][number] {
        const item = this.queue.items.find((i) => i.key === key);
        if (!item) throw new HttpError(404, `${key} is not in the queue.`);
        return item;
    }

    /** The page's session id, which its actions carry. */
    protected get session(): string {
        return this.activeSession;
    }

    protected rowKey(rowName: string): Record<string, AttributeValue> {
        return { imageName: { S: rowName } };
    }

    protected abstract state(): Record<string, unknown>;
    abstract label(key: string, given: unknown): Promise<unknown>;
    abstract skip(key: string): unknown;
    abstract undo(): Promise<unknown>;
}

/**
 * One labelling queue worked through from the page: which images are done, and the labels this
 * session wrote (each once, with a conditional write, so a label set meanwhile is never
 * overwritten).
 */
export class LabelSession extends QueueSession<LabellingQueue> {
    private readonly done = new Map<string, "labelled" | "skipped">();
    private readonly written: Written[] = [];
    private readonly warning?: string;

    constructor(
        queue: LabellingQueue,
        stack: LabelStack,
        dynamodb: DynamoDBClient,
        sdk: DynamoDb,
        newSessionId: () => string,
    ) {
        super(queue, stack, dynamodb, sdk, newSessionId, "npx bootboots suggest");
        if (stack.modelDataUrl && stack.modelDataUrl !== queue.modelDataUrl) {
            this.warning = queue.modelDataUrl
                ? `This queue was ranked by ${queue.modelDataUrl}, but the endpoint now serves ${stack.modelDataUrl}: labels are still useful, and npx bootboots suggest ranks the rest again.`
                : `This queue was made before any model served; the endpoint now serves ${stack.modelDataUrl}: labels are still useful, and npx bootboots suggest ranks the rest.`;
        }
    }

    async label(key: string, given: unknown) {
        const item = this.item(key);
        if (this.done.has(item.key)) throw new HttpError(409, `${item.key} was already done in this session.`);
        const label = given === MULTI_LABEL ? MULTI_LABEL : this.queue.classes.find((c) => c === given);
        if (!label) throw new HttpError(400, `Unknown label ${JSON.stringify(given)}.`);
        let write: Written | undefined;
        try {
            write = await this.writeLabel(item, label);
        } catch (error) {
            // Their label stands: the image is done here too.
            if (error instanceof HttpError && error.details.theirs) this.done.set(item.key, "skipped");
            throw error;
        }
        if (!write) {
            this.done.set(item.key, "skipped");
            return { ...this.state(), message: `${item.key} was already labelled ${label}: nothing changed.` };
        }
        this.written.push(write);
        this.done.set(item.key, "labelled");
        this.perClass[label] += 1;
        return { ...this.state(), message: `${item.key}: ${label}` };
    }

    skip(key: string) {
        const item = this.item(key);
        this.done.set(item.key, "skipped");
        return { ...this.state(), message: `${item.key}: skipped` };
    }

    /** Takes back the last label this session wrote, if it is still ours. */
    async undo() {
        const last = this.written.at(-1);
        if (!last) throw new HttpError(400, "Nothing to undo.");
        const { DeleteItemCommand, UpdateItemCommand } = this.sdk;
        try {
            const ours = {
                ConditionExpression: "#cat = :label",
                ExpressionAttributeNames: { "#cat": "cat" },
                ExpressionAttributeValues: { ":label": { S: last.label } },
            };
            const Key = this.rowKey(last.rowName);
            if (last.createdRow) {
                await this.dynamodb.send(new DeleteItemCommand({ TableName: this.queue.catadataTable, Key, ...ours }));
            } else {
                await this.dynamodb.send(
                    new UpdateItemCommand({
                        TableName: this.queue.catadataTable,
                        Key,
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
        this.written.pop();
        this.done.delete(last.key);
        this.perClass[last.label] -= 1;
        return { ...this.state(), message: `Undone: ${last.key} is unlabelled again.` };
    }

    protected state() {
        const left = this.queue.items.filter((i) => !this.done.has(i.key));
        return {
            mode: "label",
            session: this.session,
            classes: this.queue.classes.map((className, i) => ({ className, key: String(i + 1) })),
            multiLabel: MULTI_LABEL,
            current: left[0] ?? null,
            labelled: this.written.length,
            skipped: [...this.done.values()].filter((v) => v === "skipped").length,
            left: left.length,
            total: this.queue.items.length,
            perClass: this.perClass,
            canUndo: this.written.length > 0,
            blocking: this.blocking ?? null,
            warning: this.warning ?? null,
        };
    }

    private rowNameOf(item: QueueItem): string {
        return item.rowName ?? item.key.slice(this.queue.imagesPrefix.length);
    }

    /** The label on a row now, or undefined (no row, or no label). */
    private async currentLabel(rowName: string): Promise<{ exists: boolean; label?: string }> {
        try {
            const got = await this.dynamodb.send(
                new this.sdk.GetItemCommand({
                    TableName: this.queue.catadataTable,
                    Key: this.rowKey(rowName),
                    ConsistentRead: true,
                }),
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
    private async writeLabel(item: QueueItem, label: string): Promise<Written | undefined> {
        const rowName = this.rowNameOf(item);
        const { PutItemCommand, UpdateItemCommand } = this.sdk;
        for (let attempt = 0; attempt < 2; attempt++) {
            const now = await this.currentLabel(rowName);
            if (now.label === label) return undefined;
            if (now.label) {
                throw new HttpError(
                    409,
                    `Someone else labelled ${item.key} as ${now.label} meanwhile: their label stays.`,
                    {
                        theirs: now.label,
                    },
                );
            }
            try {
                if (now.exists) {
                    await this.dynamodb.send(
                        new UpdateItemCommand({
                            TableName: this.queue.catadataTable,
                            Key: this.rowKey(rowName),
                            UpdateExpression: "SET #cat = :label",
                            ConditionExpression: "attribute_exists(imageName) AND attribute_not_exists(#cat)",
                            ExpressionAttributeNames: { "#cat": "cat" },
                            ExpressionAttributeValues: { ":label": { S: label } },
                        }),
                    );
                    return { key: item.key, rowName, label, createdRow: false };
                }
                await this.dynamodb.send(
                    new PutItemCommand({
                        TableName: this.queue.catadataTable,
                        Item: { ...this.rowKey(rowName), cat: { S: label } },
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
}
