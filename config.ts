import * as pulumi from "@pulumi/pulumi";
import { CameraSettings } from "./lib/cameraApi";
import { contract } from "./lib/contract";
import { SPLIT_DEFAULTS, SPLIT_RULES, SplitSettings, leavesMostForTraining } from "./lib/dataset";
import { parseFieldText } from "./lib/eventFields";
import { AFTER_JOB_DEFAULTS, AfterJobSettings, EMAIL_ADDRESS, SCHEDULE_EXPRESSION } from "./lib/retrain";
import { INSTANCE_TYPE_PATTERN } from "./lib/triggerEvent";

/** Every setting of the stack, parsed and checked (namespace `bootboots-ai`; docs/design.md, "Config"). */
export interface StackConfig {
    /** `s3://<bucket>/<key>.tar.gz` of the model to serve; unset means no endpoint. */
    readonly modelDataUrl?: string;
    /** The existing bucket of camera images; unset means `bootboots-images-<account>-<region>`, resolved by the stack. */
    readonly imagesBucketName?: string;
    /** The key prefix of the camera images, ending with '/' (default `catcam-training/`). */
    readonly imagesPrefix: string;
    /** The existing DynamoDB table of labels, keyed by imageName (S), in the stack's region (default `catadata`). */
    readonly catadataTableName: string;
    /** Whether `pulumi preview` looks the images bucket up (default true; false for a bucket in another account). */
    readonly checkImagesBucket: boolean;
    /** The class list in model-output order (default the seven of training/contract.json). */
    readonly classes: readonly string[];
    /** The class of images without a cat, one of classes (default `NoCat`). */
    readonly noCatClass: string;
    /** How datasets are split and sampled: validationSplit, testSplit, maxNoCatSamples (lib/dataset.ts). */
    readonly split: SplitSettings;
    /** The class whose detection the camera acts on; one of classes (default `Boots`). */
    readonly targetClass: string;
    /** The highest share of other images that may be called the target class, 0 ≤ x < 1 (default 0.01). */
    readonly maxFalseAlarmRate: number;
    /** The default training instance type (default `ml.m5.xlarge`). */
    readonly trainingInstanceType: string;
    /** Whether jobs use managed spot by default (default true). */
    readonly spotTraining: boolean;
    /** Run training jobs with network isolation (default true): every input arrives as a channel. */
    readonly trainingNetworkIsolation: boolean;
    /** The TensorFlow version of the images and the tests' wheel (default 2.19). */
    readonly tensorflowVersion: string;
    /** The endpoint's stable name (default `bootboots`). */
    readonly endpointName: string;
    /** Serverless endpoint memory in MB, 1024–6144 in steps of 1024 (default 2048). */
    readonly endpointMemoryMb: number;
    /** Concurrent invocations the endpoint serves, 1–200 (default 5). */
    readonly endpointMaxConcurrency: number;
    /** Warm instances kept, 0 (off) to endpointMaxConcurrency (default 0). */
    readonly endpointProvisionedConcurrency: number;
    /** Worst-case on-demand cost in USD above which `bootboots tune` asks for --yes (default 10). */
    readonly maxTuningCostUsd: number;
    /** Adopt the data buckets a `pulumi destroy` left behind instead of creating them (default false). */
    readonly adoptExistingBuckets: boolean;
    /** The camera API's settings (deployed with the endpoint). */
    readonly camera: CameraSettings;
    /** After every job: the message's address and the retraining schedule. */
    readonly afterJob: AfterJobSettings;
}

export const CONFIG_NAMESPACE = "bootboots-ai";

/** A config value that breaks its rule; the message names the key, the value and a good example. */
export class ConfigError extends pulumi.RunError {
    constructor(key: string, value: string, rule: string, example: string) {
        super(
            `Invalid config ${CONFIG_NAMESPACE}:${key} = ${JSON.stringify(value)}: ${rule}. ` +
                `Example: pulumi config set ${key} ${example}`,
        );
        this.name = "ConfigError";
    }
}

type RawConfig = (key: string) => string | undefined;

const S3_MODEL_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+\.tar\.gz$/;
const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const CLASS_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

function parseNumber(key: string, raw: string, rule: string, example: string): number {
    const value = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(value)) {
        throw new ConfigError(key, raw, `must be a number (${rule})`, example);
    }
    return value;
}

function parseInteger(key: string, raw: string, min: number, max: number, example: string): number {
    const rule = `an integer from ${min} to ${max}`;
    const value = parseNumber(key, raw, rule, example);
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new ConfigError(key, raw, `must be ${rule}`, example);
    }
    return value;
}

