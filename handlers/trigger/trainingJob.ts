import type { CreateHyperParameterTuningJobRequest, CreateTrainingJobRequest } from "@aws-sdk/client-sagemaker";
import type { TriggerEnv } from "../../lib/functionSettings";
import { contract } from "../../lib/contract";
import { DatasetManifest, MIN_TRAINING_IMAGES, datasetPrefix } from "../../lib/dataset";
import { userFacingError } from "../../lib/errors";
import { CHECKPOINTS_PREFIX, CONTAINER_CHANNELS_DIR, TRAINING_OUTPUT_PREFIX } from "../../lib/layout";
import { JOB_TAGS, PROJECT_NAME } from "../../lib/sagemakerJobs";
import { MAX_RUNTIME_LIMIT_SECONDS, TriggerEvent, TuneRequest } from "../../lib/triggerEvent";

/** Where the training container keeps checkpoints that SageMaker syncs to S3. */
const CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints";

/** What a training job is built from, besides the event: the stack's names and the shared contract (lib/functionSettings.ts). */
export type TrainingJobSettings = Omit<TriggerEnv, "dataPrepFunction" | "instanceType" | "spot">;

/** Balanced weights, N / (K · n_c) over the training counts: each class weighs as much in the loss. */
export function balancedClassWeights(
    trainingCounts: Readonly<Record<string, number>>,
    classes: readonly string[],
): Record<string, number> {
    const total = classes.reduce((sum, c) => sum + trainingCounts[c], 0);
    return Object.fromEntries(
        classes.map((c) => [c, Number((total / (classes.length * trainingCounts[c])).toFixed(6))]),
    );
}

/** Refuses a dataset built for other classes, too small, or with a class missing from a side. */
export function checkDataset(manifest: DatasetManifest, classes: readonly string[]): void {
    if (manifest.classes.join(",") !== classes.join(",")) {
        throw userFacingError(
            `Dataset ${manifest.datasetId} was built for classes ${manifest.classes.join(", ")}, but the stack trains ` +
                `${classes.join(", ")}: prepare a new dataset (leave out skipDataPrep).`,
        );
    }
    if (manifest.trainingImages < MIN_TRAINING_IMAGES) {
        throw userFacingError(
            `Dataset ${manifest.datasetId} has ${manifest.trainingImages} training images; training needs at least ` +
                `${MIN_TRAINING_IMAGES}. Label more images in catadata, then run again.`,
        );
    }
    if (!(manifest.testImages > 0)) {
        throw userFacingError(
            `Dataset ${manifest.datasetId} has no test images (it was built before the held-out test split): prepare a new dataset (leave out skipDataPrep).`,
        );
    }
    const empty = classes.filter((c) => {
        const counts = manifest.classDistribution[c];
        return !counts || counts.training === 0 || counts.validation === 0;
    });
    if (empty.length > 0) {
        const detail = empty
            .map(
                (c) =>
                    `${c} (training ${manifest.classDistribution[c]?.training ?? 0}, validation ${manifest.classDistribution[c]?.validation ?? 0})`,
            )
            .join("; ");
        throw userFacingError(
            `Every class needs training and validation images; dataset ${manifest.datasetId} lacks them for ${detail}.`,
        );
    }
}

/** The hyperparameters train.py reads, as the strings SageMaker requires (docs/design.md, "Hyperparameters"). */
export function trainingHyperParameters(
    event: TriggerEvent,
    settings: Pick<
        TrainingJobSettings,
        "classes" | "trainingScriptUri" | "region" | "targetClass" | "maxFalseAlarmRate"
    >,
    trainingCounts: Readonly<Record<string, number>>,
): Record<string, string> {
    const defaults = contract.hyperparameterDefaults;
    return {
        epochs: String(event.epochs),
        learning_rate: String(event.learningRate),
        batch_size: String(event.batchSize),
        train_only_top_layer: String(event.trainOnlyTopLayer),
        dropout_rate: String(event.dropoutRate),
        augmentation: String(defaults.augmentation),
        augmentation_random_flip: defaults.augmentation_random_flip,
        augmentation_random_rotation: String(defaults.augmentation_random_rotation),
        augmentation_random_zoom: String(defaults.augmentation_random_zoom),
        early_stopping: String(defaults.early_stopping),
        early_stopping_patience: String(defaults.early_stopping_patience),
        early_stopping_min_delta: String(defaults.early_stopping_min_delta),
        classes: settings.classes.join(","),
        class_weights:
            event.classWeights === "none"
                ? "none"
                : JSON.stringify(balancedClassWeights(trainingCounts, settings.classes)),
        target_class: settings.targetClass,
        max_false_alarm_rate: String(settings.maxFalseAlarmRate),
        sagemaker_program: "train.py",
        // The archive arrives through the code channel: an isolated job cannot fetch it from S3 itself.
        sagemaker_submit_directory: `${CONTAINER_CHANNELS_DIR}code/${settings.trainingScriptUri.split("/").pop()}`,
        sagemaker_region: settings.region,
    };
}

/**
 * A job's channels (File mode, S3 prefixes): the dataset's three sides, its manifest (each
 * image's visit and capture time, which train.py decides per visit by), the script archive and
 * the ImageNet weights. An isolated job reads nothing else.
 */
