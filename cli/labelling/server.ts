import { randomBytes, timingSafeEqual } from "crypto";
import * as http from "http";
import { isMissingObject } from "../../lib/errors";
import { LABELLING_QUEUE_KEY, REVIEW_QUEUE_KEY } from "../../lib/layout";
import { CliContext } from "../context";
import { CliError, explainAwsError } from "../errors";
import { LABEL_PAGE } from "./page";
import { LabelSession } from "./labelSession";
import { HttpError, LabelStack, PageQueue, QueueSession } from "./queueSession";
import { LabellingQueue } from "./queue";
import { ReviewQueue } from "./review";
import { ReviewSession } from "./reviewSession";
import { getObjectJson } from "../aws/s3json";

export { MULTI_LABEL } from "./queueSession";
export type { LabelStack } from "./queueSession";

export interface LabelServer {
    /** The page's address, token included. */
    readonly url: string;
    readonly token: string;
    close(): Promise<void>;
}

type Route = (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => Promise<void>;

/** The largest request body an action takes: a key, a label and a session id fit many times over. */
export const MAX_BODY_BYTES = 4096;
/** The largest image the page is sent: a phone's full-size photo fits; anything larger is read by nobody. */
export const MAX_IMAGE_BYTES = 40_000_000;

/** Sent with every answer: nothing is sniffed into another type, framed, or cached. */
const SAFE_HEADERS = { "x-content-type-options": "nosniff", "cache-control": "no-store", "x-frame-options": "DENY" };

function json(response: http.ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { ...SAFE_HEADERS, "content-type": "application/json" });
    response.end(JSON.stringify(body));
}

