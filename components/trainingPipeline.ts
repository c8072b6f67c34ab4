import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { prepareDataset } from "../handlers/dataPrep/prepareDataset";
import { triggerTraining } from "../handlers/trigger/triggerTraining";
import { readEnv } from "../lib/functionEnv";
import { DATA_PREP_ENV, TRIGGER_ENV } from "../lib/functionSettings";
import { contract, metricDefinitions } from "../lib/contract";
import {
    PolicyStatement,
    assumeRolePolicy,
    ecrPullStatements,
    policyDocument,
    sagemakerLogStatements,
} from "../lib/iam";
import {
    BASE_WEIGHTS_PREFIX,
    CHECKPOINTS_PREFIX,
    CODE_PREFIX,
    DATASETS_PREFIX,
    TRAINING_JOB_NAME_PREFIX,
    TRAINING_OUTPUT_PREFIX,
} from "../lib/layout";
import { SPLIT_KEYS, StackSettings } from "../lib/stackSettings";
import { splitSettingsOf } from "../lib/dataset";
import { TRAINING_LOG_GROUP } from "../lib/sagemakerJobs";
import { buildSourceArchive } from "../lib/sourceArchive";
import { LambdaFunction, functionEnvironment } from "./lambdaFunction";

/** What the training pipeline reads of the stack's settings (lib/stackSettings.ts says what each does). */
export type TrainingSettings = Pick<
    StackSettings,
    | "classes"
    | "noCatClass"
    | "targetClass"
    | "maxFalseAlarmRate"
    | "trainingInstanceType"
    | "spotTraining"
    | "trainingNetworkIsolation"
    | (typeof SPLIT_KEYS)[number]
>;

export interface TrainingPipelineArgs {
    /** The AWS account id, for ARNs. */
    readonly accountId: pulumi.Input<string>;
    /** The stack's region, for ARNs and the training image. */
    readonly region: pulumi.Input<string>;
    /** The bucket data prep writes datasets to. */
    readonly trainingBucketName: pulumi.Input<string>;
    /** Its ARN, for IAM. */
    readonly trainingBucketArn: pulumi.Input<string>;
    /** The bucket of the script archive, training output and checkpoints. */
    readonly modelBucketName: pulumi.Input<string>;
    /** Its ARN, for IAM. */
    readonly modelBucketArn: pulumi.Input<string>;
    /** The existing bucket of camera images (only read). */
    readonly imagesBucketName: pulumi.Input<string>;
    /** The key prefix of the images in it, ending with '/' (default `catcam-training/`). */
    readonly imagesPrefix: pulumi.Input<string>;
    /** The existing DynamoDB table of labels (default `catadata`). */
    readonly catadataTableName: pulumi.Input<string>;
    /** The TensorFlow training image of the stack's version and region (resolved in index.ts). */
    readonly trainingImage: pulumi.Output<aws.sagemaker.GetPrebuiltEcrImageResult>;
    /** The stack settings the pipeline reads: the classes, the decision's limit, the split and the training defaults. */
    readonly settings: TrainingSettings;
    /** Local folder packed as the training script archive (train.py at its root). */
    readonly trainingSourceDir: string;
}

/**
 * The SageMaker execution role, the training script archive, and the data-prep and
 * trigger Lambdas that turn labelled images into a dataset and start a training job.
 */
export class TrainingPipeline extends pulumi.ComponentResource {
    public readonly sagemakerRole: aws.iam.Role;
    public readonly dataPrepFunction: aws.lambda.CallbackFunction<unknown, unknown>;
    public readonly triggerFunction: aws.lambda.CallbackFunction<unknown, unknown>;
    public readonly trainingScriptUri: pulumi.Output<string>;
    public readonly baseWeightsUri: pulumi.Output<string>;
    public readonly trainingImageUri: pulumi.Output<string>;

