import { contract } from "./contract";
import {
    FieldRule,
    booleanField,
    integerField,
    numberField,
    oneOfField,
    parseFieldText,
    patternField,
} from "./eventFields";

/**
 * Every setting of the stack (namespace `bootboots-ai`), each declared once: its rule, its
 * default, an example and what it does. config.ts parses the stack's config by it, the
 * components take their settings as `Pick<StackSettings, …>`, the Lambdas get theirs through
 * the environment specs of lib/functionSettings.ts, and docs/design.md's config table is
 * checked against it (tests/config.test.ts).
 */
export interface StackSetting<T, Required extends boolean = boolean> {
    /** How the config text is checked; a refusal ends "must be <rule.allowed>". */
    readonly rule: FieldRule;
    /** Reads the text, when the rule's kind alone cannot (a class list); `error` ends "must be …" or names what is wrong. */
    readonly parse?: (text: string) => { value: T } | { error: string };
    /** The value when the key is not set; a function of the other settings when it follows one of them. */
    readonly default: Required extends true ? T | ((settings: Readonly<Record<string, unknown>>) => T) : undefined;
    /** The default as design.md shows it, when it is not the value itself. */
    readonly defaultText?: string;
    /** A good value, for the refusal's `pulumi config set <key> <example>`. */
    readonly example: string;
    /** What the setting does, as design.md's table says it. */
    readonly doc: string;
}

/** A setting that always has a value (its default, or what the config gives). */
function required<T>(setting: StackSetting<T, true>): StackSetting<T, true> {
    return setting;
}

/** A setting that may stay unset. */
function optional<T>(setting: Omit<StackSetting<T, false>, "default">): StackSetting<T, false> {
    return { ...setting, default: undefined };
}

const S3_MODEL_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+\.tar\.gz$/;
const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const CLASS_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** A SageMaker instance type, `ml.<family>.<size>`: checked by the stack config, the trigger and the CLI. */
export const INSTANCE_TYPE_PATTERN = /^ml\.[a-z0-9]+\.[a-z0-9]+$/;
/** EventBridge's two schedule forms: rate(5 minutes), cron(0 3 * * ? *). */
export const SCHEDULE_EXPRESSION = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/;
export const EMAIL_ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

const tableName = patternField(TABLE_NAME, "a DynamoDB table name (3-255 letters, digits, '_', '-' or '.')");

/** A number in a range, said in the words given. */
function rangeField(kind: "integer" | "number", accepts: (v: number) => boolean, allowed: string): FieldRule {
    return {
        kind,
        allowed,
        check: (v) =>
            typeof v === "number" && Number.isFinite(v) && (kind === "number" || Number.isInteger(v)) && accepts(v),
    };
}

/** The class list: a JSON list or a comma list of distinct names, which differ by more than case. */
function parseClasses(text: string): { value: string[] } | { error: string } {
    let classes: unknown;
    try {
        classes = text.trim().startsWith("[") ? JSON.parse(text) : text.split(",").map((c) => c.trim());
    } catch {
        return { error: "must be a JSON list or a comma-separated list of class names" };
    }
    if (!Array.isArray(classes) || classes.length === 0) return { error: "must be a non-empty list of class names" };
    const bad = classes.find((name) => typeof name !== "string" || !CLASS_NAME.test(name));
    if (bad !== undefined) return { error: `class ${JSON.stringify(bad)} must be 1-64 letters, digits, '_' or '-'` };
    // Data prep matches labels to classes case-insensitively, so classes must differ by more than case.
    const lower = classes.map((name: string) => name.toLowerCase());
    const index = lower.findIndex((name, i) => lower.indexOf(name) !== i);
    if (index !== -1) {
        const [first, duplicate] = [classes[lower.indexOf(lower[index])], classes[index]];
        return {
            error:
                first === duplicate
                    ? `class ${JSON.stringify(duplicate)} appears more than once`
                    : `classes ${JSON.stringify(first)} and ${JSON.stringify(duplicate)} differ only by case`,
        };
    }
    return { value: classes as string[] };
}

