import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { explainAwsError } from "../errors";

/** The label for an image with more than one cat in it (data prep leaves such images out). */
export const MULTI_LABEL = "Multi";

/** The stack the labeller is run against, to refuse a queue made for another one. */
export interface LabelStack {
    /** The stack's classes, in model-output order: the only labels the page offers. */
    readonly classes: readonly string[];
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

/** What a session works with: the stack it labels for, DynamoDB, and where page ids come from. */
export interface SessionDeps {
    readonly stack: LabelStack;
    readonly dynamodb: DynamoDBClient;
    readonly sdk: DynamoDb;
    readonly newSessionId: () => string;
}

/** The keys that pick each class on the page: 1–9, then the letters the page's own keys (m, s, u) leave. */
export function classKeys(classes: readonly string[]): string[] {
    const letters = [..."abcdefghijklnopqrtvwxyz"];
    return classes.map((_, i) => (i < 9 ? String(i + 1) : letters[i - 9]));
}

function sameClasses(a: readonly unknown[], b: readonly string[]): boolean {
    return Array.isArray(a) && a.length === b.length && a.every((c, i) => c === b[i]);
}

/** What every queue file holds besides its items: where it belongs (one stack) and its classes. */
export interface QueueFile {
    readonly version: 1;
    readonly createdAt: string;
    /** Where the labels go and the images come from: a queue belongs to one stack. */
    readonly imagesBucket: string;
    readonly imagesPrefix: string;
    readonly catadataTable: string;
    readonly classes: readonly string[];
}

/**
 * A queue worked through from the page: which page holds it now, and whether it belongs to
 * this stack. The page's actions are label (a class key), skip (s, or Enter in review) and undo.
 */
export abstract class QueueSession<Q extends PageQueue> {
    private activeSession = "";
    /** Why nothing can be done here (a queue of another stack, or of other classes), or undefined. */
    readonly blocking?: string;
    /** The stack's classes: the labels offered, whatever the queue file says. */
    protected readonly classes: readonly string[];
    /** The labels this session set, per class (Multi included). */
    protected readonly perClass: Record<string, number>;

    protected readonly dynamodb: DynamoDBClient;
    protected readonly sdk: DynamoDb;
    private readonly newSessionId: () => string;

    constructor(
        readonly queue: Q,
        deps: SessionDeps,
        /** The command that makes this kind of queue, for the refusal. */
        remake: string,
    ) {
        const { stack } = deps;
        ({ dynamodb: this.dynamodb, sdk: this.sdk, newSessionId: this.newSessionId } = deps);
        this.classes = stack.classes;
        this.perClass = Object.fromEntries([...stack.classes, MULTI_LABEL].map((c) => [c, 0]));
        if (queue.catadataTable !== stack.catadataTable || queue.imagesBucket !== stack.imagesBucket) {
            this.blocking = `This queue was made for table ${queue.catadataTable} and bucket ${queue.imagesBucket}, not this stack's (${stack.catadataTable}, ${stack.imagesBucket}): run ${remake} for this stack. Nothing can be labelled here.`;
        } else if (!sameClasses(queue.classes, stack.classes)) {
            this.blocking = `This queue names other classes than this stack's (${stack.classes.join(", ")}): run ${remake} for this stack. Nothing can be labelled here.`;
        }
    }

    /** The page's class buttons: each of the stack's classes with its key. */
    protected classButtons() {
        const keys = classKeys(this.classes);
        return this.classes.map((className, i) => ({ className, key: keys[i] }));
    }

    /** A label the page sent, as one of the stack's classes or Multi; undefined for anything else. */
    protected knownLabel(given: unknown): string | undefined {
        return given === MULTI_LABEL ? MULTI_LABEL : this.classes.find((c) => c === given);
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
