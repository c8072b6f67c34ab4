import { DescribeTrainingJobResponse } from "@aws-sdk/client-sagemaker";
import * as tar from "tar";
import { CliContext } from "../context";
import { CliError } from "../errors";
import { seconds, table } from "../format";
import { TERMINAL_STATUSES, describeJob, jobName, parseS3Url } from "../jobs";
import { confusionTable, perClassTable } from "../report";
import { getObjectBytes } from "../s3json";

export interface StatusOptions {
    readonly watch?: boolean;
    /** Seconds between polls with --watch. */
    readonly interval: number;
}

interface TrainingEvaluation {
    readonly accuracy: number;
    readonly classes: string[];
    readonly per_class: Record<string, { precision: number; recall: number; f1: number; support: number }>;
    readonly confusion_matrix: number[][];
}

function time(value: Date | undefined): string {
    return value ? value.toISOString().replace(".000Z", "Z") : "-";
}

function describe(context: CliContext, job: DescribeTrainingJobResponse): void {
    context.out(`Job ${job.TrainingJobName}: ${job.TrainingJobStatus} (${job.SecondaryStatus})`);
    context.out(`  created ${time(job.CreationTime)}, started ${time(job.TrainingStartTime)}, ended ${time(job.TrainingEndTime)}`);
    const end = job.TrainingEndTime ?? new Date();
    const elapsed = job.TrainingStartTime ? (end.getTime() - job.TrainingStartTime.getTime()) / 1000 : undefined;
    const saving =
        job.EnableManagedSpotTraining && job.TrainingTimeInSeconds && job.BillableTimeInSeconds !== undefined
            ? `, spot saving ${Math.round(100 * (1 - job.BillableTimeInSeconds / job.TrainingTimeInSeconds))}%`
            : job.EnableManagedSpotTraining
              ? ", spot"
              : ", on demand";
    context.out(`  elapsed ${seconds(elapsed)}, training ${seconds(job.TrainingTimeInSeconds)}, billable ${seconds(job.BillableTimeInSeconds)}${saving}`);
    if (job.FailureReason) context.out(`  failure: ${job.FailureReason}`);
    if (job.FinalMetricDataList?.length) {
        context.out(table(["metric", "value"], job.FinalMetricDataList.map((m) => [m.MetricName ?? "", String(m.Value)])));
    }
}

/** The evaluation.json that train.py leaves in the job's output.tar.gz, beside model.tar.gz. */
async function trainingEvaluation(context: CliContext, job: DescribeTrainingJobResponse): Promise<TrainingEvaluation | undefined> {
    const model = job.ModelArtifacts?.S3ModelArtifacts;
    if (!model) throw new CliError(`Job ${job.TrainingJobName} reports no model artifact.`);
    const { bucket, key } = parseS3Url(model.replace(/model\.tar\.gz$/, "output.tar.gz"));
    const archive = await getObjectBytes(context.aws.s3, bucket, key, `s3://${bucket}/${key} was not found.`);
    let evaluation: TrainingEvaluation | undefined;
    await new Promise<void>((resolve, reject) => {
        const parser = new tar.Parser({
            onReadEntry: (entry) => {
                if (entry.path.replace(/^\.\//, "") !== "evaluation.json") return entry.resume();
                const chunks: Buffer[] = [];
                entry.on("data", (chunk: Buffer) => chunks.push(chunk));
                entry.on("end", () => (evaluation = JSON.parse(Buffer.concat(chunks).toString("utf8"))));
            },
        });
        parser.on("end", () => resolve());
        parser.on("error", reject);
        parser.end(Buffer.from(archive));
    });
    return evaluation;
}

export async function status(context: CliContext, job: string | undefined, options: StatusOptions): Promise<void> {
    const name = await jobName(context, job);
    let described = await describeJob(context, name);
    if (!options.watch) return describe(context, described);

    let shown = 0;
    for (;;) {
        const transitions = described.SecondaryStatusTransitions ?? [];
        for (const t of transitions.slice(shown)) context.out(`${time(t.StartTime)}  ${t.Status}: ${t.StatusMessage ?? ""}`);
        shown = transitions.length;
        if (TERMINAL_STATUSES.includes(described.TrainingJobStatus ?? "")) break;
        await new Promise((done) => setTimeout(done, options.interval * 1000));
        described = await describeJob(context, name);
    }
    describe(context, described);
    if (described.TrainingJobStatus !== "Completed") return;
    // The job itself succeeded: a missing or unreadable evaluation is reported, not fatal.
    const evaluation = await trainingEvaluation(context, described).catch((error: Error) => {
        context.out(`No per-class evaluation: ${error.message}`);
        return undefined;
    });
    if (evaluation) {
        context.out(`Validation accuracy ${(100 * evaluation.accuracy).toFixed(1)}%`);
        const perClass = Object.fromEntries(evaluation.classes.map((c) => [c, evaluation.per_class[c]]));
        context.out(perClassTable({ classes: evaluation.classes, perClass }));
        context.out(confusionTable({ classes: evaluation.classes, confusionMatrix: evaluation.confusion_matrix }));
    } else {
        context.out("No evaluation.json in the job's output.tar.gz.");
    }
    context.out(`Deploy it: npx bootboots deploy ${name}`);
}
