import contractJson from "../training/contract.json";
import metricDefinitionsJson from "../training/metric-definitions.json";

/**
 * Facts shared with training/train.py: the class list in model-output order, the
 * TensorFlow images, the hyperparameter defaults and the serving contract. The JSON
 * files live in training/ so the script reads the same ones inside its container.
 */
export interface TensorflowImageTags {
    readonly training: string;
    readonly inference: string;
}

/** A hyperparameter's range: integers from min to max, numbers from min (or above it) to below max. */
export interface HyperparameterRange {
    readonly kind: "integer" | "number";
    readonly min: number;
    readonly max: number;
    /** Numbers only: min itself is allowed. */
    readonly minInclusive?: boolean;
}

export interface Contract {
    readonly classes: readonly string[];
    readonly noCatClass: string;
    readonly tensorflowVersion: string;
    readonly tensorflowImageTags: Readonly<Record<string, TensorflowImageTags>>;
    readonly hyperparameterDefaults: {
        readonly epochs: number;
        readonly learning_rate: number;
        readonly batch_size: number;
        readonly train_only_top_layer: boolean;
        readonly dropout_rate: number;
        readonly augmentation: boolean;
        readonly augmentation_random_flip: string;
        readonly augmentation_random_rotation: number;
        readonly augmentation_random_zoom: number;
        readonly early_stopping: boolean;
        readonly early_stopping_patience: number;
        readonly early_stopping_min_delta: number;
    };
    /** Each numeric hyperparameter's range: the trigger and train.py check by it. */
    readonly hyperparameterRanges: Readonly<Record<string, HyperparameterRange>>;
    /** The defaults of the decision the camera makes: the class it acts on and the false alarms it tolerates. */
    readonly decision: {
        readonly targetClass: string;
        readonly maxFalseAlarmRate: number;
        /** The window lengths (frames) train.py tries for the visit rule. */
        readonly visitWindows: readonly number[];
        /** The firmware's own rule, a baseline: the target most likely with at least this probability. */
        readonly firmwareMinConfidence: number;
    };
    /** The published Keras MobileNetV2 ImageNet weights without the top, for 224-pixel inputs. */
    readonly baseWeights: {
        readonly fileName: string;
        readonly url: string;
    };
    /** The search space and objective of a tuning job (docs/design.md, "Tuning"). */
    readonly tuning: TuningSpace;
    readonly serving: {
        readonly signature: string;
        readonly contentType: string;
        readonly instanceKey: string;
        readonly predictionsKey: string;
        readonly maxRequestBytes: number;
        /** Serverless inference's list price per GB-second of compute (eu-west-2), for estimates only. */
        readonly approxUsdPerGbSecond: number;
        /** Compute per single-image request, rounded up from bench:model's p95, for estimates only. */
        readonly approxSecondsPerRequest: number;
    };
}

export interface TuningSpace {
    readonly strategy: "Bayesian" | "Random" | "Hyperband" | "Grid";
    /** The metric the tuner maximizes: one of the metric definitions. */
    readonly objective: { readonly type: "Maximize" | "Minimize"; readonly metric: string };
    /** Bounds as strings, as the tuning API takes them. */
    readonly continuous: readonly {
        readonly name: string;
        readonly min: string;
        readonly max: string;
        readonly scaling: "Linear" | "Logarithmic";
    }[];
    readonly categorical: readonly { readonly name: string; readonly values: readonly string[] }[];
    /** Above this worst-case on-demand cost `bootboots tune` asks for --yes (stack config maxTuningCostUsd). */
    readonly maxTuningCostUsd: number;
}

export interface MetricDefinition {
    readonly Name: string;
    readonly Regex: string;
}

/** training/metric-definitions.json: the log lines train.py prints, and the metrics read from them. */
interface LogLines {
    /** Each line's template: `{figures}` stands for `name=value` pairs, the others for their values. */
    readonly lines: Readonly<Record<string, string>>;
    readonly number: string;
    readonly metrics: readonly { readonly Name: string; readonly line: string; readonly figure: string }[];
}

export const contract: Contract = contractJson as Contract;
const logLines: LogLines = metricDefinitionsJson;

const escapeRegex = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, "\\$&");

/** A line template as a regex source: each `{field}` replaced by what it stands for. */
function lineRegex(line: string, fields: Readonly<Record<string, string>>): string {
    return escapeRegex(logLines.lines[line]).replace(/\\\{|\{(\w+)\}/g, (_, field: string) => fields[field]);
}

/** The metrics SageMaker reads from the job's log, each regex made from its line's template. */
export const metricDefinitions: readonly MetricDefinition[] = logLines.metrics.map((metric) => ({
    Name: metric.Name,
    Regex: lineRegex(metric.line, {
        epoch: "\\d+",
        phase: "\\S+",
        figures: `.*\\b${escapeRegex(metric.figure)}=(${logLines.number})`,
    }),
}));

/** An epoch line as train.py prints it: the epoch, the phase and the `name=value` figures. */
export const EPOCH_LINE = new RegExp(`^${lineRegex("epoch", { epoch: "(\\d+)", phase: "(\\S+)", figures: "(.*)" })}$`);
