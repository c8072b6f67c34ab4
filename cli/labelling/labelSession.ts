import { awsErrorName } from "../../lib/errors";
import { LabellingQueue, QueueItem } from "./queue";
import { HttpError, MULTI_LABEL, QueueSession, SessionDeps, awsFailure } from "./queueSession";

/** A label this session wrote, so that `u` can take it back exactly. */
interface Written {
    readonly key: string;
    readonly rowName: string;
    readonly label: string;
    /** True when the row did not exist before: undo deletes it. */
    readonly createdRow: boolean;
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

    constructor(queue: LabellingQueue, deps: SessionDeps) {
        super(queue, deps, "npx bootboots suggest");
        const { stack } = deps;
        if (stack.modelDataUrl && stack.modelDataUrl !== queue.modelDataUrl) {
            this.warning = queue.modelDataUrl
                ? `This queue was ranked by ${queue.modelDataUrl}, but the endpoint now serves ${stack.modelDataUrl}: labels are still useful, and npx bootboots suggest ranks the rest again.`
                : `This queue was made before any model served; the endpoint now serves ${stack.modelDataUrl}: labels are still useful, and npx bootboots suggest ranks the rest.`;
        }
    }

    async label(key: string, given: unknown) {
        const item = this.item(key);
        if (this.done.has(item.key)) throw new HttpError(409, `${item.key} was already done in this session.`);
        const label = this.knownLabel(given);
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
            classes: this.classButtons(),
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
