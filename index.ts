import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { CameraApi } from "./components/cameraApi";
import { DataBuckets } from "./components/dataBuckets";
import { FailedEvents } from "./components/failedEvents";
import { JobEvents } from "./components/jobEvents";
import { ServerlessEndpoint } from "./components/serverlessEndpoint";
import { TrainingPipeline } from "./components/trainingPipeline";
import { loadStackConfig } from "./config";
import { defaultEventBusArn } from "./lib/failedEvents";
import { tensorflowImage } from "./lib/images";
import { splitSettingsOf } from "./lib/dataset";
import { checkPrerequisites } from "./prerequisites";
import { defaultImagesBucketName } from "./lib/prerequisites";

// config → what must exist → data buckets → training pipeline → after-job events → (once a model exists) serverless endpoint → camera API → failed events
const config = loadStackConfig();
const accountId = aws.getCallerIdentityOutput().accountId;
const region = aws.getRegionOutput().region;

// The images bucket and the catadata table are the user's: looked up, so that a missing one stops preview.
const { imagesBucketName, catadataTableName } = checkPrerequisites({
    imagesBucketName:
        config.imagesBucketName ??
        pulumi.all([accountId, region]).apply(([account, r]) => defaultImagesBucketName(account, r)),
    catadataTableName: config.catadataTableName,
    region,
    checkImagesBucket: config.checkImagesBucket,
});

// The TensorFlow images of the stack's version, one for training and one for serving.
const trainingImage = tensorflowImage("tensorflow-training", config.tensorflowVersion, region);
const inferenceImage = tensorflowImage("tensorflow-inference", config.tensorflowVersion, region);

// What no retry of an asynchronous function could process goes to the default bus, to be kept and said.
const failedEventsBusArn = pulumi.all([region, accountId]).apply(([r, a]) => defaultEventBusArn(r, a));

const buckets = new DataBuckets("bootboots", { accountId, adoptExisting: config.adoptExistingBuckets });

const pipeline = new TrainingPipeline("bootboots", {
    accountId,
    region,
    trainingBucketName: buckets.trainingBucket.bucket,
    trainingBucketArn: buckets.trainingBucket.arn,
    modelBucketName: buckets.modelBucket.bucket,
    modelBucketArn: buckets.modelBucket.arn,
    imagesBucketName,
    imagesPrefix: config.imagesPrefix,
    catadataTableName,
    trainingImage,
    settings: config,
    trainingSourceDir: path.join(__dirname, "training"),
});

// After every job: its figures stored and registered, the verdict sent, and retraining on a schedule.
const jobEvents = new JobEvents("bootboots", {
    accountId,
    region,
    modelBucketName: buckets.modelBucket.bucket,
    modelBucketArn: buckets.modelBucket.arn,
    trainingBucketName: buckets.trainingBucket.bucket,
    trainingBucketArn: buckets.trainingBucket.arn,
    catadataTableName,
    triggerFunctionName: pipeline.triggerFunction.name,
    triggerFunctionArn: pipeline.triggerFunction.arn,
    inferenceImage,
    failedEventsBusArn,
    servingModelUrl: config.modelDataUrl,
    settings: config,
});

const endpoint = config.modelDataUrl
    ? new ServerlessEndpoint("bootboots", {
          accountId,
          region,
          modelDataUrl: config.modelDataUrl,
          modelBucketName: buckets.modelBucket.bucket,
          inferenceImage,
          settings: config,
      })
    : undefined;

// From the first `pulumi up`, model or not: without one it keeps every image for labelling.
const camera = new CameraApi("bootboots-camera", {
    accountId,
    region,
    model:
        endpoint && config.modelDataUrl
            ? {
                  endpointName: endpoint.endpoint.name,
                  endpointArn: endpoint.endpoint.arn,
                  modelDataUrl: config.modelDataUrl,
              }
            : undefined,
    modelBucketName: buckets.modelBucket.bucket,
    modelBucketArn: buckets.modelBucket.arn,
    imagesBucketName,
    imagesPrefix: config.imagesPrefix,
    catadataTableName,
    failedEventsBusArn,
    settings: config,
});

const failedEvents = new FailedEvents("bootboots", {
    accountId,
    topicArn: jobEvents.topic.arn,
    functionArns: [jobEvents.jobEventsFunction, jobEvents.retrainFunction, camera.inferFunction].flatMap((fn) =>
        fn ? [fn.arn] : [],
    ),
});

export const trainingBucketName = buckets.trainingBucket.bucket;
export const modelBucketName = buckets.modelBucket.bucket;
export const sagemakerRoleArn = pipeline.sagemakerRole.arn;
export const dataPrepFunctionName = pipeline.dataPrepFunction.name;
export const triggerTrainingFunctionName = pipeline.triggerFunction.name;
// Where a finished job's message goes, and the registry its model is versioned in.
export const notificationTopicArn = jobEvents.topic.arn;
export const modelPackageGroupName = jobEvents.modelPackageGroup.modelPackageGroupName;
// Where the events no retry could process are kept 14 days; `bootboots status` counts them.
export const failedEventsQueueUrl = failedEvents.queue.url;
export const trainingScriptUri = pipeline.trainingScriptUri;
export const endpointName = endpoint?.endpoint.name;
// What the camera calls, and what its role needs to call it; `bootboots events` reads the table.
export const cameraApiUrl = camera.url;
export const cameraInvokePolicyArn = camera.invokePolicy.arn;
export const eventsTableName = camera.eventsTable.name;
// What `bootboots suggest` and `label` read and write: the camera's images and their labels.
export { imagesBucketName, catadataTableName };
export const imagesPrefix = config.imagesPrefix;
// The classes in model-output order, the one the camera acts on and the one without a cat: the label page's buttons.
export const classes = config.classes;
export const targetClass = config.targetClass;
export const noCatClass = config.noCatClass;
// What `bootboots doctor` compares with the CLI's region and the labels with.
export { region };
export const splitSettings = splitSettingsOf(config);
// What `bootboots tune` needs for its cost estimate.
export const trainingInstanceType = config.trainingInstanceType;
export const maxTuningCostUsd = config.maxTuningCostUsd;
