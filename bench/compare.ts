// How long `bootboots compare` takes to score two models on 1,000 common test images,
// 2,000 paired bootstrap resamples included (the S3 reads are not counted).
//   npm run bench:compare
import { ComparedModel, compareModels } from "../lib/comparison";
import { contract } from "../lib/contract";

const IMAGES = 1000;
const classes = [...contract.classes];

function model(jobName: string, accuracy: number, seed: number): ComparedModel {
    let state = seed;
    const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const predictions: Record<string, number[]> = {};
    const labels: Record<string, string> = {};
    for (let i = 0; i < IMAGES; i++) {
        const truth = i % classes.length;
        const guess = next() < accuracy ? truth : Math.floor(next() * classes.length);
        const row = classes.map(() => next() * 0.1);
        row[guess] += 1;
        const sum = row.reduce((a, b) => a + b, 0);
        predictions[`image-${i}.jpg`] = row.map((p) => p / sum);
        labels[`image-${i}.jpg`] = classes[truth];
    }
    const decision = {
        target_class: "Boots",
        threshold: 0.5,
        max_false_alarm_rate: 0.01,
        validation_recall: 0,
        validation_false_alarm_rate: 0,
        test_recall: 0,
        test_false_alarm_rate: 0,
    };
    return {
        jobName,
        evaluation: {
            accuracy,
            classes,
            per_class: {},
            confusion_matrix: [],
            test: { accuracy, macro_f1: 0, predictions, labels },
            decision,
        },
    };
}

const candidate = model("candidate", 0.85, 1);
const baseline = model("baseline", 0.8, 2);
const started = process.hrtime.bigint();
const comparison = compareModels(candidate, baseline);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
console.log(
    `compare: ${comparison.commonImages} common test images, ${comparison.resamples} resamples, ${ms.toFixed(0)} ms; macro-F1 delta ${comparison.macroF1.delta.toFixed(3)} [${comparison.macroF1.low.toFixed(3)}, ${comparison.macroF1.high.toFixed(3)}]`,
);