function parseBoolean(key: string, raw: string): boolean {
    const normalized = raw.trim().toLowerCase();
    if (normalized === "true") return true;
    if (normalized === "false") return false;
    throw new ConfigError(key, raw, "must be true or false", "false");
}

function parseClasses(raw: string): string[] {
    const example = '\'["Boots","Chi","NoCat"]\'';
    let classes: unknown;
    try {
        classes = raw.trim().startsWith("[") ? JSON.parse(raw) : raw.split(",").map((c) => c.trim());
    } catch {
        throw new ConfigError("classes", raw, "must be a JSON list or a comma-separated list of class names", example);
    }
    if (!Array.isArray(classes) || classes.length === 0) {
        throw new ConfigError("classes", raw, "must be a non-empty list of class names", example);
    }
    for (const name of classes) {
        if (typeof name !== "string" || !CLASS_NAME.test(name)) {
            throw new ConfigError(
                "classes",
                raw,
                `class ${JSON.stringify(name)} must be 1-64 letters, digits, '_' or '-'`,
                example,
            );
        }
    }
    // Data prep matches labels to classes case-insensitively, so classes must differ by more than case.
    const lowerNames = classes.map((name: string) => name.toLowerCase());
    const duplicate = classes.find((_, index) => lowerNames.indexOf(lowerNames[index]) !== index);
    if (duplicate !== undefined) {
        const first = classes[lowerNames.indexOf(duplicate.toLowerCase())];
        const repeated =
            first === duplicate
                ? `class ${JSON.stringify(duplicate)} appears more than once`
                : `classes ${JSON.stringify(first)} and ${JSON.stringify(duplicate)} differ only by case`;
        throw new ConfigError("classes", raw, repeated, example);
    }
    return classes as string[];
}