    constructor(
        name: string,
        private readonly args: TrainingPipelineArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("bootboots:training:TrainingPipeline", name, {}, opts);
        this.trainingScriptUri = this.uploadScriptArchive(name);
        this.baseWeightsUri = this.uploadBaseWeights(name);
        const trainingImage = args.trainingImage;
        this.trainingImageUri = trainingImage.registryPath;
        this.sagemakerRole = this.createSageMakerRole(name, trainingImage);
        this.dataPrepFunction = this.createDataPrep(name);
        this.triggerFunction = this.createTrigger(name, trainingImage, this.dataPrepFunction, this.sagemakerRole);
        this.registerOutputs({
            sagemakerRoleArn: this.sagemakerRole.arn,
            dataPrepFunctionName: this.dataPrepFunction.name,
            triggerTrainingFunctionName: this.triggerFunction.name,
            trainingScriptUri: this.trainingScriptUri,
        });
    }

    /** The training/ folder as a reproducible archive, named by its hash. */
    private uploadScriptArchive(name: string): pulumi.Output<string> {
        const archive = buildSourceArchive(this.args.trainingSourceDir);
        const scriptObject = new aws.s3.BucketObjectv2(
            `${name}-training-script`,
            {
                bucket: this.args.modelBucketName,
                key: archive.key,
                source: new pulumi.asset.FileAsset(archive.path),
                contentType: "application/gzip",
            },
            { parent: this },
        );
        return pulumi.interpolate`s3://${scriptObject.bucket}/${scriptObject.key}`;
    }

    /**
     * The ImageNet weights, fetched once by `pulumi up` and handed to each job as a channel,
     * so that no job downloads anything. S3 checks the upload against its SHA-256.
     */
    private uploadBaseWeights(name: string): pulumi.Output<string> {
        const baseWeights = new aws.s3.BucketObjectv2(
            `${name}-base-weights`,
            {
                bucket: this.args.modelBucketName,
                key: `${BASE_WEIGHTS_PREFIX}${contract.baseWeights.fileName}`,
                source: new pulumi.asset.RemoteAsset(contract.baseWeights.url),
                contentType: "application/x-hdf5",
                checksumAlgorithm: "SHA256",
            },
            { parent: this },
        );
        return pulumi.interpolate`s3://${baseWeights.bucket}/${baseWeights.key}`;
    }

