import { Decision, JobEvaluation } from "./jobOutput";

export type { Decision, JobEvaluation };

/** One model's job, as compared. */
export interface ComparedModel {
    readonly jobName: string;
    readonly evaluation: JobEvaluation;
}

/** A difference between the candidate and the baseline, with its paired-bootstrap interval. */
export interface Delta {
    readonly candidate: number;
    readonly baseline: number;
    /** candidate − baseline. */
    readonly delta: number;
    /** The 95% interval of the delta over bootstrap resamples of the common images. */
    readonly low: number;
    readonly high: number;
    /** The interval excludes 0. */
    readonly significant: boolean;
}

export interface Comparison {
    readonly candidate: string;
    readonly baseline: string;
    /** Test images both models were evaluated on; labels are the candidate's. */
    readonly commonImages: number;
    readonly classes: readonly string[];
    readonly targetClass: string;
    /** Each model's own threshold for the target class. */
    readonly thresholds: { readonly candidate: number; readonly baseline: number };
    readonly perClassF1: Record<string, Delta>;
    readonly macroF1: Delta;
    readonly targetRecall: Delta;
    readonly falseAlarmRate: Delta;
    readonly resamples: number;
}

export const BOOTSTRAP_RESAMPLES = 2000;

/** Why two jobs cannot be compared, or undefined when they can. */
export function notComparable(candidate: ComparedModel, baseline: ComparedModel): string | undefined {
    for (const [role, model] of [
        ["candidate", candidate],
        ["baseline", baseline],
    ] as const) {
        if (!model.evaluation.test?.predictions || !model.evaluation.decision) {
            return `the ${role} ${model.jobName} has no per-image test predictions or decision threshold (it was trained before the held-out test set): compare jobs trained since`;
        }
    }
    if (candidate.evaluation.classes.join(",") !== baseline.evaluation.classes.join(",")) {
        const onlyIn = (a: readonly string[], b: readonly string[]) => a.filter((c) => !b.includes(c));
        const extra = onlyIn(candidate.evaluation.classes, baseline.evaluation.classes);
        const missing = onlyIn(baseline.evaluation.classes, candidate.evaluation.classes);
        const how =
            extra.length || missing.length
                ? [
                      extra.length ? `only the candidate has ${extra.join(", ")}` : "",
                      missing.length ? `only the baseline has ${missing.join(", ")}` : "",
                  ]
                      .filter(Boolean)
                      .join("; ")
                : "the same classes in another order";
        return `their class lists differ (${how}): the candidate ${candidate.jobName} predicts ${candidate.evaluation.classes.join(", ")}, the baseline ${baseline.jobName} ${baseline.evaluation.classes.join(", ")}`;
    }
    if (candidate.evaluation.decision!.target_class !== baseline.evaluation.decision!.target_class) {
        return `the candidate's target class is ${candidate.evaluation.decision!.target_class}, the baseline's ${baseline.evaluation.decision!.target_class}`;
    }
    const common = Object.keys(candidate.evaluation.test!.predictions).filter(
        (name) => name in baseline.evaluation.test!.predictions,
    );
    if (common.length === 0) return "their test sets share no image (were they trained on datasets of other images?)";
    return undefined;
}

/** A seeded generator (mulberry32): the same comparison gives the same intervals. */
function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const argmax = (row: readonly number[]) => row.reduce((best, value, i) => (value > row[best] ? i : best), 0);

interface Statistics {
    readonly perClassF1: number[];
    readonly macroF1: number;
    readonly targetRecall: number;
    readonly falseAlarmRate: number;
}

/** The statistics of one model over a multiset of images (indices may repeat). */
function statistics(
    indices: ArrayLike<number>,
    labels: Int32Array,
    predicted: Int32Array,
    calledTarget: Uint8Array,
    classCount: number,
    target: number,
): Statistics {
    const truePositives = new Float64Array(classCount);
    const predictedCount = new Float64Array(classCount);
    const support = new Float64Array(classCount);
    let targets = 0;
    let targetsCalled = 0;
    let others = 0;
    let othersCalled = 0;
    for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        support[labels[i]] += 1;
        predictedCount[predicted[i]] += 1;
        if (labels[i] === predicted[i]) truePositives[labels[i]] += 1;
        if (labels[i] === target) {
            targets += 1;
            targetsCalled += calledTarget[i];
        } else {
            others += 1;
            othersCalled += calledTarget[i];
        }
    }
    const perClassF1 = Array.from({ length: classCount }, (_, c) => {
        const denominator = predictedCount[c] + support[c];
        return denominator ? (2 * truePositives[c]) / denominator : 0;
    });
    return {
        perClassF1,
        macroF1: perClassF1.reduce((a, b) => a + b, 0) / classCount,
        targetRecall: targets ? targetsCalled / targets : 0,
        falseAlarmRate: others ? othersCalled / others : 0,
    };
}