const SUPPORTED_TENSORFLOW = Object.keys(contract.tensorflowImageTags);

/** The table: config key → its setting, in the order design.md lists them. */
export const STACK_SETTINGS = {
    modelDataUrl: optional<string>({
        rule: patternField(S3_MODEL_URL, "the S3 URL of a model archive, s3://<bucket>/<key>.tar.gz"),
        example:
            "s3://bootboots-models-123456789012/training-output/bootboots-20260221-153033-4f2a/output/model.tar.gz",
        doc: "`s3://<bucket>/<key>.tar.gz`; when set, the endpoint is deployed with it",
    }),
    imagesBucketName: optional<string>({
        rule: patternField(S3_BUCKET_NAME, "an S3 bucket name (3-63 lower-case letters, digits, '.' or '-')"),
        defaultText: "`bootboots-images-<account>-<region>`",
        example: "bootboots-images-123456789012-eu-west-2",
        doc: "an existing bucket (only read)",
    }),
    imagesPrefix: required<string>({
        rule: patternField(/^(?!\/).*\/$/s, "a key prefix that ends with '/' and does not start with '/'"),
        default: "catcam-training/",
        example: "catcam-training/",
        doc: "ends with `/`, does not start with `/`",
    }),
    catadataTableName: required<string>({
        rule: tableName,
        default: "catadata",
        example: "catadata",
        doc: "an existing table in the stack's region, partition key `imageName` (S) and no sort key; string attribute `cat`",
    }),
    checkImagesBucket: required<boolean>({
        rule: booleanField,
        default: true,
        example: "false",
        doc: "`false` skips the images bucket's lookup (a bucket in another account, which the deployer cannot read)",
    }),
    classes: required<readonly string[]>({
        rule: { kind: "string", allowed: "a list of class names", check: () => true },
        parse: parseClasses,
        default: contract.classes,
        defaultText: `\`${contract.classes.join(",")}\``,
        example: '\'["Boots","Chi","NoCat"]\'',
        doc: "non-empty; names differ by more than case; JSON or comma list; the model's output order",
    }),
    noCatClass: required<string>({
        rule: patternField(CLASS_NAME, "a class name"),
        default: contract.noCatClass,
        example: contract.noCatClass,
        doc: "one of `classes`",
    }),
    validationSplit: required<number>({
        rule: numberField(0, 1),
        default: 0.2,
        example: "0.2",
        doc: "0 < x < 1",
    }),
    testSplit: required<number>({
        rule: numberField(0, 1),
        default: 0.1,
        example: "0.1",
        doc: "0 < x < 1, and `validationSplit + testSplit` < 0.5",
    }),
    targetClass: required<string>({
        rule: patternField(CLASS_NAME, "a class name"),
        default: contract.decision.targetClass,
        defaultText: `\`${contract.decision.targetClass}\` (\`decision\` in \`training/contract.json\`)`,
        example: contract.decision.targetClass,
        doc: "one of `classes`",
    }),
    maxFalseAlarmRate: required<number>({
        rule: rangeField("number", (v) => v >= 0 && v < 1, "at least 0 and below 1"),
        default: contract.decision.maxFalseAlarmRate,
        example: "0.01",
        doc: "0 ≤ x < 1",
    }),
    maxNoCatSamples: required<number>({
        rule: integerField(1, 1_000_000),
        default: 200,
        example: "200",
        doc: "integer ≥ 1",
    }),
    visitGapMinutes: required<number>({
        rule: integerField(1, 10_080),
        default: 10,
        example: "10",
        doc: "integer 1–10,080: frames of one camera taken at most this many minutes apart are one visit (§4): the split keeps a visit on one side, train.py and the camera decide per visit",
    }),
    splitNumberBlock: required<number>({
        rule: integerField(1, 1_000_000),
        default: 20,
        example: "20",
        doc: "integer 1–1,000,000: images of a class named by a plain number in one block of this many numbers are one visit (§4)",
    }),
    trainingInstanceType: required<string>({
        rule: patternField(INSTANCE_TYPE_PATTERN, "a SageMaker instance type, ml.<family>.<size>"),
        default: "ml.m5.xlarge",
        example: "ml.m5.xlarge",
        doc: "`ml.<family>.<size>`",
    }),
    spotTraining: required<boolean>({
        rule: booleanField,
        default: true,
        example: "false",
        doc: "managed spot with checkpoints",
    }),
    trainingNetworkIsolation: required<boolean>({
        rule: booleanField,
        default: true,
        example: "false",
        doc: "training jobs run with `EnableNetworkIsolation`",
    }),
    tensorflowVersion: required<string>({
        rule: {
            ...oneOfField(SUPPORTED_TENSORFLOW),
            allowed: `a version with SageMaker training and inference CPU images and a tensorflow-cpu wheel: ${SUPPORTED_TENSORFLOW.join(", ")}`,
        },
        default: contract.tensorflowVersion,
        example: contract.tensorflowVersion,
        doc: "a key of `tensorflowImageTags` in `training/contract.json`",
    }),
    endpointName: required<string>({
        rule: patternField(ENDPOINT_NAME, "1-63 letters, digits or '-', starting and ending with a letter or digit"),
        default: "bootboots",
        example: "bootboots",
        doc: "1–63 letters, digits or `-`",
    }),
    endpointMemoryMb: required<number>({
        rule: rangeField(
            "integer",
            (v) => v >= 1024 && v <= 6144 && v % 1024 === 0,
            "a multiple of 1024 from 1024 to 6144",
        ),
        default: 2048,
        example: "2048",
        doc: "1024–6144, a multiple of 1024",
    }),
    endpointMaxConcurrency: required<number>({
        rule: integerField(1, 200),
        default: 5,
        example: "5",
        doc: "1–200",
    }),
    endpointProvisionedConcurrency: required<number>({
        rule: integerField(0, 200),
        default: 0,
        defaultText: "`0` (off)",
        example: "1",
        doc: "0–`endpointMaxConcurrency`",
    }),
    maxTuningCostUsd: required<number>({
        rule: rangeField("number", (v) => v >= 0, "a cost in USD, at least 0"),
        default: contract.tuning.maxTuningCostUsd,
        defaultText: `\`${contract.tuning.maxTuningCostUsd}\` (\`tuning\` in \`training/contract.json\`)`,
        example: "10",
        doc: "≥ 0; used by `bootboots tune`",
    }),
    adoptExistingBuckets: required<boolean>({
        rule: booleanField,
        default: false,
        example: "true",
        doc: "`true` after a `pulumi destroy`: use the kept buckets and events table instead of creating them",
    }),
    cameraRateLimit: required<number>({
        rule: rangeField("number", (v) => v > 0 && v <= 10_000, "requests per second above 0, at most 10000"),
        default: 5,
        example: "5",
        doc: "requests/s the camera API's stage lets through, 0 < x ≤ 10000",
    }),
    cameraBurstLimit: required<number>({
        rule: integerField(1, 5000),
        default: 10,
        example: "10",
        doc: "integer 1–5000",
    }),
    cameraReservedConcurrency: required<number>({
        rule: integerField(0, 1000),
        // The function needs no more than the endpoint serves at once.
        default: (settings) => settings.endpointMaxConcurrency as number,
        defaultText: "`endpointMaxConcurrency`",
        example: "5",
        doc: "integer 0–1000; 0 leaves the infer function unreserved",
    }),
    cameraRoleName: optional<string>({
        rule: patternField(
            ROLE_NAME,
            "the name (not the ARN) of an existing IAM role: 1-64 letters, digits or +=,.@_-",
        ),
        example: "bootboots-camera-role",
        doc: "an existing IAM role's name (not ARN) that gets the invoke policy, e.g. the one behind the camera's IoT role alias",
    }),
    eventsTableName: required<string>({
        rule: tableName,
        default: "bootboots-events",
        example: "bootboots-events",
        doc: "a DynamoDB table name; created by the stack",
    }),
    eventRetentionDays: required<number>({
        rule: integerField(1, 3650),
        default: 365,
        example: "365",
        doc: "integer 1–3650: the events table's TTL",
    }),
    keepWarmMinutes: required<number>({
        rule: integerField(0, 60),
        default: 0,
        defaultText: "`0` (off)",
        example: "0",
        doc: "integer 0–60: minutes between keep-warm requests",
    }),
    notificationEmail: optional<string>({
        rule: patternField(EMAIL_ADDRESS, "an e-mail address"),
        example: "you@example.com",
        doc: "an e-mail address subscribed to the jobs topic (it confirms the subscription by e-mail)",
    }),
    retrainSchedule: optional<string>({
        rule: patternField(SCHEDULE_EXPRESSION, "an EventBridge schedule expression, rate(...) or cron(...)"),
        defaultText: "unset (off)",
        example: "'rate(1 day)'",
        doc: "an EventBridge schedule expression, `rate(…)` or `cron(…)`, for the retraining check",
    }),
    retrainMinNewLabels: required<number>({
        rule: integerField(1, 100_000),
        default: 50,
        example: "50",
        doc: "integer 1–100000: new labels the check needs before it starts a job",
    }),
} as const;

