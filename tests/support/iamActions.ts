import type { RecordedRequest } from "./proxy";

/** The access key the CLI tests give the `bootboots` command, so its requests are told from the Lambdas' and the tests' own. */
export const CLI_ACCESS_KEY = "BOOTBOOTSCLIUSER";

/** The access key id that signed a request, from its SigV4 Authorization header. */
export function signedBy(request: RecordedRequest): string | undefined {
    return /Credential=([^/]+)\//.exec(String(request.headers.authorization ?? ""))?.[1];
}

/** JSON protocols name the operation in X-Amz-Target: its prefix → the IAM service. */
const TARGET_SERVICES: Record<string, string> = {
    DynamoDB_20120810: "dynamodb",
    SageMaker: "sagemaker",
    Logs_20140328: "logs",
    AWSPriceListService: "pricing",
    AmazonSQS: "sqs",
};

/**
 * The IAM action a recorded request needs, as AWS authorizes it: the JSON protocols by their
 * target, SageMaker Runtime's invocations, S3 by method and path (a bucket's HEAD and a listing
 * need s3:ListBucket). Undefined for what needs no permission (STS GetCallerIdentity).
 */
export function iamActionOf(request: RecordedRequest): string | undefined {
    const target = request.headers["x-amz-target"];
    if (typeof target === "string") {
        const [prefix, operation] = target.split(".");
        return `${TARGET_SERVICES[prefix] ?? prefix}:${operation}`;
    }
    const body = request.body.toString();
    if (/Action=GetCallerIdentity/.test(body)) return undefined;
    const [pathname, query = ""] = request.url.split("?");
    if (/^\/endpoints\/[^/]+\/invocations$/.test(pathname)) return "sagemaker:InvokeEndpoint";
    const parts = pathname.split("/").filter(Boolean);
    const isBucket = parts.length === 1;
    if (isBucket && (request.method === "HEAD" || /(^|&)list-type=2/.test(query) || request.method === "GET"))
        return "s3:ListBucket";
    const objectActions: Record<string, string> = {
        GET: "s3:GetObject",
        HEAD: "s3:GetObject",
        PUT: "s3:PutObject",
        DELETE: "s3:DeleteObject",
    };
    return objectActions[request.method];
}
