import * as fs from "fs";
import * as path from "path";
import { ListTrainingJobsCommand } from "@aws-sdk/client-sagemaker";
import type { DescribeTrainingJobResponse } from "@aws-sdk/client-sagemaker";
import { DatasetManifest, manifestFileName } from "../../lib/dataset";
import type { EvaluatedVisit, JobEvaluation } from "../../lib/jobOutput";
import { TRAINING_JOB_NAME_PREFIX } from "../../lib/layout";
import { openInBrowser } from "../browser";
import { CliContext } from "../context";
import { jobDataset } from "../aws/datasets";
import { expiredDataset } from "../../lib/datasetRetention";
import { CliError, NotFoundError, explainAwsError } from "../errors";
import { JobPoint, JobReport, MAX_WRONG_SHOWN, TargetScore, WrongImage, jobReportHtml } from "../report/jobReport";
import { describeJob, jobName, readJobOutput } from "../aws/jobs";
import { getObjectBytes } from "../aws/s3json";

export interface ReportOptions {
    /** Where to write the file (default `bootboots-report-<job>.html` here). */
    readonly out?: string;
    /** Open it in the browser (default: when one is available). */
    readonly open: boolean;
    /** Completed jobs in the history chart, the report's own included. */
    readonly jobs: number;
    readonly json?: boolean;
}

/** A test evaluation with what a report draws (jobs since per-class test figures). */
type TestEvaluation = Required<Pick<NonNullable<JobEvaluation["test"]>, "classes" | "per_class" | "confusion_matrix">> &
    NonNullable<JobEvaluation["test"]>;

/** The job's test evaluation, or why there is none to report. */
async function testEvaluationOf(
    context: CliContext,
    described: DescribeTrainingJobResponse,
): Promise<{ evaluation: JobEvaluation; test: TestEvaluation }> {
    const name = described.TrainingJobName!;
    if (described.TrainingJobStatus !== "Completed")
        throw new CliError(
            `Job ${name} is ${described.TrainingJobStatus}: a report needs a completed job (npx bootboots status ${name} --watch).`,
        );
    const { evaluation } = await readJobOutput(context, described);
    const test = evaluation?.test;
    if (!evaluation || !test?.confusion_matrix || !test.per_class)
        throw new CliError(
            `Job ${name} has no held-out test evaluation (it was trained before the test split): train a new job, then report on it.`,
        );
    return {
        evaluation,
        test: {
            ...test,
            classes: test.classes ?? evaluation.classes,
            per_class: test.per_class,
            confusion_matrix: test.confusion_matrix,
        },
    };
}

/** The newest completed jobs (the report's own among them), oldest first, each with its test F1 and training counts. */
async function history(
    context: CliContext,
    own: { name: string; created: Date; point?: JobPoint },
    count: number,
): Promise<{ points: JobPoint[]; leftOut: number }> {
    let summaries;
    try {
        summaries = (
            await context.aws.sagemaker.send(
                new ListTrainingJobsCommand({
                    NameContains: TRAINING_JOB_NAME_PREFIX,
                    StatusEquals: "Completed",
                    SortBy: "CreationTime",
                    SortOrder: "Descending",
                    CreationTimeBefore: new Date(own.created.getTime() + 1000),
                    MaxResults: count,
                }),
            )
        ).TrainingJobSummaries;
    } catch (error) {
        throw explainAwsError(error, "listing training jobs");
    }
    const others = (summaries ?? []).filter((s) => s.TrainingJobName !== own.name).slice(0, count - 1);
    // A job without a test evaluation or a dataset has no point to draw: it is left out, and counted.
    const points = await Promise.all(
        others.map(async (summary): Promise<JobPoint | undefined> => {
            const described = await describeJob(context, summary.TrainingJobName!);
            const test = await testEvaluationOf(context, described).then(
                (found) => found.test,
                (error) => {
                    if (error instanceof CliError) return undefined;
                    throw error;
                },
            );
            const { manifest } = test ? await jobDataset(context, described) : {};
            return test && manifest ? jobPoint(summary.TrainingJobName!, test, manifest) : undefined;
        }),
    );
    const leftOut = points.filter((p) => p === undefined).length;
    const drawn = points.filter((p): p is JobPoint => p !== undefined).reverse();
    return { points: own.point ? [...drawn, own.point] : drawn, leftOut };
}

function jobPoint(job: string, test: TestEvaluation, manifest: DatasetManifest): JobPoint {
    return {
        job,
        f1: Object.fromEntries(Object.entries(test.per_class).map(([c, figures]) => [c, figures.f1])),
        trainingImages: Object.fromEntries(
            Object.entries(manifest.classDistribution ?? {}).map(([c, counts]) => [c, counts.training]),
        ),
    };
}

