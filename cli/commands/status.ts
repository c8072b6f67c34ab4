import type { JobEvaluation } from "../../lib/jobOutput";
import { awsErrorName } from "../../lib/errors";
import type { FilteredLogEvent } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeHyperParameterTuningJobResponse, DescribeTrainingJobResponse } from "@aws-sdk/client-sagemaker";
import { TRAINING_JOB_NAME_PATTERN, TUNING_JOB_NAME_PATTERN } from "../../lib/triggerEvent";
import { describeRetrainCheck } from "../../lib/retrain";
import { CliContext } from "../context";
import { failedEvents, failedEventsLine, lastRetrainCheck, registeredVersion, registryLine } from "../aws/registry";
import { NotFoundError, explainAwsError } from "../errors";
import { seconds, table, decisionLines, nearCopyLine, visitRulesTable } from "../format";
import { jobVisitPromise } from "../../lib/visitPromise";
import { describeJob, describeTuningJob, jobName, readJobOutput } from "../aws/jobs";
import { sleep } from "../../lib/backoff";
import { EPOCH_LINE } from "../../lib/contract";
import { TRAINING_LOG_GROUP, hasEnded } from "../../lib/sagemakerJobs";
import { confusionTable, perClassTable } from "../report/evaluationReport";

export interface StatusOptions {
    readonly watch?: boolean;
    readonly json?: boolean;
    /** Seconds between polls with --watch. */
    readonly interval: number;
}

/** How long status waits for a job that `train --async` announced: the trigger's own time limit. */
const APPEAR_TIMEOUT_SECONDS = 900;

function time(value: Date | undefined): string {
    return value ? value.toISOString().replace(".000Z", "Z") : "-";
}

function clock(totalSeconds: number): string {
    const s = Math.max(0, Math.round(totalSeconds));
    const parts = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
    return (parts[0] ? parts : parts.slice(1))
        .map((n, i) => (i === 0 ? String(n) : String(n).padStart(2, "0")))
        .join(":");
}

function summary(job: DescribeTrainingJobResponse) {
    return {
        trainingJobName: job.TrainingJobName,
        status: job.TrainingJobStatus,
        secondaryStatus: job.SecondaryStatus,
        createdAt: job.CreationTime?.toISOString(),
        startedAt: job.TrainingStartTime?.toISOString(),
        endedAt: job.TrainingEndTime?.toISOString(),
        trainingSeconds: job.TrainingTimeInSeconds,
        billableSeconds: job.BillableTimeInSeconds,
        spot: job.EnableManagedSpotTraining,
        failureReason: job.FailureReason,
        modelDataUrl: job.ModelArtifacts?.S3ModelArtifacts,
        metrics: Object.fromEntries((job.FinalMetricDataList ?? []).map((m) => [m.MetricName, m.Value])),
    };
}

function describe(context: CliContext, job: DescribeTrainingJobResponse): void {
    context.out(`Job ${job.TrainingJobName}: ${job.TrainingJobStatus} (${job.SecondaryStatus})`);
    context.out(
        `  created ${time(job.CreationTime)}, started ${time(job.TrainingStartTime)}, ended ${time(job.TrainingEndTime)}`,
    );
    const end = job.TrainingEndTime ?? new Date();
    const elapsed = job.TrainingStartTime ? (end.getTime() - job.TrainingStartTime.getTime()) / 1000 : undefined;
    const saving =
        job.EnableManagedSpotTraining && job.TrainingTimeInSeconds && job.BillableTimeInSeconds !== undefined
            ? `, spot saving ${Math.round(100 * (1 - job.BillableTimeInSeconds / job.TrainingTimeInSeconds))}%`
            : job.EnableManagedSpotTraining
              ? ", spot"
              : ", on demand";
    context.out(
        `  elapsed ${seconds(elapsed)}, training ${seconds(job.TrainingTimeInSeconds)}, billable ${seconds(job.BillableTimeInSeconds)}${saving}`,
    );
    if (job.FailureReason) context.out(`  failure: ${job.FailureReason}`);
    if (job.FinalMetricDataList?.length) {
        context.out(
            table(
                ["metric", "value"],
                job.FinalMetricDataList.map((m) => [m.MetricName ?? "", String(m.Value)]),
            ),
        );
    }
}

/** The job, waiting for one that `train --async` announced and the trigger has not started yet. */
async function describeOrWait(
    context: CliContext,
    name: string,
    interval: number,
): Promise<DescribeTrainingJobResponse> {
    const deadline = Date.now() + APPEAR_TIMEOUT_SECONDS * 1000;
    let announced = false;
    for (;;) {
        try {
            return await describeJob(context, name);
        } catch (error) {
            if (!(error instanceof NotFoundError) || !TRAINING_JOB_NAME_PATTERN.test(name) || Date.now() > deadline)
                throw error;
        }
        if (!announced) context.err(`Waiting for job ${name} to appear: the trigger starts it once data prep is done.`);
        announced = true;
        await sleep(interval * 1000);
    }
}

