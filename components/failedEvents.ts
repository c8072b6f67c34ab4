import { SNSClient } from "@aws-sdk/client-sns";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { reportFailedEvent } from "../handlers/failedEvents/reportFailedEvent";
import { FAILED_EVENT_DAYS, LAMBDA_FAILURE_DETAIL_TYPE } from "../lib/failedEvents";
import { readEnv } from "../lib/functionEnv";
import { FAILED_EVENTS_ENV } from "../lib/functionSettings";
import { policyDocument } from "../lib/iam";
import { LambdaFunction, functionEnvironment } from "./lambdaFunction";

export interface FailedEventsArgs {
    /** The account the stack deploys to. */
    readonly accountId: pulumi.Input<string>;
    /** The asynchronous functions whose failed invocations are kept and said (each sends them to the default bus). */
    readonly functionArns: pulumi.Input<string>[];
    /** The jobs topic: one message for each event no retry could process. */
    readonly topicArn: pulumi.Input<string>;
}

/**
 * What no retry could process is neither lost nor silent: each asynchronous function of the
 * stack sends a failed invocation (after Lambda's two retries) to the default event bus; a rule
 * there keeps the record in an SQS queue for 14 days, which `bootboots status` counts, and hands
 * it to the failed-events function, which sends the jobs topic one message naming what was
 * not processed.
 */
export class FailedEvents extends pulumi.ComponentResource {
    public readonly queue: aws.sqs.Queue;
    public readonly rule: aws.cloudwatch.EventRule;
    public readonly noticeFunction: aws.lambda.CallbackFunction<unknown, unknown>;

    constructor(
        name: string,
        private readonly args: FailedEventsArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("bootboots:operations:FailedEvents", name, {}, opts);
        this.queue = new aws.sqs.Queue(
            `${name}-failed-events`,
            { messageRetentionSeconds: FAILED_EVENT_DAYS * 86_400, sqsManagedSseEnabled: true },
            { parent: this },
        );
        this.rule = this.matchFailures(name);
        this.keepInQueue(name);
        this.noticeFunction = this.tellTheTopic(name);
        this.registerOutputs({ queueUrl: this.queue.url });
    }

    /** The failure records Lambda sends the default bus for the stack's functions. */
    private matchFailures(name: string): aws.cloudwatch.EventRule {
        const pattern = pulumi.all(this.args.functionArns).apply((arns: string[]) =>
            JSON.stringify({
                source: ["lambda"],
                "detail-type": [LAMBDA_FAILURE_DETAIL_TYPE],
                // Lambda names the invoked version: `<function ARN>:$LATEST`.
                detail: { requestContext: { functionArn: arns.map((arn) => ({ prefix: arn })) } },
            }),
        );
        return new aws.cloudwatch.EventRule(
            `${name}-failed-events`,
            {
                description: "Keeps and reports the BootBoots events that no retry could process",
                eventPattern: pattern,
            },
            { parent: this },
        );
    }

    private keepInQueue(name: string): void {
        new aws.sqs.QueuePolicy(
            `${name}-failed-events`,
            {
                queueUrl: this.queue.url,
                policy: policyDocument([
                    {
                        Sid: "KeepFailedEvents",
                        Effect: "Allow",
                        Principal: { Service: "events.amazonaws.com" },
                        Action: ["sqs:SendMessage"],
                        Resource: this.queue.arn,
                        Condition: { ArnEquals: { "aws:SourceArn": this.rule.arn } },
                    },
                ]),
            },
            { parent: this },
        );
        new aws.cloudwatch.EventTarget(
            `${name}-failed-events-queue`,
            { rule: this.rule.name, arn: this.queue.arn },
            { parent: this },
        );
    }

    /** The function that turns a failure record into one message on the jobs topic. */
    private tellTheTopic(name: string): aws.lambda.CallbackFunction<unknown, unknown> {
        const fn = new LambdaFunction(
            `${name}-failed-events`,
            {
                accountId: this.args.accountId,
                description: "Tells the jobs topic about each BootBoots event that no retry could process",
                timeout: 30,
                memorySize: 256,
                environment: functionEnvironment(FAILED_EVENTS_ENV, {
                    topicArn: this.args.topicArn,
                    queueUrl: this.queue.url,
                }),
                statements: [
                    { Sid: "TellTheUser", Effect: "Allow", Action: ["sns:Publish"], Resource: this.args.topicArn },
                ],
                callbackFactory: () => {
                    const settings = readEnv(FAILED_EVENTS_ENV, process.env);
                    const sns = new SNSClient({ maxAttempts: 5 });
                    return (event: unknown) => reportFailedEvent(sns, settings, (event ?? {}) as object);
                },
            },
            { parent: this },
        ).function;
        new aws.cloudwatch.EventTarget(
            `${name}-failed-events-notice`,
            { rule: this.rule.name, arn: fn.arn },
            { parent: this },
        );
        new aws.lambda.Permission(
            `${name}-failed-events-notice`,
            {
                action: "lambda:InvokeFunction",
                function: fn.name,
                principal: "events.amazonaws.com",
                sourceArn: this.rule.arn,
            },
            { parent: this },
        );
        return fn;
    }
}