export function jobChannels(
    settings: Pick<TrainingJobSettings, "trainingBucket" | "trainingScriptUri" | "baseWeightsUri">,
    datasetId: string,
): { name: string; s3Uri: string }[] {
    const datasetUri = `s3://${settings.trainingBucket}/${datasetPrefix(datasetId)}`;
    return [
        { name: "training", s3Uri: `${datasetUri}training/` },
        { name: "validation", s3Uri: `${datasetUri}validation/` },
        { name: "test", s3Uri: `${datasetUri}test/` },
        { name: "manifest", s3Uri: `${datasetUri}manifest.json` },
        { name: "code", s3Uri: settings.trainingScriptUri },
        { name: "base_weights", s3Uri: settings.baseWeightsUri },
    ];
}

/** What a training job and a tuning job's training-job definition share: image, channels, instance, limits. */
function jobDefinition(
    checkpointName: string,
    event: TriggerEvent,
    settings: TrainingJobSettings,
    manifest: DatasetManifest,
) {
    const channel = ({ name, s3Uri }: { name: string; s3Uri: string }) => ({
        ChannelName: name,
        InputMode: "File" as const,
        DataSource: {
            S3DataSource: {
                S3DataType: "S3Prefix" as const,
                S3Uri: s3Uri,
                S3DataDistributionType: "FullyReplicated" as const,
            },
        },
    });
    return {
        RoleArn: settings.sagemakerRoleArn,
        AlgorithmSpecification: {
            TrainingImage: settings.trainingImageUri,
            TrainingInputMode: "File" as const,
            MetricDefinitions: settings.metricDefinitions.map((m) => ({ Name: m.Name, Regex: m.Regex })),
        },
        InputDataConfig: jobChannels(settings, manifest.datasetId).map(channel),
        OutputDataConfig: { S3OutputPath: `s3://${settings.modelBucket}/${TRAINING_OUTPUT_PREFIX}` },
        ResourceConfig: { InstanceType: event.instanceType as never, InstanceCount: 1, VolumeSizeInGB: 30 },
        StoppingCondition: event.spot
            ? {
                  MaxRuntimeInSeconds: event.maxRuntimeSeconds,
                  MaxWaitTimeInSeconds: Math.min(2 * event.maxRuntimeSeconds, MAX_RUNTIME_LIMIT_SECONDS),
              }
            : { MaxRuntimeInSeconds: event.maxRuntimeSeconds },
        EnableManagedSpotTraining: event.spot,
        EnableNetworkIsolation: settings.networkIsolation,
        CheckpointConfig: event.spot
            ? {
                  S3Uri: `s3://${settings.modelBucket}/${CHECKPOINTS_PREFIX}${checkpointName}/`,
                  LocalPath: CHECKPOINT_LOCAL_PATH,
              }
            : undefined,
    };
}

function tags(manifest: DatasetManifest, requestId: string, stackName: string) {
    return [
        { Key: JOB_TAGS.project, Value: PROJECT_NAME },
        { Key: JOB_TAGS.datasetId, Value: manifest.datasetId },
        { Key: JOB_TAGS.requestId, Value: requestId },
        { Key: JOB_TAGS.stack, Value: stackName },
    ];
}

const trainingCounts = (settings: TrainingJobSettings, manifest: DatasetManifest) =>
    Object.fromEntries(settings.classes.map((c) => [c, manifest.classDistribution[c].training]));

/** The whole CreateTrainingJob request for one event on one dataset. */
export function trainingJobRequest(
    jobName: string,
    event: TriggerEvent,
    settings: TrainingJobSettings,
    manifest: DatasetManifest,
    requestId: string,
): CreateTrainingJobRequest {
    return {
        TrainingJobName: jobName,
        HyperParameters: trainingHyperParameters(event, settings, trainingCounts(settings, manifest)),
        ...jobDefinition(jobName, event, settings, manifest),
        Tags: tags(manifest, requestId, settings.stackName),
    };
}

/**
 * The CreateHyperParameterTuningJob request: the tuner searches the space of the contract
 * (docs/design.md, "Tuning") for the objective, stopping weak training jobs early; every
 * other hyperparameter is static. Each training job the tuner starts is named after the
 * tuning job, so it keeps the bootboots- prefix.
 */
export function tuningJobRequest(
    jobName: string,
    event: TriggerEvent & { readonly tune: TuneRequest },
    settings: TrainingJobSettings,
    manifest: DatasetManifest,
    requestId: string,
): CreateHyperParameterTuningJobRequest {
    const space = settings.tuning;
    const tuned = new Set([...space.continuous, ...space.categorical].map((range) => range.name));
    const staticHyperParameters = Object.fromEntries(
        Object.entries(trainingHyperParameters(event, settings, trainingCounts(settings, manifest))).filter(
            ([name]) => !tuned.has(name),
        ),
    );
    return {
        HyperParameterTuningJobName: jobName,
        HyperParameterTuningJobConfig: {
            Strategy: space.strategy,
            HyperParameterTuningJobObjective: { Type: space.objective.type, MetricName: space.objective.metric },
            ResourceLimits: {
                MaxNumberOfTrainingJobs: event.tune.maxJobs,
                MaxParallelTrainingJobs: event.tune.parallelJobs,
            },
            ParameterRanges: {
                ContinuousParameterRanges: space.continuous.map((r) => ({
                    Name: r.name,
                    MinValue: r.min,
                    MaxValue: r.max,
                    ScalingType: r.scaling,
                })),
                CategoricalParameterRanges: space.categorical.map((r) => ({ Name: r.name, Values: [...r.values] })),
            },
            TrainingJobEarlyStoppingType: "Auto",
        },
        TrainingJobDefinition: {
            StaticHyperParameters: staticHyperParameters,
            ...jobDefinition(jobName, event, settings, manifest),
        },
        Tags: tags(manifest, requestId, settings.stackName),
    };
}
