import { Decision, JobEvaluation } from "./jobOutput";
import { windowMean } from "./visits";

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
    /** The 95% interval of the delta over bootstrap resamples of the common visits (all frames of a visit together). */
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
    /** The visits those images make (the candidate's test_visits; a frame it does not place is a visit of its own). */
    readonly commonVisits: number;
    readonly classes: readonly string[];
    readonly targetClass: string;
    /** Each model's own threshold for the target class. */
    readonly thresholds: { readonly candidate: number; readonly baseline: number };
    readonly perClassF1: Record<string, Delta>;
    readonly macroF1: Delta;
    readonly targetRecall: Delta;
    readonly falseAlarmRate: Delta;
    /** Per visit, each model by its own rule (its visit rule, else one frame at its threshold). */
    readonly visitRecall: Delta;
    readonly visitFalseAlarmRate: Delta;
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

/** The common test images, grouped into visits in capture order (the candidate's test_visits), each image once. */
function commonVisits(candidate: ComparedModel, baseline: ComparedModel): string[][] {
    const classes = candidate.evaluation.classes;
    const test = candidate.evaluation.test!;
    const shared = (name: string) =>
        name in baseline.evaluation.test!.predictions &&
        name in test.predictions &&
        classes.includes(test.labels[name]);
    const placed = new Set<string>();
    const visits: string[][] = [];
    for (const visit of candidate.evaluation.test_visits ?? []) {
        const frames = visit.frames.filter((name) => shared(name) && !placed.has(name));
        frames.forEach((name) => placed.add(name));
        if (frames.length > 0) visits.push(frames);
    }
    for (const name of Object.keys(test.predictions).sort()) if (shared(name) && !placed.has(name)) visits.push([name]);
    return visits;
}

/** Whether a model acts on a visit by its own rule: its visit rule over the frames so far, else one frame at its threshold. */
function actsOnVisit(decision: Decision, scores: readonly number[]): boolean {
    const rule = decision.visit_rule;
    if (!rule) return scores.some((score) => score >= decision.threshold);
    return scores.some((_, i) => windowMean(scores.slice(0, i + 1), rule.frames) >= rule.threshold);
}

/** One model's answers on the common frames (in visit order) and its act on each visit. */
function answersOf(model: ComparedModel, visits: readonly string[][], target: number) {
    const test = model.evaluation.test!;
    const decision = model.evaluation.decision!;
    const frames = visits.flat();
    return {
        predicted: Int32Array.from(frames, (name) => argmax(test.predictions[name])),
        called: Uint8Array.from(frames, (name) => (test.predictions[name][target] >= decision.threshold ? 1 : 0)),
        visitActs: Uint8Array.from(visits, (visit) =>
            actsOnVisit(
                decision,
                visit.map((name) => test.predictions[name][target]),
            )
                ? 1
                : 0,
        ),
    };
}

/** Per visit: the share of target visits acted on, and of the other visits, over a multiset of visits. */
function visitRates(indices: ArrayLike<number>, isTarget: Uint8Array, acts: Uint8Array) {
    let targets = 0;
    let targetsActed = 0;
    let others = 0;
    let othersActed = 0;
    for (let j = 0; j < indices.length; j++) {
        const v = indices[j];
        if (isTarget[v]) {
            targets += 1;
            targetsActed += acts[v];
        } else {
            others += 1;
            othersActed += acts[v];
        }
    }
    return {
        visitRecall: targets ? targetsActed / targets : 0,
        visitFalseAlarmRate: others ? othersActed / others : 0,
    };
}

/**
 * Compares two models on the test images both saw, with the candidate's labels: per-class
 * F1, macro-F1, the target class's recall and false-alarm rate at each model's own per-frame
 * threshold, and per visit the target visits and other visits each model acts on by its own
 * rule. Each difference gets a 95% paired-bootstrap interval that resamples visits (all
 * frames of a visit together: they are near-copies, not independent images), the same
 * resampled visits for both models; it is significant when the interval excludes 0.
 */
