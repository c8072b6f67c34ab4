import { ManifestImage, manifestFileName } from "../../lib/dataset";
import type { JobEvaluation } from "../../lib/jobOutput";
import { REVIEW_QUEUE_KEY } from "../../lib/layout";
import { CliContext } from "../context";
import { jobDataset } from "../aws/datasets";
import { expiredDataset } from "../../lib/datasetRetention";
import { endpointCost, scoreS3Images } from "../aws/endpoint";
import { CliError } from "../errors";
import { table } from "../format";
import { describeJob, jobName, readJobOutput } from "../aws/jobs";
import { LabelledAnswer, ReviewQueue, ReviewSource, suspectLabels } from "../labelling/review";
import { putObjectJson } from "../aws/s3json";

export interface ReviewOptions {
    /** A guess at least this likely, against the label, makes it suspect. */
    readonly minConfidence: number;
    /** Also score this many training images through the endpoint (after saying what it costs). */
    readonly scoreTraining?: number;
    readonly concurrency: number;
    /** Rows printed. */
    readonly top: number;
    readonly json?: boolean;
}

/** The job's held-out answers (validation and test), each matched to its catadata row through the dataset. */
function heldOutAnswers(evaluation: JobEvaluation, byFile: ReadonlyMap<string, ManifestImage>): LabelledAnswer[] {
    const sides: [ReviewSource, Record<string, number[]> | undefined, Record<string, string> | undefined][] = [
        ["validation", evaluation.validation_predictions, evaluation.validation_labels],
        ["test", evaluation.test?.predictions, evaluation.test?.labels],
    ];
    return sides.flatMap(([source, predictions, labels]) =>
        Object.entries(predictions ?? {}).flatMap(([name, probabilities]) => {
            const image = byFile.get(name);
            const label = labels?.[name];
            return image && label
                ? [{ key: image.sourceKey, rowName: image.imageName, label, probabilities, source }]
                : [];
        }),
    );
}

/** Training images of the dataset through the endpoint: what the model serving now says of them. */
async function trainingAnswers(
    context: CliContext,
    images: readonly ManifestImage[],
    classes: readonly string[],
    options: ReviewOptions,
): Promise<{ answers: LabelledAnswer[]; failed: { key: string; error: string }[] }> {
    const endpointName = await context.stack.name("endpoint");
    const bucket = await context.stack.name("trainingBucket");
    context.err(
        `Scoring ${images.length} training images (--score-training ${options.scoreTraining}): ${endpointCost(images.length, endpointName)}.`,
    );
    const { results, failed } = await scoreS3Images(
        context,
        { endpointName, bucket, classes, concurrency: options.concurrency, verb: "scoring" },
        images,
        (image) => ({ key: image.key, label: image.key, missing: `s3://${bucket}/${image.key} is gone.` }),
        (image, result) => ({
            key: image.sourceKey,
            rowName: image.imageName,
            label: image.class,
            probabilities: classes.map((c) => result.probabilities[c]),
            source: "training" as const,
        }),
    );
    return { answers: results, failed: failed.map((f) => ({ key: f.item.key, error: f.error })) };
}

/** Ranks the labelled images the newest job confidently disagrees with, and writes the review queue. */
/** The job's dataset and its manifest, or one sentence saying why its images cannot be found. */
async function reviewedDataset(context: CliContext, name: string, described: Awaited<ReturnType<typeof describeJob>>) {
    const { datasetId, manifest } = await jobDataset(context, described);
    if (!datasetId)
        throw new CliError(`Job ${name} names no dataset in its training channel, so its images cannot be found.`);
    if (!manifest)
        throw new CliError(
            `Job ${name}'s ${expiredDataset(datasetId)}, so its images cannot be found: review a newer job.`,
        );
    return { datasetId, manifest };
}

/** The review queue's summary and its first suspects, as a table. */
function printQueue(
    context: CliContext,
    queue: ReviewQueue,
    answersRead: number,
    trainingBucket: string,
    options: ReviewOptions,
): void {
    const items = queue.items;
    context.out(
        `${items.length} of ${answersRead} labelled images look mislabelled to ${queue.trainingJob} (its guess at least ${options.minConfidence} likely, and not the label); ` +
            `review queue written to s3://${trainingBucket}/${REVIEW_QUEUE_KEY}${items.length ? `; the first ${Math.min(options.top, items.length)}:` : "."}`,
    );
    if (items.length)
        context.out(
            table(
                ["image", "label", "model says", "from"],
                items
                    .slice(0, options.top)
                    .map((i) => [i.key, i.label, `${i.guess} ${(100 * i.confidence).toFixed(0)}%`, i.source]),
            ),
        );
}

export async function review(context: CliContext, given: string | undefined, options: ReviewOptions): Promise<void> {
    const name = await jobName(context, given, true);
    const described = await describeJob(context, name);
    if (described.TrainingJobStatus !== "Completed")
        throw new CliError(`Job ${name} is ${described.TrainingJobStatus}: review needs a completed job's answers.`);
    const { evaluation } = await readJobOutput(context, described);
    if (!evaluation?.validation_predictions && !evaluation?.test?.predictions)
        throw new CliError(
            `Job ${name} stored no per-image answers (it was trained before them): train a new job, then review.`,
        );
    const { datasetId, manifest } = await reviewedDataset(context, name, described);
    const byFile = new Map(manifest.images.map((image) => [manifestFileName(image), image]));
    const answers = heldOutAnswers(evaluation, byFile);
    let failed: { key: string; error: string }[] = [];
    if (options.scoreTraining) {
        const training = manifest.images.filter((image) => image.split === "training").slice(0, options.scoreTraining);
        const scored = await trainingAnswers(context, training, evaluation.classes, options);
        answers.push(...scored.answers);
        failed = scored.failed;
    }
    const [imagesBucket, imagesPrefix, catadataTable, trainingBucket] = await Promise.all([
        context.stack.name("imagesBucket"),
        context.stack.name("imagesPrefix"),
        context.stack.name("catadataTable"),
        context.stack.name("trainingBucket"),
    ]);
    const queue: ReviewQueue = {
        version: 1,
        createdAt: new Date().toISOString(),
        trainingJob: name,
        datasetId,
        imagesBucket,
        imagesPrefix,
        catadataTable,
        classes: evaluation.classes,
        items: suspectLabels(answers, evaluation.classes, options.minConfidence),
    };
    await putObjectJson(context.aws.s3, trainingBucket, REVIEW_QUEUE_KEY, queue);
    if (options.json)
        return context.out(JSON.stringify({ ...queue, answersRead: answers.length, skipped: failed }, null, 2));
    printQueue(context, queue, answers.length, trainingBucket, options);
    for (const f of failed) context.err(`skipped ${f.key}: ${f.error}`);
    context.out(queue.items.length ? "Next: npx bootboots label --review" : "Next: npx bootboots suggest");
}