/** Parses and checks every key; throws a ConfigError naming the first bad one. */
export function parseStackConfig(read: RawConfig): StackConfig {
    const get = (key: string): string | undefined => {
        const value = read(key);
        return value === undefined || value === "" ? undefined : value;
    };

    const modelDataUrl = get("modelDataUrl");
    if (modelDataUrl !== undefined && !S3_MODEL_URL.test(modelDataUrl)) {
        throw new ConfigError(
            "modelDataUrl",
            modelDataUrl,
            "must be the S3 URL of a model archive, s3://<bucket>/<key>.tar.gz",
            "s3://bootboots-models-123456789012/training-output/bootboots-20260221-153033-4f2a/output/model.tar.gz",
        );
    }

    const imagesBucketName = get("imagesBucketName");
    if (imagesBucketName !== undefined && !S3_BUCKET_NAME.test(imagesBucketName)) {
        throw new ConfigError(
            "imagesBucketName",
            imagesBucketName,
            "must be an S3 bucket name (3-63 lower-case letters, digits, '.' or '-')",
            "bootboots-images-123456789012-eu-west-2",
        );
    }

    const imagesPrefix = get("imagesPrefix") ?? "catcam-training/";
    if (!imagesPrefix.endsWith("/") || imagesPrefix.startsWith("/")) {
        throw new ConfigError(
            "imagesPrefix",
            imagesPrefix,
            "must be a key prefix that ends with '/' and does not start with '/'",
            "catcam-training/",
        );
    }

    const catadataTableName = get("catadataTableName") ?? "catadata";
    if (!TABLE_NAME.test(catadataTableName)) {
        throw new ConfigError(
            "catadataTableName",
            catadataTableName,
            "must be a DynamoDB table name (3-255 letters, digits, '_', '-' or '.')",
            "catadata",
        );
    }

    const rawClasses = get("classes");
    const classes = rawClasses === undefined ? [...contract.classes] : parseClasses(rawClasses);

    const noCatClass = get("noCatClass") ?? contract.noCatClass;
    if (!classes.includes(noCatClass)) {
        throw new ConfigError(
            "noCatClass",
            noCatClass,
            `must be one of classes (${classes.join(", ")})`,
            classes.includes("NoCat") ? "NoCat" : classes[0],
        );
    }

    const split = parseSplitSettings(get);
    const targetClass = get("targetClass") ?? contract.decision.targetClass;
    if (!classes.includes(targetClass)) {
        throw new ConfigError("targetClass", targetClass, `must be one of classes (${classes.join(", ")})`, classes[0]);
    }
    const rawFalseAlarm = get("maxFalseAlarmRate");
    const maxFalseAlarmRate =
        rawFalseAlarm === undefined
            ? contract.decision.maxFalseAlarmRate
            : parseNumber("maxFalseAlarmRate", rawFalseAlarm, "at least 0 and below 1", "0.01");
    if (!(maxFalseAlarmRate >= 0 && maxFalseAlarmRate < 1)) {
        throw new ConfigError("maxFalseAlarmRate", rawFalseAlarm ?? "", "must be at least 0 and below 1", "0.01");
    }

    const trainingInstanceType = get("trainingInstanceType") ?? "ml.m5.xlarge";
    if (!INSTANCE_TYPE_PATTERN.test(trainingInstanceType)) {
        throw new ConfigError(
            "trainingInstanceType",
            trainingInstanceType,
            "must be a SageMaker instance type, ml.<family>.<size>",
            "ml.m5.xlarge",
        );
    }

    const rawSpot = get("spotTraining");
    const spotTraining = rawSpot === undefined ? true : parseBoolean("spotTraining", rawSpot);

    const rawIsolation = get("trainingNetworkIsolation");
    const trainingNetworkIsolation =
        rawIsolation === undefined ? true : parseBoolean("trainingNetworkIsolation", rawIsolation);

    const tensorflowVersion = get("tensorflowVersion") ?? contract.tensorflowVersion;
    const supportedVersions = Object.keys(contract.tensorflowImageTags);
    if (!supportedVersions.includes(tensorflowVersion)) {
        throw new ConfigError(
            "tensorflowVersion",
            tensorflowVersion,
            `must be a version with SageMaker training and inference CPU images and a tensorflow-cpu wheel: ${supportedVersions.join(", ")}`,
            contract.tensorflowVersion,
        );
    }

    const endpointName = get("endpointName") ?? "bootboots";
    if (!ENDPOINT_NAME.test(endpointName)) {
        throw new ConfigError(
            "endpointName",
            endpointName,
            "must be 1-63 letters, digits or '-', starting and ending with a letter or digit",
            "bootboots",
        );
    }

    const rawMemory = get("endpointMemoryMb");
    const endpointMemoryMb =
        rawMemory === undefined ? 2048 : parseInteger("endpointMemoryMb", rawMemory, 1024, 6144, "2048");
    if (endpointMemoryMb % 1024 !== 0) {
        throw new ConfigError(
            "endpointMemoryMb",
            rawMemory ?? "",
            "must be a multiple of 1024 from 1024 to 6144",
            "2048",
        );
    }

    const rawMaxConcurrency = get("endpointMaxConcurrency");
    const endpointMaxConcurrency =
        rawMaxConcurrency === undefined ? 5 : parseInteger("endpointMaxConcurrency", rawMaxConcurrency, 1, 200, "5");

    const rawProvisioned = get("endpointProvisionedConcurrency");
    const endpointProvisionedConcurrency =
        rawProvisioned === undefined
            ? 0
            : parseInteger(
                  "endpointProvisionedConcurrency",
                  rawProvisioned,
                  0,
                  endpointMaxConcurrency,
                  String(Math.min(1, endpointMaxConcurrency)),
              );

    const rawTuningCost = get("maxTuningCostUsd");
    const maxTuningCostUsd =
        rawTuningCost === undefined
            ? contract.tuning.maxTuningCostUsd
            : parseNumber("maxTuningCostUsd", rawTuningCost, "a cost in USD, at least 0", "10");
    if (!(maxTuningCostUsd >= 0))
        throw new ConfigError("maxTuningCostUsd", rawTuningCost ?? "", "must be a cost in USD, at least 0", "10");

    const rawCheckImages = get("checkImagesBucket");
    const checkImagesBucket = rawCheckImages === undefined ? true : parseBoolean("checkImagesBucket", rawCheckImages);

    const rawAdopt = get("adoptExistingBuckets");
    const adoptExistingBuckets = rawAdopt === undefined ? false : parseBoolean("adoptExistingBuckets", rawAdopt);

    const camera = parseCameraSettings(get, endpointMaxConcurrency);
    const afterJob = parseAfterJobSettings(get);

    return {
        modelDataUrl,
        imagesBucketName,
        imagesPrefix,
        catadataTableName,
        checkImagesBucket,
        classes,
        noCatClass,
        split,
        targetClass,
        maxFalseAlarmRate,
        trainingInstanceType,
        spotTraining,
        trainingNetworkIsolation,
        tensorflowVersion,
        endpointName,
        endpointMemoryMb,
        endpointMaxConcurrency,
        endpointProvisionedConcurrency,
        maxTuningCostUsd,
        adoptExistingBuckets,
        camera,
        afterJob,
    };
}

