import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createInferHandler, readModelDecision } from "../handlers/infer/inferHandler";
import { readEnv } from "../lib/functionEnv";
import { INFER_ENV } from "../lib/functionSettings";
import {
    CAMERA_IMAGE_NAME_GLOB,
    CAMERA_ROUTE_KEY,
    CAMERA_ROUTE_PATH,
    CAMERA_ROUTE_RESOURCE,
    CameraSettings,
    GATEWAY_TIMEOUT_MS,
    INFERENCE_DEADLINE_MS,
    keepWarmSchedule,
} from "../lib/cameraApi";
import { PolicyStatement, policyDocument } from "../lib/iam";
import type { StackSettings } from "../lib/stackSettings";
import { TRAINING_OUTPUT_PREFIX } from "../lib/layout";
import { decisionSources } from "../lib/jobFiles";
import { LambdaFunction, functionEnvironment } from "./lambdaFunction";

export interface CameraApiArgs {
    /** The AWS account id, for ARNs. */
    readonly accountId: pulumi.Input<string>;
    /** The stack's region, for ARNs and the deploy-time check of the model's decision. */
    readonly region: pulumi.Input<string>;
    /**
     * The deployed model, once there is one: the endpoint the camera's images go to (the only
     * one the function may invoke) and the model it is configured with (its decision.json gives
     * the rule). Without it the API stores every image for labelling and answers that no model
     * is deployed yet.
     */
    readonly model?: {
        readonly endpointName: pulumi.Input<string>;
        readonly endpointArn: pulumi.Input<string>;
        readonly modelDataUrl: pulumi.Input<string>;
    };
    /** The models bucket, where the stack's jobs keep their decision.json. */
    readonly modelBucketName: pulumi.Input<string>;
    /** Its ARN, for IAM. */
    readonly modelBucketArn: pulumi.Input<string>;
    /** The bucket of camera images; the camera's images are stored in it. */
    readonly imagesBucketName: pulumi.Input<string>;
    /** The key prefix the images are stored under, ending with '/'. */
    readonly imagesPrefix: pulumi.Input<string>;
    /** The labels table; each stored image gets a row without `cat`. */
    readonly catadataTableName: pulumi.Input<string>;
    /** The default event bus, where a keep-warm request no retry could complete is sent. */
    readonly failedEventsBusArn: pulumi.Input<string>;
    /** Throttling, reserved concurrency, keep-warm, the camera's role and the events table (lib/stackSettings.ts). */
    readonly settings: CameraSettings & Pick<StackSettings, "classes" | "adoptExistingBuckets" | "visitGapMinutes">;
}

/**
 * The camera's `POST /infer`: an HTTP API with IAM (SigV4) authorization in front of the
 * infer Lambda, which asks the endpoint, acts on the answering model's own threshold, and
 * stores every image for labelling; the events table of the decisions that acted; a
 * managed policy that lets a camera call the route and nothing else.
 */
export class CameraApi extends pulumi.ComponentResource {
    public readonly api: aws.apigatewayv2.Api;
    public readonly eventsTable: aws.dynamodb.Table;
    /** Each camera's current visit: the frames the visit rule decides on. */
    public readonly visitsTable: aws.dynamodb.Table;
    public readonly inferFunction: aws.lambda.CallbackFunction<unknown, unknown>;
    public readonly invokePolicy: aws.iam.Policy;
    /** `https://<api>.execute-api.<region>.amazonaws.com/infer`. */
    public readonly url: pulumi.Output<string>;

    constructor(
        name: string,
        private readonly args: CameraApiArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("bootboots:camera:CameraApi", name, {}, opts);
        this.eventsTable = this.createEventsTable(name);
        this.visitsTable = this.createVisitsTable(name);
        this.inferFunction = this.createInferFunction(name);
        this.api = new aws.apigatewayv2.Api(
            name,
            { protocolType: "HTTP", description: "The BootBoots camera's inference API" },
            { parent: this },
        );
        this.createRoute(name);
        this.invokePolicy = this.createInvokePolicy(name);
        // Keeping a model warm needs a model.
        if (args.model && args.settings.keepWarmMinutes > 0) this.scheduleKeepWarm(name);
        this.url = pulumi.interpolate`${this.api.apiEndpoint}${CAMERA_ROUTE_PATH}`;
        if (args.model) this.warnWithoutDecision(args.model.modelDataUrl);
        this.registerOutputs({
            url: this.url,
            invokePolicyArn: this.invokePolicy.arn,
            eventsTableName: this.eventsTable.name,
            visitsTableName: this.visitsTable.name,
        });
    }

