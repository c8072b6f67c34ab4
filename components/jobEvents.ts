import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { SNSClient } from "@aws-sdk/client-sns";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { handleJobEvent } from "../handlers/jobEvents/jobEvents";
import { ScheduledEvent, checkForRetraining } from "../handlers/retrainCheck/retrainCheck";
import { readEnv } from "../lib/functionEnv";
import { JOB_EVENTS_ENV, RETRAIN_CHECK_ENV } from "../lib/functionSettings";
import { PolicyStatement } from "../lib/iam";
import { JOB_TAGS, TERMINAL_JOB_STATUSES } from "../lib/sagemakerJobs";
import {
    DATASETS_PREFIX,
    LATEST_DATASET_KEY,
    RETRAIN_CHECK_KEY,
    TRAINING_JOB_NAME_PREFIX,
    TRAINING_OUTPUT_PREFIX,
} from "../lib/layout";
import { AfterJobSettings, MODEL_PACKAGE_GROUP } from "../lib/retrain";
import type { StackSettings } from "../lib/stackSettings";
import { LambdaFunction, functionEnvironment } from "./lambdaFunction";

export interface JobEventsArgs {
    /** The account the stack deploys to. */
    readonly accountId: pulumi.Input<string>;
    /** The stack's region. */
    readonly region: pulumi.Input<string>;
    /** The models bucket: training-output/<job>/… */
    readonly modelBucketName: pulumi.Input<string>;
    readonly modelBucketArn: pulumi.Input<string>;
    /** The training-data bucket: datasets and the retraining check's record. */
    readonly trainingBucketName: pulumi.Input<string>;
    readonly trainingBucketArn: pulumi.Input<string>;
    /** The catadata table, where the scheduled check counts labels. */
    readonly catadataTableName: pulumi.Input<string>;
    /** The trigger the scheduled check invokes. */
    readonly triggerFunctionName: pulumi.Input<string>;
    readonly triggerFunctionArn: pulumi.Input<string>;
    /** The TF Serving image the registered versions name (resolved once, in index.ts). */
    readonly inferenceImage: pulumi.Output<aws.sagemaker.GetPrebuiltEcrImageResult>;
    /** The model the endpoint serves (config modelDataUrl), compared with each finished job; unset when none. */
    readonly servingModelUrl?: pulumi.Input<string>;
    /** The default event bus, where the functions send each event their retries could not process. */
    readonly failedEventsBusArn: pulumi.Input<string>;
    /** Who is told, when retraining starts by itself, and the classes it counts (lib/stackSettings.ts). */
    readonly settings: AfterJobSettings & Pick<StackSettings, "classes">;
}

/**
 * What happens after every job of the stack without being asked: EventBridge hands each
 * finished training or tuning job to the job-events Lambda, which stores its figures beside
 * the model, compares it with the serving model, registers it in the model package group and
 * publishes one message to the topic. Optionally, a schedule starts a job when enough new
 * labels have arrived.
 */
export class JobEvents extends pulumi.ComponentResource {
    public readonly topic: aws.sns.Topic;
    public readonly modelPackageGroup: aws.sagemaker.ModelPackageGroup;
    public readonly jobEventsFunction: aws.lambda.CallbackFunction<unknown, unknown>;
    public readonly retrainFunction?: aws.lambda.CallbackFunction<unknown, unknown>;

    constructor(
        name: string,
        private readonly args: JobEventsArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("bootboots:training:JobEvents", name, {}, opts);
        this.topic = new aws.sns.Topic(`${name}-jobs`, { displayName: "BootBoots jobs" }, { parent: this });
        if (args.settings.notificationEmail) {
            new aws.sns.TopicSubscription(
                `${name}-email`,
                { topic: this.topic.arn, protocol: "email", endpoint: args.settings.notificationEmail },
                { parent: this },
            );
        }
        this.modelPackageGroup = new aws.sagemaker.ModelPackageGroup(
            name,
            {
                modelPackageGroupName: MODEL_PACKAGE_GROUP,
                modelPackageGroupDescription: "BootBoots models: one version per completed training job",
            },
            { parent: this },
        );
        this.jobEventsFunction = this.createJobEventsFunction(name);
        this.routeFinishedJobs(name);
        if (args.settings.retrainSchedule)
            this.retrainFunction = this.scheduleRetraining(name, args.settings.retrainSchedule);
        this.registerOutputs({
            topicArn: this.topic.arn,
            modelPackageGroupName: this.modelPackageGroup.modelPackageGroupName,
        });
    }

