import { createHash } from "crypto";
import { contract } from "./contract";
import { DATASET_ID_PATTERN, DataPrepResult } from "./dataset";
import { userFacingError } from "./errors";
import {
    FieldRule,
    booleanField,
    integerField,
    rangeField,
    objectField,
    oneOfField,
    patternField,
    validateEvent,
} from "./eventFields";
import { TRAINING_JOB_NAME_PREFIX } from "./layout";

/** SageMaker's own limit on a training job's run time. */
export const MAX_RUNTIME_LIMIT_SECONDS = 28 * 24 * 3600;
/** The trigger's default for `maxRuntimeSeconds`. */
export const DEFAULT_MAX_RUNTIME_SECONDS = 7200;

/**
 * The job a trigger invocation starts is named after its request id: a retried invocation
 * finds its job, and `bootboots train --async` knows the name before the job exists.
 */
export function trainingJobName(requestId: string): string {
    return `${TRAINING_JOB_NAME_PREFIX}${createHash("sha256").update(requestId).digest("hex").slice(0, 24)}`;
}

/** The form of those names. */
export const TRAINING_JOB_NAME_PATTERN = new RegExp(`^${TRAINING_JOB_NAME_PREFIX}[0-9a-f]{24}$`);

/** The trigger's payload, defaults filled in (docs/design.md, "Trigger event"). */
export interface TriggerEvent {
    /** Train on an existing dataset instead of preparing a new one. */
    readonly skipDataPrep: boolean;
    /** The existing dataset to train on (with skipDataPrep); unset means datasets/latest.json. */
    readonly datasetId?: string;
    /** Training epochs over both phases. */
    readonly epochs: number;
    /** The fine-tuning learning rate (the head's rate with trainOnlyTopLayer). */
    readonly learningRate: number;
    /** Images per batch. */
    readonly batchSize: number;
    /** Train only the classifier head on the frozen base. */
    readonly trainOnlyTopLayer: boolean;
    /** Dropout before the classifier head, 0 <= x < 1. */
    readonly dropoutRate: number;
    /** Managed spot training, with checkpoints. */
    readonly spot: boolean;
    /** The training instance type: always the stack's trainingInstanceType, the one its role may start. */
    readonly instanceType: string;
    /** The job's run-time limit in seconds. */
    readonly maxRuntimeSeconds: number;
    /** `balanced` (N / (K·n_c) from the training counts) or `none`. */
    readonly classWeights: "balanced" | "none";
    /** Search the hyperparameters with SageMaker's tuner instead of training once. */
    readonly tune?: TuneRequest;
    /** Names the job instead of the invocation's request id: a caller that may retry (the scheduled check) sends the same one. */
    readonly requestId?: string;
}

/** How large a tuning job may grow. */
export interface TuneRequest {
    /** Training jobs in all, 2–100 (default 12). */
    readonly maxJobs: number;
    /** Training jobs at once, 1–10 and at most maxJobs (default 3). */
    readonly parallelJobs: number;
}

/** The rules of the `tune` object's fields. */
export const TUNE_RULES: Readonly<Record<keyof TuneRequest, FieldRule>> = {
    maxJobs: integerField(2, 100),
    parallelJobs: integerField(1, 10),
};

export const TUNE_DEFAULTS: TuneRequest = { maxJobs: 12, parallelJobs: 3 };

/** The name of the tuning job a request id starts: like a training job's, within the tuner's 32-character limit. */
export function tuningJobName(requestId: string): string {
    return `${TRAINING_JOB_NAME_PREFIX}${createHash("sha256")
        .update(`tune:${requestId}`)
        .digest("hex")
        .slice(0, 32 - TRAINING_JOB_NAME_PREFIX.length)}`;
}

export const TUNING_JOB_NAME_PATTERN = new RegExp(
    `^${TRAINING_JOB_NAME_PREFIX}[0-9a-f]{${32 - TRAINING_JOB_NAME_PREFIX.length}}$`,
);

const ranges = contract.hyperparameterRanges;

/** Each payload field's rule: the trigger validates with them, the CLI derives its option parsers from them. */
export const TRIGGER_EVENT_RULES: Readonly<Record<Exclude<keyof TriggerEvent, "instanceType">, FieldRule>> = {
    skipDataPrep: booleanField,
    datasetId: patternField(DATASET_ID_PATTERN, "a dataset id such as 20260221T153033Z-4f2a"),
    epochs: rangeField(ranges.epochs),
    learningRate: rangeField(ranges.learning_rate),
    batchSize: rangeField(ranges.batch_size),
    trainOnlyTopLayer: booleanField,
    dropoutRate: rangeField(ranges.dropout_rate),
    spot: booleanField,
    maxRuntimeSeconds: integerField(60, MAX_RUNTIME_LIMIT_SECONDS),
    classWeights: oneOfField(["balanced", "none"]),
    tune: objectField('an object such as {"maxJobs": 12, "parallelJobs": 3}'),
    requestId: patternField(/^[A-Za-z0-9._-]{1,100}$/, "1-100 letters, digits, '.', '_' or '-'"),
};