/** Reads the job's epoch lines from its CloudWatch log streams as they arrive. */
class EpochFeed {
    private seen = new Set<string>();
    private since = 0;

    constructor(
        private readonly context: CliContext,
        private readonly job: string,
    ) {}

    async next(): Promise<{ epoch: number; phase: string; figures: Record<string, string> }[]> {
        const { FilterLogEventsCommand } = await import("@aws-sdk/client-cloudwatch-logs");
        const events: FilteredLogEvent[] = [];
        let nextToken: string | undefined;
        try {
            do {
                const page = await this.context.aws.logs.send(
                    new FilterLogEventsCommand({
                        logGroupName: TRAINING_LOG_GROUP,
                        logStreamNamePrefix: `${this.job}/`,
                        startTime: this.since,
                        nextToken,
                    }),
                );
                events.push(...(page.events ?? []));
                nextToken = page.nextToken;
            } while (nextToken);
        } catch (error) {
            // No log group or stream yet: the instance has not started writing.
            if (awsErrorName(error) === "ResourceNotFoundException") return [];
            throw explainAwsError(error, `reading the log of job ${this.job}`);
        }
        const epochs = [];
        for (const event of events.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0))) {
            if (!event.eventId || this.seen.has(event.eventId)) continue;
            this.seen.add(event.eventId);
            this.since = Math.max(this.since, event.timestamp ?? 0);
            const match = EPOCH_LINE.exec((event.message ?? "").trim());
            if (!match) continue;
            const figures = Object.fromEntries(match[3].split(" ").map((pair) => pair.split("=") as [string, string]));
            epochs.push({ epoch: Number(match[1]), phase: match[2], figures });
        }
        return epochs;
    }
}

/** Follows the job to its end: status transitions, elapsed time and the latest epoch's figures. */
async function follow(
    context: CliContext,
    name: string,
    first: DescribeTrainingJobResponse,
    options: StatusOptions,
): Promise<DescribeTrainingJobResponse> {
    const feed = new EpochFeed(context, name);
    const totalEpochs = first.HyperParameters?.epochs ?? "?";
    let described = first;
    let shownTransitions = 0;
    let latest = "";
    const elapsed = () =>
        clock((Date.now() - (described.TrainingStartTime ?? described.CreationTime ?? new Date()).getTime()) / 1000);
    for (;;) {
        const transitions = described.SecondaryStatusTransitions ?? [];
        for (const t of transitions.slice(shownTransitions))
            context.out(`${time(t.StartTime)}  ${t.Status}: ${t.StatusMessage ?? ""}`);
        shownTransitions = transitions.length;
        for (const e of await feed.next()) {
            const figures = Object.entries(e.figures)
                .map(([k, v]) => `${k} ${Number(v).toFixed(4)}`)
                .join("  ");
            latest = `epoch ${e.epoch}/${totalEpochs} (${e.phase})  ${figures}`;
            // Piped output keeps every epoch; a terminal shows the newest in place.
            if (!context.interactive) context.out(`elapsed ${elapsed()}  ${latest}`);
        }
        if (context.interactive)
            context.progress(`elapsed ${elapsed()}  ${described.SecondaryStatus}${latest ? `  ${latest}` : ""}`);
        if (hasEnded(described.TrainingJobStatus)) break;
        await sleep(options.interval * 1000);
        described = await describeJob(context, name);
    }
    context.progress(undefined);
    return described;
}

function tuningSummary(job: DescribeHyperParameterTuningJobResponse) {
    const counts = job.TrainingJobStatusCounters ?? {};
    const best = job.BestTrainingJob;
    return {
        tuningJobName: job.HyperParameterTuningJobName,
        status: job.HyperParameterTuningJobStatus,
        maxJobs: job.HyperParameterTuningJobConfig?.ResourceLimits?.MaxNumberOfTrainingJobs,
        completed: counts.Completed ?? 0,
        running: counts.InProgress ?? 0,
        stoppedEarly: counts.Stopped ?? 0,
        failed: (counts.NonRetryableError ?? 0) + (counts.RetryableError ?? 0),
        objective: job.HyperParameterTuningJobConfig?.HyperParameterTuningJobObjective?.MetricName,
        best: best
            ? {
                  trainingJobName: best.TrainingJobName,
                  value: best.FinalHyperParameterTuningJobObjectiveMetric?.Value,
                  hyperParameters: best.TunedHyperParameters,
              }
            : null,
        failureReason: job.FailureReason,
    };
}

function tuningLine(summary: ReturnType<typeof tuningSummary>): string {
    const best = summary.best
        ? `best ${summary.objective} ${summary.best.value?.toFixed(4)} (${summary.best.trainingJobName})`
        : "no completed job yet";
    return `${summary.status}: ${summary.completed} completed, ${summary.running} running, ${summary.stoppedEarly} stopped early, ${summary.failed} failed of up to ${summary.maxJobs}; ${best}`;
}