type Table = typeof STACK_SETTINGS;
export type StackSettingKey = keyof Table;

/** The value a setting holds once parsed: its type, or undefined too for one that may stay unset. */
type ValueOf<S> = S extends StackSetting<infer T, infer Required> ? (Required extends true ? T : T | undefined) : never;

/** Every setting of the stack, parsed and checked. */
export type StackSettings = { readonly [K in StackSettingKey]: ValueOf<Table[K]> };

/** A setting's value from its config text, or the sentence that refuses it ("must be …"). */
export function parseSetting(key: StackSettingKey, text: string): { value: unknown } | { error: string } {
    const setting: StackSetting<unknown> = STACK_SETTINGS[key];
    if (setting.parse) return setting.parse(text);
    const trimmed = setting.rule.kind === "string" ? text : text.trim();
    const parsed = parseFieldText(setting.rule, trimmed);
    return "error" in parsed ? { error: `must be ${setting.rule.allowed}` } : parsed;
}

/** The keys of the split settings (lib/dataset.ts SplitSettings), which data prep's event may override. */
export const SPLIT_KEYS = [
    "validationSplit",
    "testSplit",
    "maxNoCatSamples",
    "visitGapMinutes",
    "splitNumberBlock",
] as const satisfies readonly StackSettingKey[];

/**
 * Settings that no longer exist, each with the sentence that says what replaced it: the stack
 * config and data prep's event refuse them by name, rather than ignore a value the user set.
 */
export const RETIRED_SETTINGS: Readonly<Record<string, string>> = {
    splitWindowMinutes:
        "splitWindowMinutes was replaced by visitGapMinutes: a visit is now the frames of one camera taken at most visitGapMinutes apart (default 10), not a clock window",
};

/** The setting's default as design.md's table shows it. */
export function defaultText(key: StackSettingKey): string {
    const setting: StackSetting<unknown> = STACK_SETTINGS[key];
    if (setting.defaultText) return setting.defaultText;
    if (setting.default === undefined) return "unset";
    return `\`${String(setting.default)}\``;
}

/** design.md's config table, a row a setting: key, default and rule, as the table declares them. */
export function configTableRows(): string[] {
    return (Object.keys(STACK_SETTINGS) as StackSettingKey[]).map(
        (key) => `| \`${key}\` | ${defaultText(key)} | ${STACK_SETTINGS[key].doc} |`,
    );
}
