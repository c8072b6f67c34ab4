import { strict as assert } from "assert";
import { ComparedModel, compareModels, notComparable, significantlyWorse } from "../../lib/comparison";

const CLASSES = ["Boots", "Chi", "NoCat"];

/** A model that answers `right` of each class's images correctly (the rest as the next class). */
function model(
    jobName: string,
    images: number,
    right: number,
    threshold = 0.5,
    extra: Record<string, number[]> = {},
): ComparedModel {
    const predictions: Record<string, number[]> = {};
    const labels: Record<string, string> = {};
    for (let i = 0; i < images; i++) {
        const truth = i % CLASSES.length;
        const correct = Math.floor(i / CLASSES.length) < right;
        const guess = correct ? truth : (truth + 1) % CLASSES.length;
        predictions[`img-${i}.jpg`] = CLASSES.map((_, c) => (c === guess ? 0.8 : 0.1));
        labels[`img-${i}.jpg`] = CLASSES[truth];
    }
    Object.assign(predictions, extra);
    const decision = {
        target_class: "Boots",
        threshold,
        max_false_alarm_rate: 0.01,
        validation_recall: 0,
        validation_false_alarm_rate: 0,
        test_recall: 0,
        test_false_alarm_rate: 0,
    };
    return {
        jobName,
        evaluation: {
            accuracy: 0,
            classes: CLASSES,
            per_class: {},
            confusion_matrix: [],
            test: { accuracy: 0, macro_f1: 0, predictions, labels },
            decision,
        },
    };
}

