import { awsErrorName } from "../../lib/errors";
import { HttpError, MULTI_LABEL, QueueSession, SessionDeps, awsFailure } from "./queueSession";
import { ReviewItem, ReviewQueue } from "./review";

/** One step of the review, so that `u` can take it back: a label kept, or changed from one value to another. */
type Step =
    | { readonly kind: "kept"; readonly key: string }
    | {
          readonly kind: "changed";
          readonly key: string;
          readonly rowName: string;
          readonly from: string;
          readonly to: string;
      };

/**
 * The review queue worked through from the page: Enter keeps an image's label, a class key
 * changes it with a write conditional on the label it had (so a change made meanwhile is never
 * overwritten), and `u` takes back the last step, again only if nobody changed the row since.
 */
export class ReviewSession extends QueueSession<ReviewQueue> {
    private readonly steps: Step[] = [];

    constructor(queue: ReviewQueue, deps: SessionDeps) {
        super(queue, deps, "npx bootboots review");
    }

    /** Enter: the label is right. */
    skip(key: string) {
        const item = this.open(key);
        this.steps.push({ kind: "kept", key: item.key });
        return { ...this.state(), message: `${item.key}: kept ${item.label}` };
    }

    /** A class key: the label becomes that class, unless the row changed since the review was made. */
    async label(key: string, given: unknown) {
        const item = this.open(key);
        const to = this.knownLabel(given);
        if (!to) throw new HttpError(400, `Unknown label ${JSON.stringify(given)}.`);
        if (to === item.label) return this.skip(key);
        const stored = await this.storedLabel(item);
        const { UpdateItemCommand } = this.sdk;
        try {
            await this.dynamodb.send(
                new UpdateItemCommand({
                    TableName: this.queue.catadataTable,
                    Key: this.rowKey(item.rowName),
                    UpdateExpression: "SET #cat = :to",
                    ConditionExpression: "#cat = :from",
                    ExpressionAttributeNames: { "#cat": "cat" },
                    ExpressionAttributeValues: { ":to": { S: to }, ":from": { S: stored } },
                }),
            );
        } catch (error) {
            if (awsErrorName(error) === "ConditionalCheckFailedException") await this.storedLabel(item);
            throw awsFailure(error, `changing the label of ${item.key}`);
        }
        this.steps.push({ kind: "changed", key: item.key, rowName: item.rowName, from: stored, to });
        this.perClass[to] += 1;
        return { ...this.state(), message: `${item.key}: ${item.label} → ${to}` };
    }

    /** Takes back the last step: a kept image is shown again; a change is reverted if the row still holds it. */
    async undo() {
        const last = this.steps.at(-1);
        if (!last) throw new HttpError(400, "Nothing to undo.");
        if (last.kind === "changed") {
            try {
                await this.dynamodb.send(
                    new this.sdk.UpdateItemCommand({
                        TableName: this.queue.catadataTable,
                        Key: this.rowKey(last.rowName),
                        UpdateExpression: "SET #cat = :from",
                        ConditionExpression: "#cat = :to",
                        ExpressionAttributeNames: { "#cat": "cat" },
                        ExpressionAttributeValues: { ":from": { S: last.from }, ":to": { S: last.to } },
                    }),
                );
            } catch (error) {
                if (awsErrorName(error) === "ConditionalCheckFailedException")
                    throw new HttpError(
                        409,
                        `The label of ${last.key} was changed by someone else since: it was left as it is.`,
                    );
                throw awsFailure(error, `undoing the change of ${last.key}`);
            }
            this.perClass[last.to] -= 1;
        }
        this.steps.pop();
        return {
            ...this.state(),
            message:
                last.kind === "changed" ? `Undone: ${last.key} is ${last.from} again.` : `Undone: ${last.key} is back.`,
        };
    }

    protected state() {
        const done = new Set(this.steps.map((s) => s.key));
        const left = this.queue.items.filter((i) => !done.has(i.key));
        const changed = this.steps.filter((s) => s.kind === "changed").length;
        return {
            mode: "review",
            session: this.session,
            classes: this.classButtons(),
            multiLabel: MULTI_LABEL,
            current: left[0] ?? null,
            labelled: changed,
            skipped: this.steps.length - changed,
            left: left.length,
            total: this.queue.items.length,
            perClass: this.perClass,
            canUndo: this.steps.length > 0,
            blocking: this.blocking ?? null,
            warning: null,
        };
    }

    /** The item, refused when this session is done with it. */
    private open(key: string): ReviewItem {
        const item = this.item(key);
        if (this.steps.some((s) => s.key === item.key))
            throw new HttpError(409, `${item.key} was already reviewed in this session.`);
        return item;
    }

    /** The row's label as stored, when it is still the one reviewed (in any case); else the refusal that says what it is now. */
    private async storedLabel(item: ReviewItem): Promise<string> {
        let stored: string | undefined;
        try {
            const got = await this.dynamodb.send(
                new this.sdk.GetItemCommand({
                    TableName: this.queue.catadataTable,
                    Key: this.rowKey(item.rowName),
                    ConsistentRead: true,
                }),
            );
            if (!got.Item)
                throw new HttpError(409, `The row ${item.rowName} is gone from catadata: nothing was written.`);
            stored = got.Item.cat?.S;
        } catch (error) {
            if (error instanceof HttpError) throw error;
            throw awsFailure(error, `reading the row ${item.rowName}`);
        }
        if (stored?.toLowerCase() !== item.label.toLowerCase()) {
            throw new HttpError(
                409,
                `Someone changed the label of ${item.key} to ${stored ?? "nothing"} meanwhile: their label stays.`,
                { theirs: stored ?? null },
            );
        }
        return stored;
    }
}
