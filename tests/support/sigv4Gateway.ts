import { createHash, createHmac } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { httpApiEvent } from "./httpApiEvent";

export interface SignedRequestSeen {
    readonly headers: http.IncomingHttpHeaders;
    readonly url: string;
    /** Why the signature was refused, or undefined when it held. */
    readonly refused?: string;
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
const encode = (text: string) =>
    encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Checks a request's SigV4 signature as API Gateway does for AWS_IAM routes, written from
 * the published algorithm (not the SDK's signer): the canonical request, the string to sign,
 * the derived key. Returns why it fails, or undefined.
 */
export function verifySigV4(
    method: string,
    url: URL,
    headers: http.IncomingHttpHeaders,
    body: Buffer,
    expected: { accessKeyId: string; secretAccessKey: string; region: string; service: string; sessionToken?: string },
): string | undefined {
    const authorization = String(headers.authorization ?? "");
    const match =
        /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
            authorization,
        );
    if (!match) return `no SigV4 Authorization header: ${authorization.slice(0, 60)}`;
    const [, accessKey, day, region, service, signedHeaders, signature] = match;
    if (accessKey !== expected.accessKeyId) return `unknown access key ${accessKey}`;
    if (region !== expected.region || service !== expected.service) return `signed for ${service} in ${region}`;
    const amzDate = String(headers["x-amz-date"] ?? "");
    if (!amzDate.startsWith(day)) return "x-amz-date does not match the credential scope";
    if (
        Math.abs(
            Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z")) - Date.now(),
        ) >
        15 * 60_000
    )
        return "x-amz-date is more than 15 minutes off";
    if (expected.sessionToken && headers["x-amz-security-token"] !== expected.sessionToken)
        return "x-amz-security-token missing or wrong";
    const payloadHash = sha256(body);
    const claimed = headers["x-amz-content-sha256"];
    if (claimed !== undefined && claimed !== payloadHash) return "x-amz-content-sha256 is not the body's SHA-256";
    const names = signedHeaders.split(";");
    for (const required of ["host", "x-amz-date"]) if (!names.includes(required)) return `${required} is not signed`;
    const canonicalHeaders = names
        .map(
            (name) =>
                `${name}:${String(headers[name] ?? "")
                    .trim()
                    .replace(/\s+/g, " ")}\n`,
        )
        .join("");
    const query = [...url.searchParams.entries()]
        .map(([k, v]) => `${encode(k)}=${encode(v)}`)
        .sort()
        .join("&");
    const path = url.pathname
        .split("/")
        .map((segment) => encode(decodeURIComponent(segment)))
        .join("/");
    const canonicalRequest = [method, path, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
    const scope = `${day}/${region}/${service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
    const key = ["aws4_request"].reduce(
        (k, part) => hmac(k, part),
        hmac(hmac(hmac(`AWS4${expected.secretAccessKey}`, day), region), service),
    );
    const computed = createHmac("sha256", key).update(stringToSign).digest("hex");
    return computed === signature
        ? undefined
        : "The request signature we calculated does not match the signature you provided.";
}

/**
 * A local stand-in for the HTTP API's `POST /infer` with AWS_IAM authorization: it checks the
 * signature (403 as API Gateway answers when it fails), then hands the deployed handler the
 * payload-format-2.0 event and answers with its result.
 */
export async function startSigV4Gateway(
    handler: (event: unknown) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>,
    expected: Parameters<typeof verifySigV4>[4],
): Promise<{ url: string; seen: SignedRequestSeen[]; close: () => Promise<void> }> {
    const seen: SignedRequestSeen[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk) => chunks.push(chunk));
        req.on("end", async () => {
            const body = Buffer.concat(chunks);
            const url = new URL(req.url!, `http://${req.headers.host}`);
            const refused = verifySigV4(req.method!, url, req.headers, body, expected);
            seen.push({ headers: req.headers, url: req.url!, refused });
            if (refused || req.method !== "POST" || url.pathname !== "/infer") {
                res.writeHead(refused ? 403 : 404, { "content-type": "application/json" });
                res.end(JSON.stringify({ message: refused ?? "Not Found" }));
                return;
            }
            const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
            const result = await handler(httpApiEvent({ body, headers, rawQueryString: url.search.slice(1) }));
            res.writeHead(result.statusCode, result.headers);
            res.end(result.body);
        });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}/infer`,
        seen,
        close: () => new Promise((done) => server.close(() => done())),
    };
}