describe("comparing two models", () => {
    it("marks a clearly better model as significantly better, and the worse one as worse", () => {
        const strong = model("strong", 300, 95);
        const weak = model("weak", 300, 40);
        const comparison = compareModels(strong, weak);
        assert.equal(comparison.commonImages, 300);
        assert.ok(comparison.macroF1.delta > 0.4 && comparison.macroF1.significant);
        assert.ok(
            comparison.macroF1.low <= comparison.macroF1.delta && comparison.macroF1.delta <= comparison.macroF1.high,
        );
        assert.deepEqual(significantlyWorse(comparison), []);
        const reverse = compareModels(weak, strong);
        assert.deepEqual(
            significantlyWorse(reverse).map((w) => w.split(" (")[0]),
            // The weak model calls NoCat images Boots: more false alarms too, per image and per visit.
            [
                "macro-F1",
                "Boots recall",
                "Boots false-alarm rate",
                "Boots visits acted on",
                "other cats' visits acted on",
            ],
        );
    });

    it("finds no significant difference between a model and itself, and gives the same intervals each time", () => {
        const a = model("a", 90, 20);
        const comparison = compareModels(a, { ...a, jobName: "a-again" });
        assert.equal(comparison.macroF1.delta, 0);
        assert.equal(comparison.macroF1.significant, false);
        assert.deepEqual(compareModels(model("b", 90, 25), a), compareModels(model("b", 90, 25), a));
    });

    it("compares on common images only, and uses each model's own threshold", () => {
        const candidate = model("new", 30, 10, 0.9, { "only-new.jpg": [1, 0, 0] });
        const baseline = model("old", 30, 10, 0.5);
        const comparison = compareModels(candidate, baseline);
        assert.equal(comparison.commonImages, 30);
        // At 0.9 the candidate calls no Boots image a target; at 0.5 the baseline calls all it predicts Boots.
        assert.equal(comparison.targetRecall.candidate, 0);
        assert.equal(comparison.targetRecall.baseline, 1);
        assert.deepEqual(comparison.thresholds, { candidate: 0.9, baseline: 0.5 });
    });

    it("resamples visits, not frames: ten near-copies of one visit count as one visit, and widen the interval", () => {
        const strong = model("strong", 120, 30);
        const weak = model("weak", 120, 22);
        // The same frames, told as 12 visits of 10 frames each (frames of one class, in order).
        const byVisit = (m: ComparedModel): ComparedModel => {
            const names = Object.keys(m.evaluation.test!.labels);
            const visits = Array.from({ length: 12 }, (_, v) => {
                const frames = names
                    .filter((_, i) => i % 3 === v % 3)
                    .slice(Math.floor(v / 3) * 10, Math.floor(v / 3) * 10 + 10);
                return {
                    visit: `v${v}`,
                    class: m.evaluation.test!.labels[frames[0]],
                    frames,
                    acted_at: { visit: null, frame: null, firmware: null },
                    score: 0,
                };
            });
            return { ...m, evaluation: { ...m.evaluation, test_visits: visits } };
        };
        const frames = compareModels(strong, weak);
        const visits = compareModels(byVisit(strong), byVisit(weak));
        assert.equal(frames.commonVisits, 120);
        assert.equal(visits.commonVisits, 12);
        assert.equal(visits.commonImages, 120);
        assert.equal(visits.macroF1.delta, frames.macroF1.delta, "the same figures");
        const width = (d: { low: number; high: number }) => d.high - d.low;
        assert.ok(
            width(visits.macroF1) > 1.5 * width(frames.macroF1),
            `${width(visits.macroF1)} vs ${width(frames.macroF1)}`,
        );
    });

    it("acts on a visit by each model's own rule: its visit rule's window mean, else any frame at its threshold", () => {
        const boots = (scores: number[]) => scores.map((p) => [p, (1 - p) / 2, (1 - p) / 2]);
        const frames = ["a.jpg", "b.jpg", "c.jpg"];
        const evaluation = (scores: number[], visitRule?: { frames: number; threshold: number }) => ({
            accuracy: 0,
            classes: CLASSES,
            per_class: {},
            confusion_matrix: [],
            test: {
                accuracy: 0,
                macro_f1: 0,
                predictions: Object.fromEntries(frames.map((f, i) => [f, boots(scores)[i]])),
                labels: Object.fromEntries(frames.map((f) => [f, "Boots"])),
            },
            decision: {
                ...model("x", 3, 1).evaluation.decision!,
                threshold: 0.7,
                ...(visitRule ? { visit_rule: { kind: "window_mean" as const, ...visitRule } } : {}),
            },
            test_visits: [
                {
                    visit: "v",
                    class: "Boots",
                    frames,
                    acted_at: { visit: null, frame: null, firmware: null },
                    score: 0,
                },
            ],
        });
        // One strong frame among weak ones: the frame rule acts, a mean over two frames does not.
        const spike = [0.2, 0.8, 0.2];
        const c = compareModels(
            { jobName: "frame", evaluation: evaluation(spike) },
            { jobName: "visit", evaluation: evaluation(spike, { frames: 2, threshold: 0.6 }) },
        );
        assert.deepEqual([c.visitRecall.candidate, c.visitRecall.baseline], [1, 0]);
    });

    it("names what makes two jobs not comparable", () => {
        const current = model("new", 30, 10);
        const { test: _test, ...withoutTest } = current.evaluation;
        assert.match(
            notComparable(current, { jobName: "old", evaluation: withoutTest })!,
            /baseline old has no per-image test predictions/,
        );
        const otherClasses = { jobName: "other", evaluation: { ...current.evaluation, classes: ["Boots", "NoCat"] } };
        assert.match(
            notComparable(current, otherClasses)!,
            /^their class lists differ \(only the candidate has Chi\): the candidate new predicts Boots, Chi, NoCat, the baseline other Boots, NoCat$/,
        );
        const reordered = { jobName: "r", evaluation: { ...current.evaluation, classes: ["NoCat", "Chi", "Boots"] } };
        assert.match(
            notComparable(current, reordered)!,
            /^their class lists differ \(the same classes in another order\)/,
        );
        const disjoint = model("elsewhere", 3, 1);
        const renamed = {
            jobName: "x",
            evaluation: {
                ...disjoint.evaluation,
                test: { ...disjoint.evaluation.test!, predictions: { "z.jpg": [1, 0, 0] } },
            },
        };
        assert.match(notComparable(current, renamed)!, /share no image/);
        assert.equal(notComparable(current, model("old", 30, 5)), undefined);
    });
});