/** The split settings, each checked by the rule data prep checks its event with (SPLIT_RULES). */
function parseSplitSettings(get: (key: string) => string | undefined): SplitSettings {
    const value = (key: keyof SplitSettings): number => {
        const raw = get(key);
        if (raw === undefined) return SPLIT_DEFAULTS[key];
        const parsed = parseFieldText(SPLIT_RULES[key], raw.trim());
        if ("error" in parsed)
            throw new ConfigError(key, raw, `must be ${SPLIT_RULES[key].allowed}`, String(SPLIT_DEFAULTS[key]));
        return parsed.value as number;
    };
    const split = {
        validationSplit: value("validationSplit"),
        testSplit: value("testSplit"),
        maxNoCatSamples: value("maxNoCatSamples"),
        splitWindowMinutes: value("splitWindowMinutes"),
        splitNumberBlock: value("splitNumberBlock"),
    };
    if (!leavesMostForTraining(split.validationSplit, split.testSplit)) {
        throw new ConfigError(
            "testSplit",
            String(get("testSplit") ?? split.testSplit),
            `with validationSplit ${split.validationSplit} it must stay below ${(0.5 - split.validationSplit).toFixed(2)} (together below 0.5), so that most images train`,
            String(SPLIT_DEFAULTS.testSplit),
        );
    }
    return split;
}

function parseAfterJobSettings(get: (key: string) => string | undefined): AfterJobSettings {
    const notificationEmail = get("notificationEmail");
    if (notificationEmail !== undefined && !EMAIL_ADDRESS.test(notificationEmail))
        throw new ConfigError("notificationEmail", notificationEmail, "must be an e-mail address", "you@example.com");
    const retrainSchedule = get("retrainSchedule");
    if (retrainSchedule !== undefined && !SCHEDULE_EXPRESSION.test(retrainSchedule))
        throw new ConfigError(
            "retrainSchedule",
            retrainSchedule,
            "must be an EventBridge schedule expression, rate(...) or cron(...)",
            "'rate(1 day)'",
        );
    const rawMin = get("retrainMinNewLabels");
    const retrainMinNewLabels =
        rawMin === undefined
            ? AFTER_JOB_DEFAULTS.retrainMinNewLabels
            : parseInteger("retrainMinNewLabels", rawMin, 1, 100_000, String(AFTER_JOB_DEFAULTS.retrainMinNewLabels));
    return {
        ...(notificationEmail ? { notificationEmail } : {}),
        ...(retrainSchedule ? { retrainSchedule } : {}),
        retrainMinNewLabels,
    };
}

function parseCameraSettings(get: (key: string) => string | undefined, endpointMaxConcurrency: number): CameraSettings {
    const integer = (key: string, min: number, max: number, fallback: number) => {
        const raw = get(key);
        return raw === undefined ? fallback : parseInteger(key, raw, min, max, String(fallback));
    };
    const rawRate = get("cameraRateLimit");
    const rateLimit =
        rawRate === undefined
            ? 5
            : parseNumber("cameraRateLimit", rawRate, "requests per second above 0, at most 10000", "5");
    if (!(rateLimit > 0 && rateLimit <= 10_000))
        throw new ConfigError(
            "cameraRateLimit",
            rawRate ?? "",
            "must be requests per second above 0, at most 10000",
            "5",
        );

    const roleName = get("cameraRoleName");
    if (roleName !== undefined && !ROLE_NAME.test(roleName)) {
        throw new ConfigError(
            "cameraRoleName",
            roleName,
            "must be the name (not the ARN) of an existing IAM role: 1-64 letters, digits or +=,.@_-",
            "bootboots-camera-role",
        );
    }
    const eventsTableName = get("eventsTableName") ?? "bootboots-events";
    if (!TABLE_NAME.test(eventsTableName)) {
        throw new ConfigError(
            "eventsTableName",
            eventsTableName,
            "must be a DynamoDB table name (3-255 letters, digits, '_', '-' or '.')",
            "bootboots-events",
        );
    }
    return {
        rateLimit,
        burstLimit: integer("cameraBurstLimit", 1, 5000, 10),
        // The function needs no more than the endpoint serves at once.
        reservedConcurrency: integer("cameraReservedConcurrency", 0, 1000, endpointMaxConcurrency),
        keepWarmMinutes: integer("keepWarmMinutes", 0, 60, 0),
        ...(roleName ? { roleName } : {}),
        eventsTableName,
        eventRetentionDays: integer("eventRetentionDays", 1, 3650, 365),
    };
}

/** Reads the stack's config; a bad value stops `pulumi up`/`preview` with one clear message. */
export function loadStackConfig(): StackConfig {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    return parseStackConfig((key) => config.get(key));
}
