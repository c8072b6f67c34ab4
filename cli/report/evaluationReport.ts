import { percent, table } from "../format";

export interface LabelledPrediction {
    readonly imageName: string;
    readonly trueClass: string;
    readonly predictedClass: string;
    readonly confidence: number;
    /** Whether the camera would act (the target class at or above the serving threshold), when a threshold is known. */
    readonly act?: boolean;
}

/** An image that could not be evaluated, and why. */
export interface FailedImage {
    readonly imageName: string;
    readonly error: string;
}

/** Recall and false-alarm rate of the decision on labelled images. */
export function decisionMetrics(
    decision: { target_class: string; threshold: number },
    predictions: readonly LabelledPrediction[],
) {
    const targets = predictions.filter((p) => p.trueClass === decision.target_class);
    const others = predictions.filter((p) => p.trueClass !== decision.target_class);
    const targetsActedOn = targets.filter((p) => p.act).length;
    const falseAlarms = others.filter((p) => p.act).length;
    return {
        targetClass: decision.target_class,
        threshold: decision.threshold,
        targets: targets.length,
        targetsActedOn,
        recall: targets.length ? targetsActedOn / targets.length : 0,
        others: others.length,
        falseAlarms,
        falseAlarmRate: others.length ? falseAlarms / others.length : 0,
    };
}

export interface EvaluationReport {
    readonly accuracy: number;
    readonly classes: readonly string[];
    readonly perClass: Record<string, { precision: number; recall: number; support: number }>;
    /** Rows are the true class, columns the predicted class, both in `classes` order. */
    readonly confusionMatrix: number[][];
    readonly wrong: readonly LabelledPrediction[];
    readonly images: number;
}

export function evaluationReport(
    classes: readonly string[],
    predictions: readonly LabelledPrediction[],
): EvaluationReport {
    const index = new Map(classes.map((c, i) => [c, i]));
    const matrix = classes.map(() => classes.map(() => 0));
    for (const p of predictions) matrix[index.get(p.trueClass)!][index.get(p.predictedClass)!] += 1;
    const perClass = Object.fromEntries(
        classes.map((c, i) => {
            const correct = matrix[i][i];
            const predicted = matrix.reduce((sum, row) => sum + row[i], 0);
            const support = matrix[i].reduce((a, b) => a + b, 0);
            return [
                c,
                { precision: predicted ? correct / predicted : 0, recall: support ? correct / support : 0, support },
            ];
        }),
    );
    const correct = classes.reduce((sum, _, i) => sum + matrix[i][i], 0);
    return {
        accuracy: predictions.length ? correct / predictions.length : 0,
        classes,
        perClass,
        confusionMatrix: matrix,
        wrong: predictions.filter((p) => p.trueClass !== p.predictedClass),
        images: predictions.length,
    };
}

export function perClassTable(report: Pick<EvaluationReport, "classes" | "perClass">): string {
    return table(
        ["class", "precision", "recall", "support"],
        report.classes.map((c) => [
            c,
            percent(report.perClass[c].precision),
            percent(report.perClass[c].recall),
            report.perClass[c].support,
        ]),
    );
}

export function confusionTable(report: Pick<EvaluationReport, "classes" | "confusionMatrix">): string {
    return table(
        ["true \\ predicted", ...report.classes],
        report.classes.map((c, i) => [c, ...report.confusionMatrix[i]]),
    );
}

export function reportMarkdown(report: EvaluationReport & { failed: readonly FailedImage[] }, title: string): string {
    const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
    const header = (cells: string[]) => [row(cells), row(cells.map(() => "---"))];
    return [
        `# ${title}`,
        "",
        `Accuracy: ${percent(report.accuracy)} on ${report.images} images.`,
        "",
        ...header(["class", "precision", "recall", "support"]),
        ...report.classes.map((c) =>
            row([
                c,
                percent(report.perClass[c].precision),
                percent(report.perClass[c].recall),
                report.perClass[c].support,
            ]),
        ),
        "",
        "Confusion matrix (rows: true class, columns: predicted):",
        "",
        ...header(["", ...report.classes]),
        ...report.classes.map((c, i) => row([c, ...report.confusionMatrix[i]])),
        "",
        `Wrong: ${report.wrong.length}`,
        "",
        ...(report.wrong.length ? header(["image", "true", "predicted", "confidence"]) : []),
        ...report.wrong.map((w) => row([w.imageName, w.trueClass, w.predictedClass, percent(w.confidence)])),
        "",
        `Failed (not evaluated): ${report.failed.length}`,
        "",
        ...(report.failed.length ? header(["image", "why"]) : []),
        ...report.failed.map((f) => row([f.imageName, f.error])),
        "",
    ].join("\n");
}