/** A tuning job: its training jobs by state and the best objective so far; --watch follows it to the end. */
async function tuningStatus(context: CliContext, name: string, options: StatusOptions): Promise<void> {
    let summary = tuningSummary(await describeTuningJob(context, name));
    if (options.watch) {
        let shown = "";
        for (;;) {
            const line = tuningLine(summary);
            if (!options.json && line !== shown) context.out(line);
            shown = line;
            if (!["InProgress", "Stopping"].includes(summary.status ?? "")) break;
            await sleep(options.interval * 1000);
            summary = tuningSummary(await describeTuningJob(context, name));
        }
    }
    if (options.json) return context.out(JSON.stringify(summary, null, 2));
    if (!options.watch) context.out(`Tuning job ${name}: ${tuningLine(summary)}`);
    if (summary.failureReason) context.out(`  failure: ${summary.failureReason}`);
    if (summary.best?.hyperParameters) {
        context.out(
            `  best hyperparameters: ${Object.entries(summary.best.hyperParameters)
                .map(([k, v]) => `${k}=${v}`)
                .join(" ")}`,
        );
    }
    if (summary.best) context.out(`Deploy the best: npx bootboots deploy ${name}`);
}

/** A completed job's promise per visit, then the three rules side by side on the test visits (jobs since visits). */
function visitLines(evaluation: JobEvaluation | undefined): string[] {
    const perVisit = evaluation?.visits?.test;
    if (!perVisit) return [];
    return [...jobVisitPromise(evaluation)!, visitRulesTable(perVisit, evaluation.decision?.target_class ?? "target")];
}

export async function status(context: CliContext, job: string | undefined, options: StatusOptions): Promise<void> {
    if (job && TUNING_JOB_NAME_PATTERN.test(job)) return tuningStatus(context, job, options);
    const name = await jobName(context, job);
    let described = await describeOrWait(context, name, options.interval);
    if (!options.watch) {
        // Only a completed job has a version in the registry.
        const completed = described.TrainingJobStatus === "Completed";
        const [version, check, failed, evaluation] = await Promise.all([
            completed ? registeredVersion(context, name) : undefined,
            lastRetrainCheck(context),
            failedEvents(context),
            completed
                ? readJobOutput(context, described).then(
                      (o) => o.evaluation,
                      () => undefined,
                  )
                : undefined,
        ]);
        if (options.json)
            return context.out(
                JSON.stringify(
                    {
                        ...summary(described),
                        modelRegistry: version ?? null,
                        retrainCheck: check ?? null,
                        failedEvents: failed ?? null,
                        visits: evaluation?.visits?.test ?? null,
                    },
                    null,
                    2,
                ),
            );
        describe(context, described);
        for (const line of visitLines(evaluation)) context.out(line);
        if (completed) context.out(registryLine(version));
        if (check) context.out(`Scheduled retraining, last check: ${describeRetrainCheck(check)}`);
        if (failed) context.out(failedEventsLine(failed));
        return;
    }
    described = options.json
        ? await waitQuietly(context, name, described, options)
        : await follow(context, name, described, options);
    const evaluation =
        described.TrainingJobStatus !== "Completed"
            ? undefined
            : await readJobOutput(context, described).then(
                  (output) => output.evaluation ?? new Error("the job's output.tar.gz holds no evaluation.json"),
                  (error: Error) => error,
              );
    if (options.json) {
        return context.out(
            JSON.stringify(
                { ...summary(described), evaluation: evaluation instanceof Error ? null : (evaluation ?? null) },
                null,
                2,
            ),
        );
    }
    describe(context, described);
    if (evaluation === undefined) return;
    // The job itself succeeded: a missing or unreadable evaluation is reported, not fatal.
    if (evaluation instanceof Error) {
        context.out(`No per-class evaluation: ${evaluation.message}`);
    } else {
        for (const line of visitLines(evaluation)) context.out(line);
        context.out(`Validation accuracy ${(100 * evaluation.accuracy).toFixed(1)}%`);
        const perClass = Object.fromEntries(evaluation.classes.map((c) => [c, evaluation.per_class[c]]));
        context.out(perClassTable({ classes: evaluation.classes, perClass }));
        context.out(confusionTable({ classes: evaluation.classes, confusionMatrix: evaluation.confusion_matrix }));
        if (evaluation.test) {
            context.out(
                `Held-out test: accuracy ${(100 * evaluation.test.accuracy).toFixed(1)}%, macro-F1 ${evaluation.test.macro_f1.toFixed(3)}`,
            );
        }
        if (evaluation.decision) for (const line of decisionLines(evaluation.decision)) context.out(line);
        if (evaluation.near_copies) context.out(nearCopyLine(evaluation.near_copies));
    }
    context.out(registryLine(await registeredVersion(context, name)));
    context.out(`Deploy it: npx bootboots deploy ${name}`);
}

/** --watch --json: no progress lines, only the end. */
async function waitQuietly(
    context: CliContext,
    name: string,
    described: DescribeTrainingJobResponse,
    options: StatusOptions,
) {
    while (!hasEnded(described.TrainingJobStatus)) {
        await sleep(options.interval * 1000);
        described = await describeJob(context, name);
    }
    return described;
}