function percentile(sorted: Float64Array, q: number): number {
    const position = q * (sorted.length - 1);
    const below = Math.floor(position);
    const above = Math.min(below + 1, sorted.length - 1);
    return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/**
 * Compares two models on the test images both saw, with the candidate's labels: per-class
 * F1, macro-F1, and the target class's recall and false-alarm rate at each model's own
 * threshold. Each difference gets a 95% paired-bootstrap interval (the same resampled
 * images for both models); it is significant when the interval excludes 0.
 */
export function compareModels(
    candidate: ComparedModel,
    baseline: ComparedModel,
    resamples = BOOTSTRAP_RESAMPLES,
    seed = 20260221,
): Comparison {
    const classes = candidate.evaluation.classes;
    const candidateTest = candidate.evaluation.test!;
    const baselineTest = baseline.evaluation.test!;
    const names = Object.keys(candidateTest.predictions)
        .filter((name) => name in baselineTest.predictions && classes.includes(candidateTest.labels[name]))
        .sort();
    const targetClass = candidate.evaluation.decision!.target_class;
    const target = classes.indexOf(targetClass);
    const thresholds = {
        candidate: candidate.evaluation.decision!.threshold,
        baseline: baseline.evaluation.decision!.threshold,
    };

    const n = names.length;
    const labels = Int32Array.from(names, (name) => classes.indexOf(candidateTest.labels[name]));
    const model = (test: typeof candidateTest, threshold: number) => ({
        predicted: Int32Array.from(names, (name) => argmax(test.predictions[name])),
        called: Uint8Array.from(names, (name) => (test.predictions[name][target] >= threshold ? 1 : 0)),
    });
    const a = model(candidateTest, thresholds.candidate);
    const b = model(baselineTest, thresholds.baseline);
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const observed = {
        candidate: statistics(all, labels, a.predicted, a.called, classes.length, target),
        baseline: statistics(all, labels, b.predicted, b.called, classes.length, target),
    };

    const keys = ["macroF1", "targetRecall", "falseAlarmRate", ...classes.map((_, c) => `f1:${c}`)];
    const deltas = new Map(keys.map((key) => [key, new Float64Array(resamples)]));
    const value = (s: Statistics, key: string) =>
        key.startsWith("f1:") ? s.perClassF1[Number(key.slice(3))] : (s[key as keyof Statistics] as number);
    const next = random(seed);
    const sample = new Int32Array(n);
    for (let r = 0; r < resamples; r++) {
        for (let j = 0; j < n; j++) sample[j] = Math.floor(next() * n);
        const sa = statistics(sample, labels, a.predicted, a.called, classes.length, target);
        const sb = statistics(sample, labels, b.predicted, b.called, classes.length, target);
        for (const key of keys) deltas.get(key)![r] = value(sa, key) - value(sb, key);
    }
    const delta = (key: string): Delta => {
        const sorted = deltas.get(key)!.sort();
        const low = percentile(sorted, 0.025);
        const high = percentile(sorted, 0.975);
        const candidateValue = value(observed.candidate, key);
        const baselineValue = value(observed.baseline, key);
        return {
            candidate: candidateValue,
            baseline: baselineValue,
            delta: candidateValue - baselineValue,
            low,
            high,
            significant: low > 0 || high < 0,
        };
    };
    return {
        candidate: candidate.jobName,
        baseline: baseline.jobName,
        commonImages: n,
        classes,
        targetClass,
        thresholds,
        perClassF1: Object.fromEntries(classes.map((c, i) => [c, delta(`f1:${i}`)])),
        macroF1: delta("macroF1"),
        targetRecall: delta("targetRecall"),
        falseAlarmRate: delta("falseAlarmRate"),
        resamples,
    };
}

/** Where the candidate is significantly worse: lower macro-F1 or target recall, or a higher false-alarm rate. */
export function significantlyWorse(comparison: Comparison): string[] {
    const worse: string[] = [];
    const say = (name: string, d: Delta) =>
        `${name} (${signed(d.delta)}, 95% interval ${signed(d.low)} to ${signed(d.high)})`;
    if (comparison.macroF1.significant && comparison.macroF1.delta < 0) worse.push(say("macro-F1", comparison.macroF1));
    if (comparison.targetRecall.significant && comparison.targetRecall.delta < 0)
        worse.push(say(`${comparison.targetClass} recall`, comparison.targetRecall));
    if (comparison.falseAlarmRate.significant && comparison.falseAlarmRate.delta > 0) {
        worse.push(say(`${comparison.targetClass} false-alarm rate`, comparison.falseAlarmRate));
    }
    return worse;
}

export function signed(value: number): string {
    return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(3)}`;
}

/** The comparison in one word (better, worse or no different) and one sentence. */
export function verdict(comparison: Comparison): { word: "better" | "worse" | "no different"; sentence: string } {
    const worse = significantlyWorse(comparison);
    const better = comparison.macroF1.significant && comparison.macroF1.delta > 0;
    const word = worse.length > 0 ? "worse" : better ? "better" : "no different";
    const on = `on the ${comparison.commonImages} test images both saw`;
    const sentence =
        word === "worse"
            ? `${comparison.candidate} is significantly worse than ${comparison.baseline} ${on}: ${worse.join("; ")}.`
            : word === "better"
              ? `${comparison.candidate} is significantly better than ${comparison.baseline} ${on} (macro-F1 ${signed(comparison.macroF1.delta)}, 95% interval ${signed(comparison.macroF1.low)} to ${signed(comparison.macroF1.high)}).`
              : `${comparison.candidate} is no different from ${comparison.baseline} ${on}: no significant difference in macro-F1, ${comparison.targetClass} recall or false-alarm rate.`;
    return { word, sentence };
}