/** The test images the model got wrong, most confident mistake first, with top-3; the first MAX_WRONG_SHOWN with their bytes. */
async function wrongImages(
    context: CliContext,
    test: TestEvaluation,
    manifest: DatasetManifest | undefined,
): Promise<{ shown: WrongImage[]; total: number }> {
    const classes = test.classes;
    const wrong = Object.entries(test.predictions)
        .map(([name, probabilities]) => {
            const best = probabilities.indexOf(Math.max(...probabilities));
            return {
                name,
                label: test.labels[name],
                guess: classes[best],
                confidence: probabilities[best],
                probabilities,
            };
        })
        .filter((p) => p.guess !== p.label)
        .sort((a, b) => b.confidence - a.confidence || (a.name < b.name ? -1 : 1));
    const keyOf = new Map(
        (manifest?.images ?? [])
            .filter((image) => image.split === "test")
            .map((image) => [manifestFileName(image), image.key]),
    );
    const bucket = await context.stack.name("trainingBucket");
    const shown = await Promise.all(
        wrong.slice(0, MAX_WRONG_SHOWN).map(async (w): Promise<WrongImage> => {
            const top3 = w.probabilities
                .map((probability, i) => ({ className: classes[i], probability }))
                .sort((a, b) => b.probability - a.probability)
                .slice(0, 3);
            const key = keyOf.get(w.name);
            const jpeg = key
                ? await getObjectBytes(context.aws.s3, bucket, key, "").catch((error) => {
                      if (error instanceof NotFoundError) return undefined;
                      throw error;
                  })
                : undefined;
            return { name: w.name, label: w.label, top3, jpeg };
        }),
    );
    return { shown, total: wrong.length };
}

/** Each image's target-class probability and whether it is of the target class. */
function targetScores(
    predictions: Record<string, number[]>,
    labels: Record<string, string>,
    target: string | undefined,
    targetIndex: number,
): TargetScore[] {
    return Object.entries(predictions).map(([file, probabilities]) => ({
        probability: targetIndex >= 0 ? probabilities[targetIndex] : 0,
        isTarget: labels[file] === target,
    }));
}

/** The job's figures per visit and each visit's score, for the per-visit section; undefined before visits. */
function visitsOf(evaluation: JobEvaluation, target: string | undefined): JobReport["visits"] {
    const rule = evaluation.decision?.visit_rule;
    if (!evaluation.visits || !rule) return undefined;
    const scores = (visits: readonly EvaluatedVisit[] | undefined) =>
        (visits ?? []).map((v) => ({ probability: v.score, isTarget: v.class === target }));
    return {
        figures: evaluation.visits,
        rule,
        scores: { validation: scores(evaluation.validation_visits), test: scores(evaluation.test_visits) },
    };
}

/** Writes one self-contained HTML report of a completed job and opens it where a browser is available. */
export async function report(context: CliContext, given: string | undefined, options: ReportOptions): Promise<void> {
    const name = await jobName(context, given, true);
    const described = await describeJob(context, name);
    const { evaluation, test } = await testEvaluationOf(context, described);
    const { datasetId, manifest } = await jobDataset(context, described);
    const [{ points, leftOut }, wrong] = await Promise.all([
        history(
            context,
            {
                name,
                created: described.CreationTime ?? new Date(),
                point: manifest ? jobPoint(name, test, manifest) : undefined,
            },
            options.jobs,
        ),
        wrongImages(context, test, manifest),
    ]);
    const target = evaluation.decision?.target_class;
    const targetIndex = target ? test.classes.indexOf(target) : -1;
    const html = jobReportHtml({
        job: name,
        datasetId,
        classes: test.classes,
        confusionMatrix: test.confusion_matrix,
        perClass: test.per_class,
        intervalMethod: test.interval_method,
        accuracy: test.accuracy,
        macroF1: test.macro_f1,
        decision: evaluation.decision,
        targetScores: {
            test: targetScores(test.predictions, test.labels, target, targetIndex),
            validation:
                evaluation.validation_predictions && evaluation.validation_labels
                    ? targetScores(evaluation.validation_predictions, evaluation.validation_labels, target, targetIndex)
                    : undefined,
        },
        nearCopies: evaluation.near_copies,
        visits: visitsOf(evaluation, target),
        history: points,
        wrong: wrong.shown,
        wrongTotal: wrong.total,
        generatedAt: new Date().toISOString(),
    });
    const file = path.resolve(options.out ?? `bootboots-report-${name}.html`);
    try {
        fs.writeFileSync(file, html);
    } catch (error) {
        throw new CliError(`Could not write ${file} (${(error as Error).message}): pass --out with a writable path.`);
    }
    const summary = {
        file,
        bytes: Buffer.byteLength(html),
        job: name,
        datasetId: datasetId ?? null,
        mistakesShown: wrong.shown.length,
        mistakes: wrong.total,
        jobsInHistory: points.length,
        jobsLeftOut: leftOut,
    };
    if (options.open && context.interactive) openInBrowser(file);
    if (options.json) return context.out(JSON.stringify(summary, null, 2));
    const notes = [
        `${wrong.shown.length} of ${wrong.total} mistakes shown`,
        `${points.length} job(s) in the history`,
        ...(leftOut ? [`${leftOut} left out without a test evaluation or dataset`] : []),
        ...(manifest
            ? []
            : [
                  `${datasetId ? expiredDataset(datasetId) : "the job names no dataset"}, so no pictures or training counts`,
              ]),
    ];
    context.out(`Report: ${file} (${Math.round(summary.bytes / 1024)} KB; ${notes.join("; ")}).`);
}
