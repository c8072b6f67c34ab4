import * as http from "http";
import { freePort } from "./moto";
import { Handler } from "./deployedLambda";

export interface InvokeServer {
    readonly endpoint: string;
    readonly invocations: { functionName: string; payload: unknown }[];
    /** How many of the next invocations Lambda refuses with 429 (its concurrency limit), running nothing. */
    throttleNext: number;
    /** How many invocations were refused that way. */
    throttled: number;
    /** What asynchronous invocations (`Event`) threw: Lambda would log them; tests can assert there are none. */
    readonly asyncErrors: { functionName: string; requestId: string; error: string }[];
    close(): Promise<void>;
}

/**
 * The Lambda Invoke API on 127.0.0.1, answering for the functions given: a handler's
 * result as the payload, or a thrown error as `X-Amz-Function-Error: Unhandled`, as Lambda does.
 */
export async function startInvokeServer(functions: Record<string, Handler>): Promise<InvokeServer> {
    const port = await freePort();
    const invocations: InvokeServer["invocations"] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", async () => {
            const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? "");
            const functionName = match ? decodeURIComponent(match[1]) : "";
            const handler = functions[functionName];
            if (!handler) {
                res.writeHead(404, {
                    "content-type": "application/json",
                    "x-amzn-errortype": "ResourceNotFoundException",
                });
                res.end(JSON.stringify({ Type: "User", message: `Function not found: ${functionName}` }));
                return;
            }
            if (invokeServer.throttleNext > 0) {
                invokeServer.throttleNext -= 1;
                invokeServer.throttled += 1;
                res.writeHead(429, {
                    "content-type": "application/json",
                    "x-amzn-errortype": "TooManyRequestsException",
                });
                res.end(
                    JSON.stringify({
                        Type: "User",
                        message: "Rate Exceeded.",
                        Reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                    }),
                );
                return;
            }
            const body = Buffer.concat(chunks).toString("utf8");
            const payload = body ? JSON.parse(body) : {};
            invocations.push({ functionName, payload });
            // As Lambda does, the function runs under the request id the Invoke call answers with.
            const requestId = `invoke-${invocations.length}`;
            if (req.headers["x-amz-invocation-type"] === "Event") {
                // Asynchronous: Lambda accepts the event (202) and runs it on its own.
                res.writeHead(202, { "x-amzn-requestid": requestId });
                res.end();
                void handler(payload, { awsRequestId: requestId }).catch((error: Error) => {
                    invokeServer.asyncErrors.push({
                        functionName,
                        requestId,
                        error: `${error?.name}: ${error?.message}`,
                    });
                    console.error(
                        `asynchronous invocation ${requestId} of ${functionName} failed: ${error?.name}: ${error?.message}`,
                    );
                });
                return;
            }
            try {
                const result = await handler(payload, { awsRequestId: requestId });
                res.writeHead(200, {
                    "content-type": "application/json",
                    "x-amz-executed-version": "$LATEST",
                    "x-amzn-requestid": requestId,
                });
                res.end(JSON.stringify(result));
            } catch (error) {
                res.writeHead(200, {
                    "content-type": "application/json",
                    "x-amz-function-error": "Unhandled",
                    "x-amzn-requestid": requestId,
                });
                res.end(JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }));
            }
        });
    });
    const invokeServer: InvokeServer = {
        endpoint: `http://127.0.0.1:${port}`,
        invocations,
        throttleNext: 0,
        throttled: 0,
        asyncErrors: [],
        close: () => new Promise((done) => server.close(() => done())),
    };
    await new Promise<void>((done) => server.listen(port, "127.0.0.1", () => done()));
    return invokeServer;
}
