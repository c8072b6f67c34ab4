import { INFERENCE_DEADLINE_MS } from "./cameraApi";
import type { MetricDefinition, TuningSpace } from "./contract";
import type { SplitSettings } from "./dataset";
import { EnvSpec, SettingsOf, booleanVar, jsonVar, numberVar, optionalVar, platformVar, textVar } from "./functionEnv";

/**
 * Each Lambda's settings and the environment variable that carries each one: the one place
 * an environment name is written. The components write the variables from these specs, the
 * handlers read them by the same (lib/functionEnv.ts).
 */

const CLASSES = jsonVar<readonly string[]>("CLASSES");
const CATADATA_TABLE = textVar("CATADATA_TABLE");
const IMAGES_BUCKET = textVar("IMAGES_BUCKET");
const IMAGES_PREFIX = textVar("IMAGES_PREFIX");
const TRAINING_BUCKET = textVar("TRAINING_BUCKET");
const MODEL_BUCKET = textVar("MODEL_BUCKET");
/** The model the endpoint serves (stack config modelDataUrl), or "" when none. */
const SERVING_MODEL_URL = optionalVar(textVar("SERVING_MODEL_URL"), "");

/** Image copies in flight at once in data prep: hides S3 latency without tripping its request-rate limits. */
export const DEFAULT_COPY_CONCURRENCY = 32;

/** The jobs topic, where every message of the stack goes. */
const TOPIC_ARN = textVar("TOPIC_ARN");

/** Data prep: where the labels and images are, where datasets go, and how they are split. */
export const DATA_PREP_ENV = {
    /** The catadata table. */
    tableName: CATADATA_TABLE,
    /** The bucket of camera images (only read). */
    imagesBucket: IMAGES_BUCKET,
    /** The key prefix of the images in it, ending with '/'. */
    imagesPrefix: IMAGES_PREFIX,
    /** Where datasets are written. */
    trainingBucket: TRAINING_BUCKET,
    /** The class list, in model-output order. */
    classes: CLASSES,
    /** The class of images without a cat, sampled down to maxNoCatSamples. */
    noCatClass: textVar("NO_CAT_CLASS"),
    /** The stack's split settings, which the event may override. */
    split: jsonVar<SplitSettings>("SPLIT_SETTINGS"),
    /** Image copies in flight at once (a benchmark or a test may set fewer). */
    copyConcurrency: optionalVar(numberVar("COPY_CONCURRENCY"), DEFAULT_COPY_CONCURRENCY),
} satisfies EnvSpec;
export type DataPrepEnv = SettingsOf<typeof DATA_PREP_ENV>;

/** The trigger: what a training job is built from, and the data-prep function it waits for. */
export const TRIGGER_ENV = {
    /** The stack's region (Lambda sets it). */
    region: platformVar("AWS_REGION"),
    /** The bucket that holds datasets. */
    trainingBucket: TRAINING_BUCKET,
    /** The bucket for the script archive, training output and checkpoints. */
    modelBucket: MODEL_BUCKET,
    /** The data-prep function the trigger invokes. */
    dataPrepFunction: textVar("DATA_PREP_FUNCTION"),
    /** The role the job runs as. */
    sagemakerRoleArn: textVar("SAGEMAKER_ROLE_ARN"),
    /** The TensorFlow training image of the region. */
    trainingImageUri: textVar("TRAINING_IMAGE_URI"),
    /** `s3://…/code/sourcedir-<hash>.tar.gz`, delivered to the job as the `code` channel. */
    trainingScriptUri: textVar("TRAINING_SCRIPT_URI"),
    /** `s3://…/base-weights/<file>.h5`, the MobileNetV2 weights, delivered as the `base_weights` channel. */
    baseWeightsUri: textVar("BASE_WEIGHTS_URI"),
    /** Run the job with network isolation: it then needs no internet, and gets none. */
    networkIsolation: booleanVar("NETWORK_ISOLATION"),
    /** The stack's default instance type (`trainingInstanceType`). */
    instanceType: textVar("TRAINING_INSTANCE_TYPE"),
    /** The stack's default for managed spot (`spotTraining`). */
    spot: booleanVar("SPOT_TRAINING"),
    /** The class list, in model-output order. */
    classes: CLASSES,
    /** The regexes that turn the job's log lines into metrics. */
    metricDefinitions: jsonVar<readonly MetricDefinition[]>("METRIC_DEFINITIONS"),
    /** The class the camera acts on: the job picks its decision threshold. */
    targetClass: textVar("TARGET_CLASS"),
    /** The false-alarm rate that threshold may not exceed on the validation set. */
    maxFalseAlarmRate: numberVar("MAX_FALSE_ALARM_RATE"),
    /** What a tuning job searches, and for which objective. */
    tuning: jsonVar<TuningSpace>("TUNING_SPACE"),
    /** The Pulumi stack: its jobs carry it as a tag, so that only their events reach its job-events function. */
    stackName: textVar("STACK_NAME"),
} satisfies EnvSpec;
export type TriggerEnv = SettingsOf<typeof TRIGGER_ENV>;

