import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EnvSpec, ValueOfVar, envText } from "../lib/functionEnv";
import { PolicyStatement, assumeRolePolicy, policyDocument } from "../lib/iam";

/**
 * Packages in `dependencies` that no Lambda runs: the deploy-time and CLI ones (the CLI
 * runs through ts-node; `bootboots infer` signs with the SDK's signer), and the AWS SDK
 * that the Lambda runtime provides.
 */
export const NOT_IN_LAMBDA_PACKAGES = [
    "tar",
    "commander",
    "cli-progress",
    "exifr",
    "ts-node",
    "typescript",
    "@aws-sdk/client-cloudwatch-logs",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-pricing",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-sagemaker",
    "@aws-sdk/client-sagemaker-runtime",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-sts",
    "@aws-sdk/util-dynamodb",
    "@aws-sdk/credential-provider-node",
    "@smithy/core",
    "@smithy/signature-v4",
];

export interface LambdaFunctionArgs {
    /** The account the stack deploys to: the role trusts Lambda only on its behalf. */
    readonly accountId: pulumi.Input<string>;
    /** What the function does, shown in the console. */
    readonly description: pulumi.Input<string>;
    /** Run-time limit in seconds. */
    readonly timeout: pulumi.Input<number>;
    /** Memory in MB (CPU grows with it). */
    readonly memorySize: pulumi.Input<number>;
    /** Environment variables: the function's settings. */
    readonly environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The only permissions the function gets besides writing its own logs. */
    readonly statements: readonly PolicyStatement[];
    /**
     * Builds the handler once per Lambda environment. Its closure is serialized into the
     * function's `__index.js`: hand it data as environment variables (plain strings), not
     * through an imported module's arrays, which the serializer may keep only in part.
     */
    readonly callbackFactory: aws.lambda.CallbackFactory<unknown, unknown>;
    /** Days the log group keeps its events (default 30). */
    readonly logRetentionDays?: pulumi.Input<number>;
    /** Concurrent executions reserved for (and allowed to) the function; unset leaves it unreserved. */
    readonly reservedConcurrency?: pulumi.Input<number>;
    /**
     * For a function invoked asynchronously: the event bus that gets each invocation Lambda's
     * two retries could not complete (components/failedEvents.ts keeps and reports them).
     */
    readonly onFailure?: pulumi.Input<string>;
}

/**
 * A Node.js Lambda built from a callback, with its own role, an inline policy of only the
 * given statements, and a log group with a fixed name and a retention period.
 */
export class LambdaFunction extends pulumi.ComponentResource {
    public readonly function: aws.lambda.CallbackFunction<unknown, unknown>;
    public readonly role: aws.iam.Role;
    public readonly rolePolicy: aws.iam.RolePolicy;
    public readonly logGroup: aws.cloudwatch.LogGroup;

    constructor(name: string, args: LambdaFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bootboots:lambda:LambdaFunction", name, {}, opts);
        // These resources were once children of this component's parent: the alias keeps
        // their identity, so that an update moves them instead of replacing them (the log
        // group's fixed name would collide).
        const child: pulumi.CustomResourceOptions = {
            parent: this,
            aliases: opts?.parent ? [{ parent: opts.parent }] : [],
        };

        this.logGroup = new aws.cloudwatch.LogGroup(
            name,
            { name: `/aws/lambda/${name}-${pulumi.getStack()}`, retentionInDays: args.logRetentionDays ?? 30 },
            child,
        );
        this.role = new aws.iam.Role(
            name,
            { assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com", args.accountId) },
            child,
        );
        this.rolePolicy = new aws.iam.RolePolicy(
            name,
            {
                role: this.role.id,
                policy: policyDocument([
                    {
                        Sid: "WriteLogs",
                        Effect: "Allow",
                        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                        Resource: pulumi.interpolate`${this.logGroup.arn}:*`,
                    },
                    ...args.statements,
                    ...(args.onFailure
                        ? [
                              {
                                  Sid: "ReportFailedEvents",
                                  Effect: "Allow" as const,
                                  Action: ["events:PutEvents"],
                                  Resource: args.onFailure,
                              },
                          ]
                        : []),
                ]),
            },
            child,
        );
        this.function = new aws.lambda.CallbackFunction(
            name,
            {
                description: args.description,
                runtime: aws.lambda.Runtime.NodeJS24dX,
                timeout: args.timeout,
                memorySize: args.memorySize,
                ...(args.reservedConcurrency !== undefined
                    ? { reservedConcurrentExecutions: args.reservedConcurrency }
                    : {}),
                role: this.role.arn,
                environment: { variables: args.environment },
                loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
                codePathOptions: { extraExcludePackages: NOT_IN_LAMBDA_PACKAGES },
                callbackFactory: args.callbackFactory,
            },
            { ...child, dependsOn: [this.rolePolicy] },
        );

        if (args.onFailure) {
            new aws.lambda.FunctionEventInvokeConfig(
                name,
                {
                    functionName: this.function.name,
                    maximumRetryAttempts: 2,
                    destinationConfig: { onFailure: { destination: args.onFailure } },
                },
                child,
            );
        }
        this.registerOutputs({ functionName: this.function.name, functionArn: this.function.arn });
    }
}

/**
 * What the stack hands a function for each of its settings (lib/functionSettings.ts): every
 * variable but Lambda's own, the optional ones only when set.
 */
export type EnvInputs<S extends EnvSpec> = {
    readonly [K in keyof S as S[K] extends { platform: true } | { optional: true } ? never : K]: pulumi.Input<
        ValueOfVar<S[K]>
    >;
} & {
    readonly [K in keyof S as S[K] extends { optional: true } ? K : never]?: pulumi.Input<ValueOfVar<S[K]>>;
};

/** A function's environment variables, written from its spec: each name once, each value as the function reads it. */
export function functionEnvironment<S extends EnvSpec>(
    spec: S,
    values: EnvInputs<S>,
): Record<string, pulumi.Input<string>> {
    const environment: Record<string, pulumi.Input<string>> = {};
    for (const [setting, variable] of Object.entries(spec)) {
        const value = (values as Record<string, pulumi.Input<unknown> | undefined>)[setting];
        if (variable.platform || value === undefined) continue;
        environment[variable.name] = pulumi.output(value).apply((v) => envText(variable, v));
    }
    return environment;
}
