/** What train.py writes (training/export.py): decision.json and evaluation.json, and the rule the camera acts by. */

/** What train.py writes as decision.json: the target class's threshold and what it gives. */
export interface Decision {
    readonly target_class: string;
    readonly threshold: number;
    readonly max_false_alarm_rate: number;
    readonly validation_recall: number;
    readonly validation_false_alarm_rate: number;
    readonly test_recall: number | null;
    readonly test_false_alarm_rate: number | null;
    /** Jobs since the error bars: how the intervals were computed ("Wilson score, 95 %"). */
    readonly interval_method?: string;
    /** [hits, of] and [low, high] for each figure (validation_…, and test_… with a test set). */
    readonly validation_recall_counts?: [number, number];
    readonly validation_recall_interval?: [number, number];
    readonly validation_false_alarm_rate_counts?: [number, number];
    readonly validation_false_alarm_rate_interval?: [number, number];
    readonly test_recall_counts?: [number, number];
    readonly test_recall_interval?: [number, number];
    readonly test_false_alarm_rate_counts?: [number, number];
    readonly test_false_alarm_rate_interval?: [number, number];
    /** Why the false-alarm limit cannot be checked on so few validation images, when it cannot. */
    readonly limit_unresolved?: string;
    /** The rule per visit (jobs since visits): absent in older models, which then decide per frame. */
    readonly visit_rule?: VisitRule;
}

/**
 * train.py's rule per visit (training/visits.py): act at the first frame where the mean target
 * probability over the visit's last `frames` frames reaches `threshold`.
 */
export interface VisitRule {
    readonly kind: "window_mean";
    readonly frames: number;
    readonly threshold: number;
    /** Why the per-visit limit cannot be checked on so few non-target validation visits, when it cannot. */
    readonly limit_unresolved?: string;
    /** The rule's figures on the validation visits it was chosen on. */
    readonly validation?: VisitFigures;
}

/** One rule's figures over visits, with counts and 95 % Wilson intervals (training/visits.py visit_figures). */
export interface VisitFigures {
    readonly recall: number | null;
    readonly recall_counts: [number, number];
    readonly recall_interval: [number, number];
    readonly false_alarm_rate: number | null;
    readonly false_alarm_counts: [number, number];
    readonly false_alarm_interval: [number, number];
    /** Frames until it acted on a target visit, the median; null when it never did. */
    readonly median_frames_to_act: number | null;
}

/** The three rules train.py measures per visit: its own, one frame at the per-frame threshold, and the firmware's. */
export const VISIT_RULES = ["visit", "frame", "firmware"] as const;
export type VisitRuleName = (typeof VISIT_RULES)[number];

/** One held-out visit in evaluation.json: its frames in capture order and where each rule acted (0-based, or null). */
export interface EvaluatedVisit {
    readonly visit: string;
    readonly class: string;
    readonly frames: readonly string[];
    readonly acted_at: Readonly<Record<VisitRuleName, number | null>>;
    /** Its score under the chosen window: the rule acts on it when the score reaches the threshold. */
    readonly score: number;
}

/** evaluation.json's `visits`: each side's figures per rule. */
export interface VisitEvaluation {
    readonly interval_method: string;
    /** Whether the visits came from the dataset's manifest (else each frame is a visit of its own). */
    readonly from_manifest: boolean;
    readonly validation: Readonly<Record<VisitRuleName, VisitFigures>>;
    readonly test?: Readonly<Record<VisitRuleName, VisitFigures>>;
}

/** The files train.py writes: in the model archive and output.tar.gz (decision.json), and beside model.tar.gz when stored plain. */
export const DECISION_FILE = "decision.json";
export const EVALUATION_FILE = "evaluation.json";

/** Whether the camera acts on an image: its target-class probability at or above the model's own threshold. */
export function decide(decision: Decision, probabilities: Readonly<Record<string, number>>) {
    const probability = probabilities[decision.target_class] ?? 0;
    return {
        targetClass: decision.target_class,
        probability,
        threshold: decision.threshold,
        act: probability >= decision.threshold,
    };
}

/** A decision.json read from anywhere: the fields the camera acts on must be there, or it is no decision. */
export function parseDecision(value: unknown): Decision | undefined {
    const d = value as Partial<Decision> | null;
    if (!d || typeof d.target_class !== "string" || typeof d.threshold !== "number" || !Number.isFinite(d.threshold))
        return undefined;
    return d as Decision;
}

/** The parts of a job's evaluation.json that comparisons read. */
export interface JobEvaluation {
    readonly accuracy: number;
    readonly macro_f1?: number;
    readonly classes: string[];
    readonly per_class: Record<string, PerClassFigures>;
    readonly confusion_matrix: number[][];
    /** The held-out test set, evaluated through the exported model (jobs since the test split). */
    readonly test?: {
        readonly accuracy: number;
        readonly macro_f1: number;
        readonly classes?: string[];
        readonly per_class?: Record<string, PerClassFigures>;
        /** Rows: the true class; columns: the predicted one, in `classes` order. */
        readonly confusion_matrix?: number[][];
        /** How the per-class intervals were computed (jobs since the error bars). */
        readonly interval_method?: string;
        /** File name → class probabilities in `classes` order. */
        readonly predictions: Record<string, number[]>;
        /** File name → true class. */
        readonly labels: Record<string, string>;
    };
    readonly decision?: Decision;
    /** Validation file name → true class, and → class probabilities (jobs since bootboots review). */
    readonly validation_labels?: Record<string, string>;
    readonly validation_predictions?: Record<string, number[]>;
    /** Test images with a near-copy in training (jobs since the leak count). */
    readonly near_copies?: NearCopies;
    /** Per visit (jobs since visits): the three rules' figures, and every held-out visit. */
    readonly visits?: VisitEvaluation;
    readonly validation_visits?: readonly EvaluatedVisit[];
    readonly test_visits?: readonly EvaluatedVisit[];
}

/** One class's figures; the intervals are there for jobs since the error bars. */
export interface PerClassFigures {
    readonly precision: number;
    readonly recall: number;
    readonly f1: number;
    readonly support: number;
    readonly precision_interval?: [number, number];
    readonly recall_interval?: [number, number];
    readonly f1_interval?: [number, number];
}

/** train.py's leak count: test images whose nearest training image is at least min_similarity alike. */
export interface NearCopies {
    readonly min_similarity: number;
    /** How similarity is measured. */
    readonly measure: string;
    readonly test_images: number;
    readonly with_near_copy: number;
    /** The closest pairs, most similar first. */
    readonly closest: readonly { test: string; training: string; similarity: number }[];
}