    private createSageMakerRole(name: string, trainingImage: TrainingImage): aws.iam.Role {
        const role = new aws.iam.Role(
            `${name}-sagemaker`,
            {
                assumeRolePolicy: assumeRolePolicy("sagemaker.amazonaws.com", this.args.accountId),
                description: "Runs BootBoots training jobs",
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            `${name}-sagemaker`,
            { role: role.id, policy: policyDocument(sagemakerStatements(this.args, trainingImage)) },
            { parent: this },
        );
        return role;
    }

    private createDataPrep(name: string): aws.lambda.CallbackFunction<unknown, unknown> {
        const args = this.args;
        return new LambdaFunction(
            `${name}-data-prep`,
            {
                accountId: args.accountId,
                description: "Builds a BootBoots training dataset from catadata and the images bucket",
                timeout: 600,
                memorySize: 1024,
                environment: functionEnvironment(DATA_PREP_ENV, {
                    tableName: args.catadataTableName,
                    imagesBucket: args.imagesBucketName,
                    imagesPrefix: args.imagesPrefix,
                    trainingBucket: args.trainingBucketName,
                    classes: args.settings.classes,
                    noCatClass: args.settings.noCatClass,
                    split: splitSettingsOf(args.settings),
                }),
                statements: dataPrepStatements(args),
                callbackFactory: () => {
                    const settings = readEnv(DATA_PREP_ENV, process.env);
                    // The SDK's retries absorb S3 throttling (SlowDown, 503) so that no image is lost.
                    const s3 = new S3Client({ maxAttempts: 8 });
                    const dynamodb = new DynamoDBClient({ maxAttempts: 8 });
                    return (event: unknown) => prepareDataset({ s3, dynamodb }, settings, event);
                },
            },
            { parent: this },
        ).function;
    }

    private createTrigger(
        name: string,
        trainingImage: TrainingImage,
        dataPrepFunction: aws.lambda.CallbackFunction<unknown, unknown>,
        sagemakerRole: aws.iam.Role,
    ): aws.lambda.CallbackFunction<unknown, unknown> {
        const args = this.args;
        return new LambdaFunction(
            `${name}-trigger-training`,
            {
                accountId: args.accountId,
                description: "Prepares a dataset and starts a BootBoots SageMaker training job",
                // It waits for data prep (up to 600 s) before starting the job.
                timeout: 900,
                memorySize: 512,
                environment: functionEnvironment(TRIGGER_ENV, {
                    trainingBucket: args.trainingBucketName,
                    modelBucket: args.modelBucketName,
                    dataPrepFunction: dataPrepFunction.name,
                    sagemakerRoleArn: sagemakerRole.arn,
                    trainingImageUri: trainingImage.registryPath,
                    trainingScriptUri: this.trainingScriptUri,
                    baseWeightsUri: this.baseWeightsUri,
                    networkIsolation: args.settings.trainingNetworkIsolation,
                    instanceType: args.settings.trainingInstanceType,
                    spot: args.settings.spotTraining,
                    classes: args.settings.classes,
                    metricDefinitions,
                    targetClass: args.settings.targetClass,
                    maxFalseAlarmRate: args.settings.maxFalseAlarmRate,
                    tuning: contract.tuning,
                    stackName: pulumi.getStack(),
                }),
                statements: triggerStatements(args, sagemakerRole.arn, dataPrepFunction.arn),
                callbackFactory: () => {
                    const settings = readEnv(TRIGGER_ENV, process.env);
                    const clients = {
                        s3: new S3Client({ maxAttempts: 5 }),
                        sagemaker: new SageMakerClient({ maxAttempts: 5 }),
                        // Data prep runs for up to 600 s: no retries that could start it twice, no early timeout.
                        lambda: new LambdaClient({ maxAttempts: 1, requestHandler: { requestTimeout: 660_000 } }),
                    };
                    return (event: unknown, context: { awsRequestId: string }) =>
                        triggerTraining(clients, settings, event, context.awsRequestId);
                },
            },
            { parent: this },
        ).function;
    }
}

type TrainingImage = pulumi.Output<aws.sagemaker.GetPrebuiltEcrImageResult>;

/** What training jobs may do: read datasets, code, weights and checkpoints; write output and checkpoints; log; pull the image. */
function sagemakerStatements(args: TrainingPipelineArgs, trainingImage: TrainingImage): PolicyStatement[] {
    const { accountId, region } = args;
    return [
        ...datasetReadStatements(args),
        ...sagemakerModelBucketStatements(args),
        ...sagemakerLogStatements(region, accountId, TRAINING_LOG_GROUP),
        ...ecrPullStatements(trainingImage, region),
    ];
}

/** Read the datasets of the training bucket; listing them makes a missing one 404 ("No dataset exists yet"), not 403. */
function datasetReadStatements(args: TrainingPipelineArgs): PolicyStatement[] {
    return [
        {
            Sid: "ReadDatasets",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: pulumi.interpolate`${args.trainingBucketArn}/${DATASETS_PREFIX}*`,
        },
        {
            Sid: "ListDatasets",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: args.trainingBucketArn,
            Condition: { StringLike: { "s3:prefix": [`${DATASETS_PREFIX}*`] } },
        },
    ];
}

/** The job reads its code, weights and checkpoints, and writes its output and checkpoints, in the models bucket. */
function sagemakerModelBucketStatements(args: TrainingPipelineArgs): PolicyStatement[] {
    return [
        {
            Sid: "ReadCodeWeightsAndCheckpoints",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: [
                pulumi.interpolate`${args.modelBucketArn}/${CODE_PREFIX}*`,
                pulumi.interpolate`${args.modelBucketArn}/${BASE_WEIGHTS_PREFIX}*`,
                pulumi.interpolate`${args.modelBucketArn}/${CHECKPOINTS_PREFIX}*`,
            ],
        },
        {
            Sid: "WriteOutputAndCheckpoints",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: [
                pulumi.interpolate`${args.modelBucketArn}/${TRAINING_OUTPUT_PREFIX}*`,
                pulumi.interpolate`${args.modelBucketArn}/${CHECKPOINTS_PREFIX}*`,
            ],
        },
        {
            // Channels are S3 prefixes: SageMaker lists them before it copies them.
            Sid: "ListChannelsAndCheckpoints",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: args.modelBucketArn,
            Condition: {
                StringLike: {
                    "s3:prefix": [`${CODE_PREFIX}*`, `${BASE_WEIGHTS_PREFIX}*`, `${CHECKPOINTS_PREFIX}*`],
                },
            },
        },
    ];
}

/** What data prep may do: scan catadata, read the images prefix, list and write datasets/. */
function dataPrepStatements(args: TrainingPipelineArgs): PolicyStatement[] {
    const { accountId, region } = args;
    const imagesBucketArn = pulumi.interpolate`arn:aws:s3:::${args.imagesBucketName}`;
    return [
        {
            Sid: "ScanLabels",
            Effect: "Allow",
            Action: ["dynamodb:Scan"],
            Resource: pulumi.interpolate`arn:aws:dynamodb:${region}:${accountId}:table/${args.catadataTableName}`,
        },
        {
            Sid: "ReadImages",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: pulumi.interpolate`${imagesBucketArn}/${args.imagesPrefix}*`,
        },
        {
            // Without it S3 answers a missing image with 403, which would read as access denied.
            Sid: "TellMissingImages",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: imagesBucketArn,
            Condition: { StringLike: { "s3:prefix": [pulumi.interpolate`${args.imagesPrefix}*`] } },
        },
        {
            Sid: "ListDatasets",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: args.trainingBucketArn,
            Condition: { StringLike: { "s3:prefix": [`${DATASETS_PREFIX}*`] } },
        },
        {
            Sid: "WriteDatasets",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: pulumi.interpolate`${args.trainingBucketArn}/${DATASETS_PREFIX}*`,
        },
    ];
}

/** What the trigger may do: run bootboots-* training and tuning jobs, pass the SageMaker role, invoke data prep, read datasets/. */
function triggerStatements(
    args: TrainingPipelineArgs,
    sagemakerRoleArn: pulumi.Input<string>,
    dataPrepFunctionArn: pulumi.Input<string>,
): PolicyStatement[] {
    const { accountId, region } = args;
    const jobs = (kind: string) =>
        pulumi.interpolate`arn:aws:sagemaker:${region}:${accountId}:${kind}/${TRAINING_JOB_NAME_PREFIX}*`;
    return [
        {
            // Only the stack's instance type, and only isolated jobs when isolation is on: what the trigger starts is the stack's to say.
            Sid: "StartJobs",
            Effect: "Allow",
            Action: ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"],
            Resource: [jobs("training-job"), jobs("hyper-parameter-tuning-job")],
            Condition: startConditions(args.settings),
        },
        {
            // The tuner names its training jobs after the tuning job, so they keep the prefix too.
            Sid: "FollowAndTagJobs",
            Effect: "Allow",
            Action: ["sagemaker:AddTags", "sagemaker:DescribeTrainingJob", "sagemaker:DescribeHyperParameterTuningJob"],
            Resource: [jobs("training-job"), jobs("hyper-parameter-tuning-job")],
        },
        {
            Sid: "PassSageMakerRole",
            Effect: "Allow",
            Action: ["iam:PassRole"],
            Resource: sagemakerRoleArn,
            Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
        },
        {
            Sid: "InvokeDataPrep",
            Effect: "Allow",
            Action: ["lambda:InvokeFunction"],
            Resource: dataPrepFunctionArn,
        },
        ...datasetReadStatements(args),
    ];
}

/** The conditions on starting a job: the stack's instance type, and network isolation when the stack asks for it. */
function startConditions(settings: TrainingSettings): NonNullable<PolicyStatement["Condition"]> {
    return {
        "ForAllValues:StringEquals": { "sagemaker:InstanceTypes": [settings.trainingInstanceType] },
        ...(settings.trainingNetworkIsolation ? { Bool: { "sagemaker:NetworkIsolation": "true" } } : {}),
    };
}
