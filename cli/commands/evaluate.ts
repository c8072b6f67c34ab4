import * as fs from "fs";
import * as path from "path";
import { CliContext } from "../context";
import { readManifest } from "../aws/datasets";
import { scoreS3Images } from "../aws/endpoint";
import { percent, table } from "../format";
import {
    FailedImage,
    LabelledPrediction,
    confusionTable,
    evaluationReport,
    perClassTable,
    reportMarkdown,
} from "../report/evaluationReport";
import { CliError, EXIT } from "../errors";
import { decide } from "../../lib/jobOutput";
import { servingDecision } from "../aws/jobs";
import { decisionMetrics } from "../report/evaluationReport";

export interface EvaluateOptions {
    readonly dataset?: string;
    /** Which images of the dataset: the held-out test set (default) or validation. */
    readonly split: "test" | "validation";
    readonly concurrency: number;
    readonly out?: string;
    readonly json?: boolean;
}

/** Runs the dataset's test (or validation) images through the deployed endpoint and reports per class and for the decision. */
export async function evaluate(context: CliContext, options: EvaluateOptions): Promise<void> {
    const endpointName = await context.stack.name("endpoint");
    const bucket = await context.stack.name("trainingBucket");
    const manifest = await readManifest(context, options.dataset);
    const images = manifest.images.filter((i) => i.split === options.split);
    if (images.length === 0) {
        throw new CliError(
            `Dataset ${manifest.datasetId} has no ${options.split} images${options.split === "test" ? " (it was built before the test split): use --split validation, or prepare a new dataset" : ""}.`,
        );
    }
    const decision = await servingDecision(context);
    // An image the endpoint refuses is counted as failed and the run goes on; a fault of the endpoint or the account stops it.
    const { results: predictions, failed: refused } = await scoreS3Images(
        context,
        { endpointName, bucket, classes: manifest.classes, concurrency: options.concurrency, verb: "evaluating" },
        images,
        (image) => ({
            key: image.key,
            label: image.imageName,
            missing: `s3://${bucket}/${image.key} is missing from dataset ${manifest.datasetId}.`,
        }),
        (image, result): LabelledPrediction => ({
            imageName: image.imageName,
            trueClass: image.class,
            predictedClass: result.className,
            confidence: result.confidence,
            act: typeof decision === "string" ? undefined : decide(decision, result.probabilities).act,
        }),
    );
    const failed: FailedImage[] = refused.map((f) => ({ imageName: f.item.imageName, error: f.error }));
    const report = { ...evaluationReport(manifest.classes, predictions), failed };
    const decisionReport = typeof decision === "string" ? undefined : decisionMetrics(decision, predictions);
    const document = {
        datasetId: manifest.datasetId,
        endpointName,
        split: options.split,
        ...report,
        decision: decisionReport ?? null,
    };
    if (options.json) {
        context.out(JSON.stringify(document, null, 2));
    } else {
        context.out(
            `Dataset ${manifest.datasetId}, endpoint ${endpointName}: accuracy ${percent(report.accuracy)} on ${report.images} ${options.split} images`,
        );
        context.out(perClassTable(report));
        context.out("Confusion matrix (rows: true class, columns: predicted):");
        context.out(confusionTable(report));
        context.out(`Wrong: ${report.wrong.length}`);
        if (report.wrong.length) {
            context.out(
                table(
                    ["image", "true", "predicted", "confidence"],
                    report.wrong.map((w) => [w.imageName, w.trueClass, w.predictedClass, percent(w.confidence)]),
                ),
            );
        }
        context.out(`Failed (not evaluated): ${failed.length}`);
        if (failed.length)
            context.out(
                table(
                    ["image", "why"],
                    failed.map((f) => [f.imageName, f.error]),
                ),
            );
        if (decisionReport) {
            context.out(
                `${decisionReport.targetClass} → act at threshold ${decisionReport.threshold.toFixed(3)}: recall ${percent(decisionReport.recall)} ` +
                    `(${decisionReport.targetsActedOn} of ${decisionReport.targets}), false-alarm rate ${percent(decisionReport.falseAlarmRate)} ` +
                    `(${decisionReport.falseAlarms} of ${decisionReport.others} other images)`,
            );
        } else {
            context.out(`No decision metrics: ${decision}.`);
        }
    }
    if (options.out) {
        fs.mkdirSync(options.out, { recursive: true });
        fs.writeFileSync(path.join(options.out, "evaluation.json"), JSON.stringify(document, null, 2));
        fs.writeFileSync(
            path.join(options.out, "evaluation.md"),
            reportMarkdown(report, `Evaluation of ${endpointName} on dataset ${manifest.datasetId}`),
        );
        context.err(`Wrote ${path.join(options.out, "evaluation.json")} and evaluation.md`);
    }
    if (failed.length) {
        throw new CliError(
            `${failed.length} of ${images.length} images could not be evaluated (listed above); the figures cover the other ${predictions.length}.`,
            EXIT.partial,
        );
    }
}