    /**
     * The decisions that acted: the user's history, so it is kept when the stack is destroyed and
     * protected from deletion; after a destroy, `adoptExistingBuckets` reads the kept table again.
     */
    private createEventsTable(name: string): aws.dynamodb.Table {
        const settings = this.args.settings;
        if (settings.adoptExistingBuckets)
            return aws.dynamodb.Table.get(`${name}-events`, settings.eventsTableName, undefined, { parent: this });
        return new aws.dynamodb.Table(
            `${name}-events`,
            {
                name: settings.eventsTableName,
                billingMode: "PAY_PER_REQUEST",
                hashKey: "day",
                rangeKey: "eventId",
                attributes: [
                    { name: "day", type: "S" },
                    { name: "eventId", type: "S" },
                ],
                ttl: { attributeName: "expiresAt", enabled: true },
                pointInTimeRecovery: { enabled: true },
                deletionProtectionEnabled: true,
            },
            { parent: this, retainOnDelete: true },
        );
    }

    /** One item per camera (lib/visits.ts VisitState); a state only lasts a visit, so TTL clears it and destroy deletes it. */
    private createVisitsTable(name: string): aws.dynamodb.Table {
        return new aws.dynamodb.Table(
            `${name}-visits`,
            {
                billingMode: "PAY_PER_REQUEST",
                hashKey: "camera",
                attributes: [{ name: "camera", type: "S" }],
                ttl: { attributeName: "expiresAt", enabled: true },
            },
            { parent: this },
        );
    }

    private createInferFunction(name: string): aws.lambda.CallbackFunction<unknown, unknown> {
        const a = this.args;
        return new LambdaFunction(
            `${name}-infer`,
            {
                accountId: a.accountId,
                // Only the keep-warm schedule invokes it asynchronously; the camera's requests are answered.
                onFailure: a.failedEventsBusArn,
                description:
                    "The BootBoots camera's POST /infer: the endpoint's answer, the decision, and the image kept for labelling",
                // The gateway gives up after 30 s; the function ends just before it.
                timeout: GATEWAY_TIMEOUT_MS / 1000 - 1,
                memorySize: 512,
                // -1 is Lambda's unreserved; 0 would stop the function.
                reservedConcurrency:
                    a.settings.cameraReservedConcurrency > 0 ? a.settings.cameraReservedConcurrency : -1,
                environment: functionEnvironment(INFER_ENV, {
                    endpointName: a.model?.endpointName ?? "",
                    classes: a.settings.classes,
                    modelDataUrl: a.model?.modelDataUrl ?? "",
                    modelBucket: a.modelBucketName,
                    imagesBucket: a.imagesBucketName,
                    imagesPrefix: a.imagesPrefix,
                    catadataTable: a.catadataTableName,
                    eventsTable: this.eventsTable.name,
                    visitsTable: this.visitsTable.name,
                    visitGapMinutes: a.settings.visitGapMinutes,
                    eventRetentionDays: a.settings.eventRetentionDays,
                    inferenceDeadlineMs: INFERENCE_DEADLINE_MS,
                }),
                statements: this.inferStatements(),
                callbackFactory: () => {
                    const settings = readEnv(INFER_ENV, process.env);
                    // InvokeEndpoint is retried by the handler, within the gateway's time; the writes by the SDK.
                    const clients = {
                        runtime: new SageMakerRuntimeClient({ maxAttempts: 1 }),
                        s3: new S3Client({ maxAttempts: 3 }),
                        dynamodb: new DynamoDBClient({ maxAttempts: 3 }),
                    };
                    return createInferHandler(clients, settings);
                },
            },
            { parent: this },
        ).function;
    }

