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
    /** The defaults of the decision the camera makes: the class it acts on and the false alarms it tolerates. */
    readonly decision: {
        readonly targetClass: string;
        readonly maxFalseAlarmRate: number;
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

export const contract: Contract = contractJson as Contract;
export const metricDefinitions: readonly MetricDefinition[] = metricDefinitionsJson;