    private createJobEventsFunction(name: string): aws.lambda.CallbackFunction<unknown, unknown> {
        const args = this.args;
        return new LambdaFunction(
            `${name}-job-events`,
            {
                accountId: args.accountId,
                onFailure: args.failedEventsBusArn,
                description: "Stores, compares, registers and reports each finished BootBoots training or tuning job",
                timeout: 120,
                memorySize: 512,
                environment: functionEnvironment(JOB_EVENTS_ENV, {
                    modelBucket: args.modelBucketName,
                    trainingBucket: args.trainingBucketName,
                    topicArn: this.topic.arn,
                    modelPackageGroup: this.modelPackageGroup.modelPackageGroupName,
                    inferenceImage: args.inferenceImage.registryPath,
                    servingModelUrl: args.servingModelUrl ?? "",
                }),
                statements: jobEventsStatements(args, this.topic.arn),
                callbackFactory: () => {
                    const settings = readEnv(JOB_EVENTS_ENV, process.env);
                    // The SDK's retries absorb throttling; what still fails is retried with the event.
                    const clients = {
                        s3: new S3Client({ maxAttempts: 5 }),
                        sagemaker: new SageMakerClient({ maxAttempts: 5 }),
                        sns: new SNSClient({ maxAttempts: 5 }),
                    };
                    return (event: unknown, context: { awsRequestId: string }) =>
                        handleJobEvent(clients, settings, event, context.awsRequestId);
                },
            },
            { parent: this },
        ).function;
    }

    /** One rule per event type, each matching only the jobs that carry this stack's tag. */
    private routeFinishedJobs(name: string): void {
        const finished = [...TERMINAL_JOB_STATUSES];
        const patterns = {
            training: {
                "detail-type": ["SageMaker Training Job State Change"],
                detail: { TrainingJobStatus: finished, Tags: { [JOB_TAGS.stack]: [pulumi.getStack()] } },
            },
            tuning: {
                "detail-type": ["SageMaker HyperParameter Tuning Job State Change"],
                detail: { HyperParameterTuningJobStatus: finished, Tags: { [JOB_TAGS.stack]: [pulumi.getStack()] } },
            },
        };
        for (const [kind, pattern] of Object.entries(patterns)) {
            const rule = new aws.cloudwatch.EventRule(
                `${name}-${kind}-finished`,
                {
                    description: `Hands each finished ${kind} job of stack ${pulumi.getStack()} to the job-events function`,
                    eventPattern: JSON.stringify({ source: ["aws.sagemaker"], ...pattern }),
                },
                { parent: this },
            );
            this.invokeOn(`${name}-${kind}-finished`, rule, this.jobEventsFunction);
        }
    }

    private scheduleRetraining(name: string, schedule: string): aws.lambda.CallbackFunction<unknown, unknown> {
        const args = this.args;
        const fn = new LambdaFunction(
            `${name}-retrain-check`,
            {
                accountId: args.accountId,
                onFailure: args.failedEventsBusArn,
                description: "Starts a BootBoots training job when enough new labels have arrived",
                // It waits for the trigger, which waits for data prep (up to 600 s).
                timeout: 900,
                memorySize: 512,
                // One check at a time: a schedule faster than a start cannot start two jobs.
                reservedConcurrency: 1,
                environment: functionEnvironment(RETRAIN_CHECK_ENV, {
                    catadataTable: args.catadataTableName,
                    trainingBucket: args.trainingBucketName,
                    modelBucket: args.modelBucketName,
                    triggerFunction: args.triggerFunctionName,
                    servingModelUrl: args.servingModelUrl ?? "",
                    minNewLabels: args.settings.retrainMinNewLabels,
                    classes: args.settings.classes,
                }),
                statements: retrainStatements(args),
                callbackFactory: () => {
                    const settings = readEnv(RETRAIN_CHECK_ENV, process.env);
                    const clients = {
                        s3: new S3Client({ maxAttempts: 5 }),
                        dynamodb: new DynamoDBClient({ maxAttempts: 5 }),
                        sagemaker: new SageMakerClient({ maxAttempts: 5 }),
                        // The trigger runs data prep first: never retried by the SDK (the check's own retry
                        // sends the same request id), and waited for nearly the check's whole time.
                        lambda: new LambdaClient({ maxAttempts: 1, requestHandler: { requestTimeout: 880_000 } }),
                    };
                    return (event: unknown) => checkForRetraining(clients, settings, (event ?? {}) as ScheduledEvent);
                },
            },
            { parent: this },
        ).function;
        const rule = new aws.cloudwatch.EventRule(
            `${name}-retrain`,
            { description: "Checks for enough new labels to train on", scheduleExpression: schedule },
            { parent: this },
        );
        this.invokeOn(`${name}-retrain`, rule, fn);
        return fn;
    }

    private invokeOn(name: string, rule: aws.cloudwatch.EventRule, fn: aws.lambda.CallbackFunction<unknown, unknown>) {
        new aws.cloudwatch.EventTarget(name, { rule: rule.name, arn: fn.arn }, { parent: this });
        new aws.lambda.Permission(
            name,
            {
                action: "lambda:InvokeFunction",
                function: fn.name,
                principal: "events.amazonaws.com",
                sourceArn: rule.arn,
            },
            { parent: this },
        );
    }
}

