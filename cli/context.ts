import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { PricingClient } from "@aws-sdk/client-pricing";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SageMakerClient } from "@aws-sdk/client-sagemaker";
import type { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { StackResolver } from "./aws/stack";

/** What every command gets: where to write, the stack's names, and AWS clients made on first use. */
export interface CliContext {
    /** A line of the command's output (it clears a progress line first). */
    readonly out: (line: string) => void;
    /** A line for the person (notes, warnings), on stderr. */
    readonly err: (line: string) => void;
    /** Whether stdout is a terminal: progress is then redrawn in place. */
    readonly interactive: boolean;
    /** Shows (or, with undefined, ends) a progress line that later output replaces, on a terminal only. */
    readonly progress: (line: string | undefined) => void;
    readonly stack: StackResolver;
    readonly aws: AwsClients;
}

/**
 * The AWS clients, each loaded and made on first use: loading the SDK takes longer than
 * most commands' own work, and `--help` or a refused flag needs none of it.
 */
/**
 * A module loaded on first use. A synchronous require, not `import()`: the clients are
 * properties that commands read without awaiting; the type comes from the module itself.
 */
function load<T>(id: string): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(id) as T;
}

export class AwsClients {
    private cache = new Map<string, unknown>();

    private get<T>(key: string, make: () => T): T {
        if (!this.cache.has(key)) this.cache.set(key, make());
        return this.cache.get(key) as T;
    }

    get lambda(): LambdaClient {
        // The trigger waits for data prep: up to 15 minutes, and never retried (it would start a second run).
        return this.get(
            "lambda",
            () =>
                new (load<typeof import("@aws-sdk/client-lambda")>("@aws-sdk/client-lambda").LambdaClient)({
                    maxAttempts: 1,
                    requestHandler: { requestTimeout: 960_000 },
                }),
        );
    }

    get dynamodb(): DynamoDBClient {
        return this.get(
            "dynamodb",
            () => new (load<typeof import("@aws-sdk/client-dynamodb")>("@aws-sdk/client-dynamodb").DynamoDBClient)({}),
        );
    }

    get logs(): CloudWatchLogsClient {
        return this.get(
            "logs",
            () =>
                new (load<typeof import("@aws-sdk/client-cloudwatch-logs")>(
                    "@aws-sdk/client-cloudwatch-logs",
                ).CloudWatchLogsClient)({}),
        );
    }

    /** The Price List API answers in us-east-1 only, whatever the stack's region. */
    get pricing(): PricingClient {
        return this.get(
            "pricing",
            () =>
                new (load<typeof import("@aws-sdk/client-pricing")>("@aws-sdk/client-pricing").PricingClient)({
                    region: "us-east-1",
                }),
        );
    }

    get s3(): S3Client {
        return this.get("s3", () => new (load<typeof import("@aws-sdk/client-s3")>("@aws-sdk/client-s3").S3Client)({}));
    }

    get sagemaker(): SageMakerClient {
        return this.get(
            "sagemaker",
            () =>
                new (load<typeof import("@aws-sdk/client-sagemaker")>("@aws-sdk/client-sagemaker").SageMakerClient)({}),
        );
    }

    get sqs(): SQSClient {
        // The configured endpoint, not the queue URL's host: AWS_ENDPOINT_URL(_SQS) holds for it as for every client.
        return this.get(
            "sqs",
            () =>
                new (load<typeof import("@aws-sdk/client-sqs")>("@aws-sdk/client-sqs").SQSClient)({
                    useQueueUrlAsEndpoint: false,
                }),
        );
    }

    get runtime(): SageMakerRuntimeClient {
        return this.get(
            "runtime",
            () =>
                new (load<typeof import("@aws-sdk/client-sagemaker-runtime")>(
                    "@aws-sdk/client-sagemaker-runtime",
                ).SageMakerRuntimeClient)({}),
        );
    }
}
