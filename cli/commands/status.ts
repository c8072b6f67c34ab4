import { DescribeTrainingJobResponse } from "@aws-sdk/client-sagemaker";
import { CliContext } from "../context";
import { seconds, table } from "../format";
import { TERMINAL_STATUSES, describeJob, jobName, readJobOutput } from "../jobs";
import { confusionTable, perClassTable } from "../report";

export interface StatusOptions {
    readonly watch?: boolean;
    /** Seconds between polls with --watch. */
    readonly interval: number;
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
    const evaluation = await readJobOutput(context, described).then(
        (output) => output.evaluation ?? new Error("the job's output.tar.gz holds no evaluation.json"),
        (error: Error) => error,
    );
    if (evaluation instanceof Error) {
        context.out(`No per-class evaluation: ${evaluation.message}`);
    } else {
        context.out(`Validation accuracy ${(100 * evaluation.accuracy).toFixed(1)}%`);
        const perClass = Object.fromEntries(evaluation.classes.map((c) => [c, evaluation.per_class[c]]));
        context.out(perClassTable({ classes: evaluation.classes, perClass }));
        context.out(confusionTable({ classes: evaluation.classes, confusionMatrix: evaluation.confusion_matrix }));
        if (evaluation.test) {
            context.out(`Held-out test: accuracy ${(100 * evaluation.test.accuracy).toFixed(1)}%, macro-F1 ${evaluation.test.macro_f1.toFixed(3)}`);
        }
    }
    context.out(`Deploy it: npx bootboots deploy ${name}`);
}