    private inferStatements(): PolicyStatement[] {
        const a = this.args;
        const table = (tableName: pulumi.Input<string>) =>
            pulumi.interpolate`arn:aws:dynamodb:${a.region}:${a.accountId}:table/${tableName}`;
        return [
            {
                // Only new objects (If-None-Match: *) under the API's own names: a user's image is never written over.
                Sid: "StoreNewImages",
                Effect: "Allow",
                Action: ["s3:PutObject"],
                Resource: pulumi.interpolate`arn:aws:s3:::${a.imagesBucketName}/${a.imagesPrefix}${CAMERA_IMAGE_NAME_GLOB}`,
                Condition: { Null: { "s3:if-none-match": "false" } },
            },
            {
                // Rows keyed by the API's own image names only; the code writes them only where none exists.
                Sid: "AddUnlabelledRows",
                Effect: "Allow",
                Action: ["dynamodb:PutItem"],
                Resource: table(a.catadataTableName),
                Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [CAMERA_IMAGE_NAME_GLOB] } },
            },
            { Sid: "WriteEvents", Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: this.eventsTable.arn },
            {
                Sid: "KeepVisits",
                Effect: "Allow",
                Action: ["dynamodb:GetItem", "dynamodb:PutItem"],
                Resource: this.visitsTable.arn,
            },
            ...(a.model ? this.modelStatements(a.model) : []),
        ];
    }

    /** With a model: invoke its endpoint, and read the decision of whichever model answers. */
    private modelStatements(model: NonNullable<CameraApiArgs["model"]>): PolicyStatement[] {
        const a = this.args;
        const configured = pulumi.output(model.modelDataUrl).apply(decisionSources);
        return [
            {
                Sid: "InvokeEndpoint",
                Effect: "Allow",
                Action: ["sagemaker:InvokeEndpoint"],
                Resource: model.endpointArn,
            },
            {
                // The threshold of whichever model answers: a job's decision.json or output.tar.gz, or the configured model's.
                Sid: "ReadDecisions",
                Effect: "Allow",
                Action: ["s3:GetObject"],
                Resource: [
                    pulumi.interpolate`${a.modelBucketArn}/${TRAINING_OUTPUT_PREFIX}*/output/decision.json`,
                    pulumi.interpolate`${a.modelBucketArn}/${TRAINING_OUTPUT_PREFIX}*/output/output.tar.gz`,
                    pulumi.interpolate`arn:aws:s3:::${configured.bucket}/${configured.plainKey}`,
                    pulumi.interpolate`arn:aws:s3:::${configured.bucket}/${configured.outputArchiveKey}`,
                    pulumi.interpolate`arn:aws:s3:::${configured.bucket}/${configured.modelKey}`,
                ],
            },
            {
                // Without it a job without the plain decision.json reads as 403, not 404.
                Sid: "TellMissingDecisions",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: a.modelBucketArn,
                Condition: { StringLike: { "s3:prefix": [`${TRAINING_OUTPUT_PREFIX}*`] } },
            },
        ];
    }

    private createRoute(name: string): void {
        const a = this.args;
        const accessLogs = new aws.cloudwatch.LogGroup(
            `${name}-access`,
            { name: pulumi.interpolate`/aws/apigateway/${name}-${pulumi.getStack()}`, retentionInDays: 30 },
            { parent: this },
        );
        const integration = new aws.apigatewayv2.Integration(
            name,
            {
                apiId: this.api.id,
                integrationType: "AWS_PROXY",
                integrationMethod: "POST",
                integrationUri: this.inferFunction.arn,
                payloadFormatVersion: "2.0",
                timeoutMilliseconds: GATEWAY_TIMEOUT_MS,
            },
            { parent: this },
        );
        new aws.apigatewayv2.Route(
            name,
            {
                apiId: this.api.id,
                routeKey: CAMERA_ROUTE_KEY,
                authorizationType: "AWS_IAM",
                target: pulumi.interpolate`integrations/${integration.id}`,
            },
            { parent: this },
        );
        new aws.apigatewayv2.Stage(
            name,
            {
                apiId: this.api.id,
                name: "$default",
                autoDeploy: true,
                defaultRouteSettings: {
                    throttlingRateLimit: a.settings.cameraRateLimit,
                    throttlingBurstLimit: a.settings.cameraBurstLimit,
                },
                accessLogSettings: {
                    destinationArn: accessLogs.arn,
                    format: JSON.stringify({
                        requestId: "$context.requestId",
                        time: "$context.requestTime",
                        caller: "$context.identity.caller",
                        userArn: "$context.identity.userArn",
                        route: "$context.routeKey",
                        status: "$context.status",
                        bytes: "$context.requestHeader.content-length",
                        latencyMs: "$context.responseLatency",
                        error: "$context.error.message",
                        integrationError: "$context.integrationErrorMessage",
                    }),
                },
            },
            { parent: this },
        );
        new aws.lambda.Permission(
            name,
            {
                action: "lambda:InvokeFunction",
                function: this.inferFunction.name,
                principal: "apigateway.amazonaws.com",
                sourceArn: pulumi.interpolate`${this.api.executionArn}/*/${CAMERA_ROUTE_KEY.replace(" ", "")}`,
            },
            { parent: this },
        );
    }

    /** `execute-api:Invoke` on the one route, for the camera's role. */
    private createInvokePolicy(name: string): aws.iam.Policy {
        const policy = new aws.iam.Policy(
            `${name}-invoke`,
            {
                description: "Lets a BootBoots camera call POST /infer of its inference API, and nothing else",
                policy: policyDocument([
                    {
                        Sid: "CallInfer",
                        Effect: "Allow",
                        Action: ["execute-api:Invoke"],
                        Resource: pulumi.interpolate`${this.api.executionArn}/${CAMERA_ROUTE_RESOURCE}`,
                    },
                ]),
            },
            { parent: this },
        );
        if (this.args.settings.cameraRoleName) {
            new aws.iam.RolePolicyAttachment(
                `${name}-invoke`,
                { role: this.args.settings.cameraRoleName, policyArn: policy.arn },
                { parent: this },
            );
        }
        return policy;
    }

    /** Every N minutes one small image goes to the endpoint through the function, which warms both. */
    private scheduleKeepWarm(name: string): void {
        const rule = new aws.cloudwatch.EventRule(
            `${name}-keep-warm`,
            {
                description: "Keeps the BootBoots serverless endpoint warm for the camera",
                scheduleExpression: keepWarmSchedule(this.args.settings.keepWarmMinutes),
            },
            { parent: this },
        );
        new aws.cloudwatch.EventTarget(
            `${name}-keep-warm`,
            { rule: rule.name, arn: this.inferFunction.arn, input: JSON.stringify({ keepWarm: true }) },
            { parent: this },
        );
        new aws.lambda.Permission(
            `${name}-keep-warm`,
            {
                action: "lambda:InvokeFunction",
                function: this.inferFunction.name,
                principal: "events.amazonaws.com",
                sourceArn: rule.arn,
            },
            { parent: this },
        );
    }

    /** `pulumi preview` and `up` say so when the configured model has no threshold: the camera then gets no decision. */
    private warnWithoutDecision(modelDataUrlInput: pulumi.Input<string>): void {
        const profile = new pulumi.Config("aws").get("profile");
        pulumi.all([modelDataUrlInput, this.args.region]).apply(async ([modelDataUrl, region]) => {
            try {
                const decision = await readModelDecision(
                    new S3Client({ region, ...(profile ? { profile } : {}), maxAttempts: 2 }),
                    modelDataUrl,
                );
                if (!decision) {
                    pulumi.log.warn(
                        `${modelDataUrl} has no decision.json (trained before thresholds, or not a BootBoots job): the camera API will answer without a decision, and the camera will not act on it. Deploy a job trained since (npx bootboots train).`,
                        this,
                    );
                }
            } catch (error) {
                pulumi.log.warn(
                    `Could not read the decision threshold of ${modelDataUrl} (${(error as Error).name}: ${(error as Error).message}); the camera API reads it itself when it answers.`,
                    this,
                );
            }
        });
    }
}