/** The camera API's infer function. */
export const INFER_ENV = {
    /** The serverless endpoint the camera's images go to; "" before any model is deployed. */
    endpointName: optionalVar(textVar("ENDPOINT_NAME"), ""),
    /** The class list in model-output order. */
    classes: CLASSES,
    /** The configured model; its variant, and the stack's jobs, are the models that may answer ("" without one). */
    modelDataUrl: optionalVar(textVar("MODEL_DATA_URL"), ""),
    /** The stack's models bucket, where its jobs keep their decision.json. */
    modelBucket: MODEL_BUCKET,
    /** Where each camera image is stored. */
    imagesBucket: IMAGES_BUCKET,
    imagesPrefix: IMAGES_PREFIX,
    /** Each stored image gets a row without `cat` here. */
    catadataTable: CATADATA_TABLE,
    /** The decisions that acted. */
    eventsTable: textVar("EVENTS_TABLE"),
    /** Days an event is kept. */
    eventRetentionDays: numberVar("EVENT_RETENTION_DAYS"),
    /** Each camera's current visit (lib/visits.ts VisitState). */
    visitsTable: textVar("VISITS_TABLE"),
    /** The longest gap between two frames of one visit (stack setting visitGapMinutes). */
    visitGapMinutes: numberVar("VISIT_GAP_MINUTES"),
    /** The time the endpoint gets, retries included, inside the gateway's 30 s (a test may set less). */
    inferenceDeadlineMs: optionalVar(numberVar("INFERENCE_DEADLINE_MS"), INFERENCE_DEADLINE_MS),
} satisfies EnvSpec;
export type InferEnv = SettingsOf<typeof INFER_ENV>;

/** The job-events function. */
export const JOB_EVENTS_ENV = {
    /** Where the jobs' output is. */
    modelBucket: MODEL_BUCKET,
    /** Where the datasets are, which it tags for expiry when nothing uses them any more. */
    trainingBucket: TRAINING_BUCKET,
    /** Where the message about each job goes. */
    topicArn: TOPIC_ARN,
    /** The model package group each completed job is registered in. */
    modelPackageGroup: textVar("MODEL_PACKAGE_GROUP"),
    /** The TF Serving image the registered versions name (the stack's inference image). */
    inferenceImage: textVar("INFERENCE_IMAGE"),
    /** The model the endpoint serves, or "" when none. */
    servingModelUrl: SERVING_MODEL_URL,
} satisfies EnvSpec;
export type JobEventsEnv = SettingsOf<typeof JOB_EVENTS_ENV>;

/** The scheduled retraining check. */
export const RETRAIN_CHECK_ENV = {
    /** Where the labels are counted. */
    catadataTable: CATADATA_TABLE,
    /** Where the datasets' manifests and the check's record are. */
    trainingBucket: TRAINING_BUCKET,
    /** Where the jobs' output is. */
    modelBucket: MODEL_BUCKET,
    /** The trigger the check invokes. */
    triggerFunction: textVar("TRIGGER_FUNCTION"),
    /** The model the endpoint serves, or "" when none. */
    servingModelUrl: SERVING_MODEL_URL,
    /** New labels the check needs before it starts a job. */
    minNewLabels: numberVar("RETRAIN_MIN_NEW_LABELS"),
    /** The class list. */
    classes: CLASSES,
} satisfies EnvSpec;
export type RetrainCheckEnv = SettingsOf<typeof RETRAIN_CHECK_ENV>;

/** The failed-events function: where its message goes, and the queue it names. */
export const FAILED_EVENTS_ENV = {
    /** The jobs topic. */
    topicArn: TOPIC_ARN,
    /** The queue that keeps the failed events. */
    queueUrl: textVar("FAILED_EVENTS_QUEUE_URL"),
} satisfies EnvSpec;
export type FailedEventsEnv = SettingsOf<typeof FAILED_EVENTS_ENV>;
