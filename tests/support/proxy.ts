import * as http from "http";
import { freePort } from "./moto";
import { checkSageMakerRequest } from "./serviceModel";

export interface RecordedRequest {
    readonly method: string;
    readonly url: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: Buffer;
}

/** What the proxy does with a request instead of forwarding it, if anything. */
export interface InjectedResponse {
    readonly status: number;
    readonly body: string;
    readonly headers?: Record<string, string>;
    /** Reset the connection instead of answering (status and body are then unused). */
    readonly reset?: boolean;
}

export interface ProxyOptions {
    /** Delay added to every request before it is forwarded. */
    latencyMs?: number;
    /** Answer some requests itself (throttling, failures) instead of forwarding them. */
    inject?: (request: RecordedRequest, index: number) => InjectedResponse | undefined;
    /**
     * Forward the request, but cut the connection after sending the response's headers and
     * this many bytes of its body (a connection reset while the body is read).
     */
    cutBodyAfter?: (request: RecordedRequest, index: number) => number | undefined;
}

export interface Proxy {
    readonly endpoint: string;
    readonly requests: RecordedRequest[];
    /**
     * SageMaker requests that break the service's model (botocore's), answered 400 as the
     * service answers them instead of being forwarded: "<Operation>: <problem>; ...".
     */
    readonly invalid: string[];
    /** When each answer was written in full (Date.now()), by request index: the client had it by then. */
    readonly answered: Map<number, number>;
    options: ProxyOptions;
    close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of moto (or a stand-in): it records every request,
 * refuses a SageMaker request that AWS would refuse, can add latency, and can answer chosen
 * requests itself (503 SlowDown, 403, ...).
 */
export async function startProxy(
    target: string,
    options: ProxyOptions = {},
    /**
     * Requests forwarded one at a time, each only once the one before was answered. moto's
     * server checks a write's condition and writes without a lock, so two conditional writes at
     * once can both pass; DynamoDB applies each atomically, as this makes moto do.
     */
    oneAtATime?: (request: RecordedRequest) => boolean,
): Promise<Proxy> {
    const port = await freePort();
    const targetUrl = new URL(target);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const requests: RecordedRequest[] = [];
    let turns: Promise<unknown> = Promise.resolve();
    const proxy: Proxy = {
        endpoint: `http://127.0.0.1:${port}`,
        requests,
        invalid: [],
        answered: new Map(),
        options,
        close: () => new Promise((done) => server.close(() => (agent.destroy(), done()))),
    };
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk) => chunks.push(chunk));
        req.on("end", async () => {
            const recorded: RecordedRequest = {
                method: req.method!,
                url: req.url!,
                headers: req.headers,
                body: Buffer.concat(chunks),
            };
            const index = requests.push(recorded) - 1;
            res.on("finish", () => proxy.answered.set(index, Date.now()));
            const checked = checkSageMakerRequest(recorded);
            if (checked?.problems.length) {
                const message = `${checked.operation}: ${checked.problems.join("; ")}`;
                proxy.invalid.push(message);
                const type = checked.operation === "InvokeEndpoint" ? "ValidationError" : "ValidationException";
                res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type });
                res.end(JSON.stringify({ __type: type, message }));
                return;
            }
            if (proxy.options.latencyMs) await new Promise((done) => setTimeout(done, proxy.options.latencyMs));
            const injected = proxy.options.inject?.(recorded, index);
            if (injected?.reset) {
                req.socket.destroy();
                return;
            }
            if (injected) {
                res.writeHead(injected.status, { "content-type": "application/xml", ...injected.headers });
                res.end(injected.body);
                return;
            }
            const forward = () =>
                new Promise<void>((forwarded) => {
                    res.on("close", () => forwarded());
                    const upstream = http.request(
                        {
                            host: targetUrl.hostname,
                            port: targetUrl.port,
                            method: req.method,
                            path: req.url,
                            headers: { ...req.headers, host: targetUrl.host },
                            agent,
                        },
                        (upstreamRes) => {
                            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
                            const cut = proxy.options.cutBodyAfter?.(recorded, index);
                            if (cut === undefined) {
                                upstreamRes.pipe(res);
                                return;
                            }
                            const body: Buffer[] = [];
                            upstreamRes.on("data", (chunk) => body.push(chunk));
                            upstreamRes.on("end", () => {
                                res.write(Buffer.concat(body).subarray(0, cut), () => res.socket?.destroy());
                            });
                        },
                    );
                    upstream.on("error", (error) => {
                        res.writeHead(502);
                        res.end(String(error));
                    });
                    upstream.end(recorded.body);
                });
            if (!oneAtATime?.(recorded)) return forward();
            const turn = turns.then(forward);
            turns = turn;
            await turn;
        });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((done) => server.listen(port, "127.0.0.1", () => done()));
    return proxy;
}

/** A connection reset before any answer. */
export const CONNECTION_RESET: InjectedResponse = { status: 0, body: "", reset: true };

/** DynamoDB's throttling answer. */
export const DYNAMODB_THROTTLED: InjectedResponse = {
    status: 400,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({
        __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        message: "Rate of requests exceeds the allowed throughput.",
    }),
};

/** S3's throttling answer. */
export const SLOW_DOWN: InjectedResponse = {
    status: 503,
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
};