function jobEventsStatements(args: JobEventsArgs, topicArn: pulumi.Input<string>): PolicyStatement[] {
    const output = `${TRAINING_OUTPUT_PREFIX}*`;
    return [
        {
            Sid: "ReadJobOutput",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: pulumi.interpolate`${args.modelBucketArn}/${output}`,
        },
        {
            // Without it S3 answers a missing file with 403: an older job's plain files would read as denied.
            Sid: "TellMissingOutput",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: args.modelBucketArn,
            Condition: { StringLike: { "s3:prefix": [output] } },
        },
        {
            Sid: "StoreFiguresAndMarkers",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: [
                "output/evaluation.json",
                "output/decision.json",
                "output/model-package.json",
                "notified.json",
                "job-events.json",
            ].map((file) => pulumi.interpolate`${args.modelBucketArn}/${TRAINING_OUTPUT_PREFIX}*/${file}`),
        },
        {
            // Which datasets are in use: every version's, the serving job's, the latest; then their expiry tags.
            Sid: "FindDatasetsInUse",
            Effect: "Allow",
            Action: ["sagemaker:DescribeModelPackage"],
            Resource: pulumi.interpolate`arn:aws:sagemaker:${args.region}:${args.accountId}:model-package/${MODEL_PACKAGE_GROUP}/*`,
        },
        {
            Sid: "FindServingDataset",
            Effect: "Allow",
            Action: ["sagemaker:DescribeTrainingJob"],
            Resource: pulumi.interpolate`arn:aws:sagemaker:${args.region}:${args.accountId}:training-job/${TRAINING_JOB_NAME_PREFIX}*`,
        },
        {
            // ListModelPackages takes no resource (SageMaker has no resource-level permission for it).
            Sid: "ListVersions",
            Effect: "Allow",
            Action: ["sagemaker:ListModelPackages"],
            Resource: "*",
        },
        {
            Sid: "ListDatasets",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: args.trainingBucketArn,
            Condition: { StringLike: { "s3:prefix": [`${DATASETS_PREFIX}*`] } },
        },
        {
            Sid: "TagDatasetsForExpiry",
            Effect: "Allow",
            Action: ["s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging"],
            Resource: pulumi.interpolate`${args.trainingBucketArn}/${DATASETS_PREFIX}*`,
        },
        {
            Sid: "ReadLatestDataset",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: pulumi.interpolate`${args.trainingBucketArn}/${LATEST_DATASET_KEY}`,
        },
        {
            Sid: "RegisterVersions",
            Effect: "Allow",
            Action: ["sagemaker:CreateModelPackage"],
            Resource: [
                pulumi.interpolate`arn:aws:sagemaker:${args.region}:${args.accountId}:model-package-group/${MODEL_PACKAGE_GROUP}`,
                pulumi.interpolate`arn:aws:sagemaker:${args.region}:${args.accountId}:model-package/${MODEL_PACKAGE_GROUP}/*`,
            ],
        },
        { Sid: "TellTheUser", Effect: "Allow", Action: ["sns:Publish"], Resource: topicArn },
    ];
}

function retrainStatements(args: JobEventsArgs): PolicyStatement[] {
    return [
        {
            Sid: "CountLabels",
            Effect: "Allow",
            Action: ["dynamodb:Scan"],
            Resource: pulumi.interpolate`arn:aws:dynamodb:${args.region}:${args.accountId}:table/${args.catadataTableName}`,
        },
        {
            Sid: "FindServingDataset",
            Effect: "Allow",
            Action: ["sagemaker:DescribeTrainingJob"],
            Resource: pulumi.interpolate`arn:aws:sagemaker:${args.region}:${args.accountId}:training-job/${TRAINING_JOB_NAME_PREFIX}*`,
        },
        {
            // The List calls take no resource (SageMaker has no resource-level permission for them).
            Sid: "FindRunningJobs",
            Effect: "Allow",
            Action: ["sagemaker:ListTrainingJobs", "sagemaker:ListHyperParameterTuningJobs"],
            Resource: "*",
        },
        {
            Sid: "ReadManifestsAndTheLastCheck",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: [
                pulumi.interpolate`${args.trainingBucketArn}/${DATASETS_PREFIX}*/manifest.json`,
                pulumi.interpolate`${args.trainingBucketArn}/${RETRAIN_CHECK_KEY}`,
            ],
        },
        {
            // Without it an expired manifest reads as 403, not as missing.
            Sid: "TellExpiredManifests",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: args.trainingBucketArn,
            Condition: { StringLike: { "s3:prefix": [`${DATASETS_PREFIX}*`, RETRAIN_CHECK_KEY] } },
        },
        {
            Sid: "RecordTheCheck",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: pulumi.interpolate`${args.trainingBucketArn}/${RETRAIN_CHECK_KEY}`,
        },
        { Sid: "StartTraining", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: args.triggerFunctionArn },
    ];
}
