import { randomUUID } from "crypto";

export interface HttpRequestParts {
    readonly body?: Buffer;
    /** Header names as the client sent them; the gateway lower-cases them. */
    readonly headers?: Record<string, string>;
    /** The raw query string, without `?`. */
    readonly rawQueryString?: string;
    readonly method?: string;
    readonly path?: string;
    /** When the gateway received the request, ms since the epoch (now when unset). */
    readonly timeEpoch?: number;
}

/**
 * The event an API Gateway HTTP API (payload format 2.0) hands a Lambda for a request to
 * `POST /infer` with IAM authorization: headers in lower case, a binary body base64-encoded,
 * query parameters parsed, `requestContext.http` and the caller's IAM identity.
 */
export function httpApiEvent(request: HttpRequestParts): Record<string, unknown> {
    const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const rawQueryString = request.rawQueryString ?? "";
    const query = new URLSearchParams(rawQueryString);
    const now = new Date(request.timeEpoch ?? Date.now());
    const method = request.method ?? "POST";
    const path = request.path ?? "/infer";
    return {
        version: "2.0",
        routeKey: `${method} ${path}`,
        rawPath: path,
        rawQueryString,
        headers: {
            "content-length": String(request.body?.length ?? 0),
            host: "a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com",
            ...headers,
        },
        ...(rawQueryString ? { queryStringParameters: Object.fromEntries(query.entries()) } : {}),
        requestContext: {
            accountId: "123456789012",
            apiId: "a1b2c3d4e5",
            authorizer: {
                iam: {
                    accessKey: "ASIATESTING",
                    accountId: "123456789012",
                    callerId: "AROATESTING:garden-cam",
                    userArn: "arn:aws:sts::123456789012:assumed-role/garden-cam/garden-cam",
                },
            },
            domainName: "a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com",
            domainPrefix: "a1b2c3d4e5",
            http: {
                method,
                path,
                protocol: "HTTP/1.1",
                sourceIp: "198.51.100.7",
                userAgent: headers["user-agent"] ?? "ESP32HTTPClient",
            },
            requestId: randomUUID().replace(/-/g, "").slice(0, 16),
            routeKey: `${method} ${path}`,
            stage: "$default",
            time: now.toUTCString(),
            timeEpoch: now.getTime(),
        },
        ...(request.body && request.body.length > 0
            ? { body: request.body.toString("base64"), isBase64Encoded: true }
            : { isBase64Encoded: false }),
    };
}
