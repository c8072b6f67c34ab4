import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { StackResolver } from "./stack";

/** What every command gets: where to write, the stack's names, and AWS clients made on first use. */
export interface CliContext {
    readonly out: (line: string) => void;
    readonly err: (line: string) => void;
    readonly stack: StackResolver;
    readonly aws: AwsClients;
}

export class AwsClients {
    private cache = new Map<string, unknown>();

    private get<T>(key: string, make: () => T): T {
        if (!this.cache.has(key)) this.cache.set(key, make());
        return this.cache.get(key) as T;
    }

    get lambda(): LambdaClient {
        // The trigger waits for data prep: up to 15 minutes, and never retried (it would start a second run).
        return this.get("lambda", () => new LambdaClient({ maxAttempts: 1, requestHandler: { requestTimeout: 960_000 } }));
    }

    get s3(): S3Client {
        return this.get("s3", () => new S3Client({}));
    }

    get sagemaker(): SageMakerClient {
        return this.get("sagemaker", () => new SageMakerClient({}));
    }

    get runtime(): SageMakerRuntimeClient {
        return this.get("runtime", () => new SageMakerRuntimeClient({}));
    }
}