export function compareModels(
    candidate: ComparedModel,
    baseline: ComparedModel,
    resamples = BOOTSTRAP_RESAMPLES,
    seed = 20260221,
): Comparison {
    const classes = candidate.evaluation.classes;
    const candidateTest = candidate.evaluation.test!;
    const targetClass = candidate.evaluation.decision!.target_class;
    const target = classes.indexOf(targetClass);
    const visits = commonVisits(candidate, baseline);
    const frames = visits.flat();
    const labels = Int32Array.from(frames, (name) => classes.indexOf(candidateTest.labels[name]));
    const isTargetVisit = Uint8Array.from(visits, (visit) => (candidateTest.labels[visit[0]] === targetClass ? 1 : 0));
    const a = answersOf(candidate, visits, target);
    const b = answersOf(baseline, visits, target);
    const firstFrame = Int32Array.from(visits, (_, v) => visits.slice(0, v).reduce((n, f) => n + f.length, 0));

    const measure = (visitSample: ArrayLike<number>) => {
        const frameSample: number[] = [];
        for (let j = 0; j < visitSample.length; j++) {
            const v = visitSample[j];
            for (let f = 0; f < visits[v].length; f++) frameSample.push(firstFrame[v] + f);
        }
        const of = (m: typeof a) => ({
            ...statistics(frameSample, labels, m.predicted, m.called, classes.length, target),
            ...visitRates(visitSample, isTargetVisit, m.visitActs),
        });
        return { candidate: of(a), baseline: of(b) };
    };
    const keys = [
        "macroF1",
        "targetRecall",
        "falseAlarmRate",
        "visitRecall",
        "visitFalseAlarmRate",
        ...classes.map((_, c) => `f1:${c}`),
    ];
    type Measured = ReturnType<typeof measure>["candidate"];
    const value = (m: Measured, key: string) =>
        key.startsWith("f1:") ? m.perClassF1[Number(key.slice(3))] : (m[key as keyof Measured] as number);
    const observed = measure(Int32Array.from(visits, (_, v) => v));
    const deltas = new Map(keys.map((key) => [key, new Float64Array(resamples)]));
    const next = random(seed);
    const sample = new Int32Array(visits.length);
    for (let r = 0; r < resamples; r++) {
        for (let j = 0; j < sample.length; j++) sample[j] = Math.floor(next() * sample.length);
        const resampled = measure(sample);
        for (const key of keys) deltas.get(key)![r] = value(resampled.candidate, key) - value(resampled.baseline, key);
    }
    const delta = (key: string): Delta => {
        const sorted = deltas.get(key)!.sort();
        const [low, high] = [percentile(sorted, 0.025), percentile(sorted, 0.975)];
        const [c, b0] = [value(observed.candidate, key), value(observed.baseline, key)];
        return { candidate: c, baseline: b0, delta: c - b0, low, high, significant: low > 0 || high < 0 };
    };
    return {
        candidate: candidate.jobName,
        baseline: baseline.jobName,
        commonImages: frames.length,
        commonVisits: visits.length,
        classes,
        targetClass,
        thresholds: {
            candidate: candidate.evaluation.decision!.threshold,
            baseline: baseline.evaluation.decision!.threshold,
        },
        perClassF1: Object.fromEntries(classes.map((c, i) => [c, delta(`f1:${i}`)])),
        macroF1: delta("macroF1"),
        targetRecall: delta("targetRecall"),
        falseAlarmRate: delta("falseAlarmRate"),
        visitRecall: delta("visitRecall"),
        visitFalseAlarmRate: delta("visitFalseAlarmRate"),
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
    if (comparison.visitRecall.significant && comparison.visitRecall.delta < 0)
        worse.push(say(`${comparison.targetClass} visits acted on`, comparison.visitRecall));
    if (comparison.visitFalseAlarmRate.significant && comparison.visitFalseAlarmRate.delta > 0)
        worse.push(say("other cats' visits acted on", comparison.visitFalseAlarmRate));
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
    const on = `on the ${comparison.commonImages} test images (${comparison.commonVisits} visits) both saw`;
    const sentence =
        word === "worse"
            ? `${comparison.candidate} is significantly worse than ${comparison.baseline} ${on}: ${worse.join("; ")}.`
            : word === "better"
              ? `${comparison.candidate} is significantly better than ${comparison.baseline} ${on} (macro-F1 ${signed(comparison.macroF1.delta)}, 95% interval ${signed(comparison.macroF1.low)} to ${signed(comparison.macroF1.high)}).`
              : `${comparison.candidate} is no different from ${comparison.baseline} ${on}: no significant difference in macro-F1, ${comparison.targetClass} recall or false-alarm rate, per image or per visit.`;
    return { word, sentence };
}