function readBody(request: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        request.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        });
        // The rest of an oversized body is read and dropped, so that the 413 reaches the page.
        request.on("end", () =>
            size > MAX_BODY_BYTES
                ? reject(
                      new HttpError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes: reload the page.`),
                  )
                : resolve(Buffer.concat(chunks).toString("utf8")),
        );
        request.on("error", reject);
    });
}

/** The token compared in constant time, so that its bytes cannot be guessed one at a time. */
function tokenMatches(given: unknown, token: string): boolean {
    if (typeof given !== "string" || given.length !== token.length) return false;
    return timingSafeEqual(Buffer.from(given), Buffer.from(token));
}

/** The page's routes, by `METHOD /path`: the page itself, the state, an image, and the three actions. */
function routes(
    context: CliContext,
    session: QueueSession<PageQueue>,
    token: string,
    nonce: string,
    s3: typeof import("@aws-sdk/client-s3"),
): Record<string, Route> {
    /** An action of the page that holds the queue: the body is JSON with its session id. */
    const action =
        (act: (body: Record<string, unknown>) => Promise<unknown> | unknown): Route =>
        async (request, response) => {
            const text = await readBody(request);
            let body: Record<string, unknown>;
            try {
                body = JSON.parse(text || "{}");
            } catch {
                throw new HttpError(400, "The request body is not JSON: reload the page.");
            }
            if (typeof body !== "object" || body === null || Array.isArray(body))
                throw new HttpError(400, "The request body is not a JSON object: reload the page.");
            session.checkHolder(body.session);
            json(response, 200, await act(body));
        };
    return {
        "GET /": async (_request, response) => {
            response.writeHead(200, {
                ...SAFE_HEADERS,
                "content-type": "text/html; charset=utf-8",
                // Only the page's own script and style, and images and requests to this server.
                "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
            });
            response.end(LABEL_PAGE.replace("__TOKEN__", token).replaceAll("__NONCE__", nonce));
        },
        "GET /api/state": async (_request, response) => json(response, 200, session.claim()),
        "GET /api/image": async (_request, response, url) => {
            const item = session.item(url.searchParams.get("key") ?? "");
            const bytes = await readImage(context, s3, session.queue.imagesBucket, item.key);
            // Always a JPEG, whatever Content-Type the object carries: an HTML one must not run as this page.
            response.writeHead(200, {
                ...SAFE_HEADERS,
                "content-type": "image/jpeg",
                "content-length": String(bytes.length),
                "content-security-policy": "default-src 'none'; sandbox",
            });
            response.end(bytes);
        },
        "POST /api/label": action((body) => session.label(String(body.key), body.label)),
        "POST /api/skip": action((body) => session.skip(String(body.key))),
        "POST /api/undo": action(() => session.undo()),
    };
}

/**
 * An image's bytes, read whole before anything is answered: a connection S3 drops mid-image
 * is a 502 for that image, and the server (and its undo history) goes on.
 */
async function readImage(
    context: CliContext,
    s3: typeof import("@aws-sdk/client-s3"),
    bucket: string,
    key: string,
): Promise<Uint8Array> {
    let object;
    try {
        object = await context.aws.s3.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
        if (isMissingObject(error)) throw new HttpError(404, `${key} is gone from s3://${bucket}: press s to skip it.`);
        throw new HttpError(503, `${explainAwsError(error, `reading ${key}`).message} Try again.`);
    }
    if ((object.ContentLength ?? 0) > MAX_IMAGE_BYTES) {
        // Not read: the connection is let go.
        (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new HttpError(
            413,
            `${key} is ${((object.ContentLength ?? 0) / 1e6).toFixed(0)} MB, more than the ${MAX_IMAGE_BYTES / 1e6} MB a photo may be here: press s to skip it.`,
        );
    }
    try {
        return await object.Body!.transformToByteArray();
    } catch (error) {
        throw new HttpError(
            502,
            `S3 broke off sending ${key} (${(error as Error).message}): reload the page to try again, or press s to skip it.`,
        );
    }
}

/** The queue a mode works through: suggest's labelling queue, or review's suspect labels. */
async function openSession(
    context: CliContext,
    stack: LabelStack,
    mode: "label" | "review",
): Promise<QueueSession<PageQueue>> {
    const deps = {
        stack,
        dynamodb: context.aws.dynamodb,
        sdk: await import("@aws-sdk/client-dynamodb"),
        newSessionId: () => randomBytes(8).toString("hex"),
    };
    const [key, remake] =
        mode === "review" ? [REVIEW_QUEUE_KEY, "npx bootboots review"] : [LABELLING_QUEUE_KEY, "npx bootboots suggest"];
    const queue = await getObjectJson<LabellingQueue | ReviewQueue>(
        context.aws.s3,
        stack.trainingBucket,
        key,
        `No ${mode === "review" ? "review" : "labelling"} queue in s3://${stack.trainingBucket}/${key}: run ${remake} first.`,
    );
    return mode === "review"
        ? new ReviewSession(queue as ReviewQueue, deps)
        : new LabelSession(queue as LabellingQueue, deps);
}

/**
 * The labelling web server: 127.0.0.1 only, every request carries the random token, images
 * streamed from S3, every label written to catadata at once (LabelSession, or ReviewSession
 * for `--review`).
 */
export async function startLabelServer(
    context: CliContext,
    stack: LabelStack,
    port = 0,
    mode: "label" | "review" = "label",
): Promise<LabelServer> {
    const s3Sdk = await import("@aws-sdk/client-s3");
    const session = await openSession(context, stack, mode);
    const token = randomBytes(16).toString("hex");
    const nonce = randomBytes(16).toString("base64");
    const byRoute = routes(context, session, token, nonce, s3Sdk);

    let hosts: string[] = [];
    const server = http.createServer((request, response) => {
        // A page of another site that a DNS name points at 127.0.0.1 sends its own Host: refused.
        if (!hosts.includes(request.headers.host ?? "")) {
            json(response, 403, {
                error: `This page answers only at ${hosts[0]}: open the address bootboots label printed.`,
            });
            return;
        }
        const url = new URL(request.url ?? "/", "http://127.0.0.1");
        // The browser asks for an icon without the token: there is none, and nothing to refuse.
        if (url.pathname === "/favicon.ico") {
            response.writeHead(204, SAFE_HEADERS);
            response.end();
            return;
        }
        if (!tokenMatches(url.searchParams.get("token") ?? request.headers["x-bootboots-token"], token)) {
            json(response, 403, { error: "This page needs the address bootboots label printed, token included." });
            return;
        }
        const route = byRoute[`${request.method} ${url.pathname}`];
        const handled = route
            ? route(request, response, url)
            : Promise.reject(new HttpError(404, `No such page: ${request.method} ${url.pathname}`));
        handled.catch((error) => {
            if (error instanceof HttpError) {
                const state = session.stateIfClaimed();
                json(response, error.status, { error: error.message, ...error.details, ...(state ? { state } : {}) });
            } else json(response, 500, { error: `Unexpected failure: ${(error as Error).message}` });
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
    hosts = [`127.0.0.1:${address.port}`, `localhost:${address.port}`];
    return {
        url: `http://127.0.0.1:${address.port}/?token=${token}`,
        token,
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
}