const defaults = contract.hyperparameterDefaults;

/** The defaults a payload field takes when it is left out (the spot and instance type ones come from the stack). */
export const TRIGGER_EVENT_DEFAULTS = {
    epochs: defaults.epochs,
    learningRate: defaults.learning_rate,
    batchSize: defaults.batch_size,
    trainOnlyTopLayer: defaults.train_only_top_layer,
    dropoutRate: defaults.dropout_rate,
    maxRuntimeSeconds: DEFAULT_MAX_RUNTIME_SECONDS,
    classWeights: "balanced" as const,
};

/** Checks a trigger event and fills in the defaults. */
export function parseTriggerEvent(
    raw: unknown,
    stackDefaults: { readonly spot: boolean; readonly instanceType: string },
): TriggerEvent {
    const given = validateEvent<TriggerEvent>(raw, TRIGGER_EVENT_RULES, "trigger");
    if (given.datasetId !== undefined && given.skipDataPrep !== true) {
        throw userFacingError(
            `Invalid "datasetId": it names an existing dataset, so it needs "skipDataPrep": true (without it a new dataset is prepared).`,
        );
    }
    let tune: TuneRequest | undefined;
    if (given.tune !== undefined) {
        const tuneGiven = validateEvent<TuneRequest>(given.tune, TUNE_RULES, "trigger", "tune.");
        tune = {
            maxJobs: tuneGiven.maxJobs ?? TUNE_DEFAULTS.maxJobs,
            parallelJobs: tuneGiven.parallelJobs ?? TUNE_DEFAULTS.parallelJobs,
        };
        if (tune.parallelJobs > tune.maxJobs) {
            throw userFacingError(
                `Invalid "tune.parallelJobs": ${tune.parallelJobs}. It must be at most "tune.maxJobs" (${tune.maxJobs}).`,
            );
        }
    }
    return {
        tune,
        ...(given.requestId !== undefined ? { requestId: given.requestId } : {}),
        skipDataPrep: given.skipDataPrep ?? false,
        datasetId: given.datasetId,
        epochs: given.epochs ?? TRIGGER_EVENT_DEFAULTS.epochs,
        learningRate: given.learningRate ?? TRIGGER_EVENT_DEFAULTS.learningRate,
        batchSize: given.batchSize ?? TRIGGER_EVENT_DEFAULTS.batchSize,
        trainOnlyTopLayer: given.trainOnlyTopLayer ?? TRIGGER_EVENT_DEFAULTS.trainOnlyTopLayer,
        dropoutRate: given.dropoutRate ?? TRIGGER_EVENT_DEFAULTS.dropoutRate,
        spot: given.spot ?? stackDefaults.spot,
        // The trigger's role may start only the stack's instance type (sagemaker:InstanceTypes).
        instanceType: stackDefaults.instanceType,
        maxRuntimeSeconds: given.maxRuntimeSeconds ?? TRIGGER_EVENT_DEFAULTS.maxRuntimeSeconds,
        classWeights: given.classWeights ?? TRIGGER_EVENT_DEFAULTS.classWeights,
    };
}

/** What the trigger returns when it started (or had already started) a job. */
export interface TriggerSuccess {
    readonly success: true;
    /** The job's name, derived from the invocation's request id. */
    readonly trainingJobName: string;
    /** The dataset the job trains on. */
    readonly datasetId: string;
    /** The hyperparameters sent, as the strings SageMaker passes on. */
    readonly hyperParameters: Record<string, string>;
    /** The job's page in the SageMaker console. */
    readonly consoleUrl: string;
    /** Where the model archive will be once the job completes. */
    readonly modelDataUrl: string;
    /** The command that deploys that model. */
    readonly deployCommand: string;
    /** The data-prep result, or null when an existing dataset was used. */
    readonly dataPrep: DataPrepResult | null;
    /** True when this request id had already started the job (a retried invocation). */
    readonly alreadyStarted: boolean;
}

/** What the trigger returns when it started (or had already started) a tuning job. */
export interface TuningSuccess {
    readonly success: true;
    /** The tuning job's name, derived from the invocation's request id. */
    readonly tuningJobName: string;
    readonly datasetId: string;
    /** The hyperparameters every training job gets; the tuner chooses the others. */
    readonly staticHyperParameters: Record<string, string>;
    readonly maxJobs: number;
    readonly parallelJobs: number;
    /** The tuning job's page in the SageMaker console. */
    readonly consoleUrl: string;
    /** The data-prep result, or null when an existing dataset was used. */
    readonly dataPrep: DataPrepResult | null;
    /** True when this request id had already started the tuning job. */
    readonly alreadyStarted: boolean;
}

export type TriggerResult = TriggerSuccess | TuningSuccess | { readonly success: false; readonly error: string };
