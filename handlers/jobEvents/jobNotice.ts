import { JOB_TAGS, TRAINING_LOG_GROUP, TerminalJobStatus, hasEnded } from "../../lib/sagemakerJobs";
import type { CreateModelPackageInput } from "@aws-sdk/client-sagemaker";
import type { Decision, JobEvaluation } from "../../lib/jobOutput";
import { jobVisitPromise } from "../../lib/visitPromise";

/** A finished job, from a "SageMaker Training Job State Change" or "… Tuning Job State Change" event. */
export type FinishedJob =
    | {
          readonly kind: "training";
          readonly name: string;
          readonly status: TerminalJobStatus;
          readonly failureReason?: string;
          /** s3://…/training-output/<job>/output/model.tar.gz */
          readonly modelUrl?: string;
          /** The tuning job that launched it, if any: it then gets no message of its own. */
          readonly tuningJob?: string;
          readonly datasetId?: string;
      }
    | {
          readonly kind: "tuning";
          readonly name: string;
          readonly status: TerminalJobStatus;
          readonly failureReason?: string;
          readonly bestJob?: string;
      };

/** The fields of the two events' `detail` that are read (the rest is DescribeTrainingJob's answer). */
interface EventDetail {
    readonly TrainingJobName?: string;
    readonly TrainingJobStatus?: FinishedJob["status"];
    readonly HyperParameterTuningJobName?: string;
    readonly HyperParameterTuningJobStatus?: FinishedJob["status"];
    readonly FailureReason?: string;
    readonly ModelArtifacts?: { readonly S3ModelArtifacts?: string };
    readonly TuningJobArn?: string;
    readonly BestTrainingJob?: { readonly TrainingJobName?: string };
    readonly Tags?: Readonly<Record<string, string>>;
}

/** The finished job an EventBridge event names, or undefined for any other event (or a job still running). */
export function parseJobEvent(event: unknown): FinishedJob | undefined {
    const e = event as { "detail-type"?: string; detail?: EventDetail } | null;
    const d = e?.detail;
    if (!d) return undefined;
    const training = e["detail-type"] === "SageMaker Training Job State Change";
    const tuning = e["detail-type"] === "SageMaker HyperParameter Tuning Job State Change";
    const status = training ? d.TrainingJobStatus : tuning ? d.HyperParameterTuningJobStatus : undefined;
    if (!hasEnded(status)) return undefined;
    const ended = { status, failureReason: d.FailureReason };
    if (tuning)
        return {
            kind: "tuning",
            name: String(d.HyperParameterTuningJobName),
            ...ended,
            bestJob: d.BestTrainingJob?.TrainingJobName,
        };
    return {
        kind: "training",
        name: String(d.TrainingJobName),
        ...ended,
        modelUrl: d.ModelArtifacts?.S3ModelArtifacts,
        tuningJob: typeof d.TuningJobArn === "string" ? d.TuningJobArn.split("/").pop() : undefined,
        datasetId: d.Tags?.[JOB_TAGS.datasetId],
    };
}

/** What a user can do about a failed or stopped job, from its FailureReason. */
export function failureAdvice(status: string, reason: string | undefined): string {
    const text = reason ?? "";
    if (/ResourceLimitExceeded|quota/i.test(text))
        return "Train on demand (npx bootboots train --no-spot), or ask AWS to raise the instance quota named above.";
    if (/MaxWaitTimeExceeded|MaxRuntimeExceeded/.test(text) || (status === "Stopped" && !text))
        return 'If it ran out of time, give it more (the trigger\'s {"maxRuntimeSeconds": …}, or tune --max-runtime) or fewer epochs; if someone stopped it, start it again with npx bootboots train.';
    if (/has no (decodable )?images|Invalid hyperparameters/.test(text))
        return "Fix what the reason names (label images of that class, or correct the hyperparameter), then npx bootboots train.";
    return `See npx bootboots status <job> and the job's log (aws logs tail ${TRAINING_LOG_GROUP} --log-stream-name-prefix <job>), then train again.`;
}

/** A job's figures, as the message and the registry carry them. */
export interface JobFigures {
    readonly testMacroF1?: number;
    readonly decision?: Decision;
    /** The promise per visit, in words (lib/visitPromise.ts), for jobs since visits. */
    readonly visits?: string[];
}

export function figuresOf(evaluation: JobEvaluation | undefined, decision: Decision | undefined): JobFigures {
    return {
        testMacroF1: evaluation?.test?.macro_f1,
        decision: decision ?? evaluation?.decision,
        visits: jobVisitPromise(evaluation),
    };
}

const figure = (x: number | null | undefined) => (typeof x === "number" ? x.toFixed(3) : "n/a");

/** The message's lines of figures: the promise per visit, test macro-F1, and the target's recall and false alarms per frame. */
export function figureLines(figures: JobFigures): string[] {
    const d = figures.decision;
    return [
        // The promise per visit leads: it is what a user lives.
        ...(figures.visits ?? []),
        `Test macro-F1: ${figure(figures.testMacroF1)}.`,
        d
            ? `${d.target_class} at threshold ${figure(d.threshold)}: recall ${figure(d.test_recall)}, false-alarm rate ${figure(d.test_false_alarm_rate)} on the test set.`
            : "No decision threshold (the job wrote no decision.json).",
    ];
}

/** One message per finished job: a subject (SNS allows 100 characters) and a body. */
export interface Notice {
    readonly subject: string;
    readonly body: string;
}

/** A message about a model ready to deploy: what finished, its figures, the verdict, and the command. */
function readyNotice(subject: string, headline: string, figures: JobFigures, verdict: string, deploy: string): Notice {
    return {
        subject: subject.slice(0, 100),
        body: [headline, ...figureLines(figures), verdict, `To deploy it: ${deploy}`].join("\n"),
    };
}

export function completedNotice(job: string, figures: JobFigures, verdict: string, deployCommand: string): Notice {
    return readyNotice(
        `BootBoots: ${job} completed`,
        `Training job ${job} completed.`,
        figures,
        verdict,
        deployCommand,
    );
}

export function failedNotice(
    job: string,
    status: string,
    reason: string | undefined,
    what: "Training" | "Tuning",
): Notice {
    return {
        subject: `BootBoots: ${job} ${status.toLowerCase()}`.slice(0, 100),
        body: [
            `${what} job ${job} ${status.toLowerCase()}${reason ? `: ${reason}` : "."}`,
            failureAdvice(status, reason).replaceAll("<job>", job),
        ].join("\n"),
    };
}

export function tuningNotice(
    tuningJob: string,
    bestJob: string,
    figures: JobFigures,
    verdict: string,
    deployCommand: string,
): Notice {
    const headline = `Tuning job ${tuningJob} completed; its best training job is ${bestJob}.`;
    return readyNotice(`BootBoots: tuning job ${tuningJob} completed`, headline, figures, verdict, deployCommand);
}

/** The new version of the job's model in the stack's model package group, awaiting a person's approval. */
export function modelPackageRequest(args: {
    readonly group: string;
    readonly job: string;
    readonly datasetId?: string;
    readonly modelUrl: string;
    readonly evaluationUrl: string;
    readonly inferenceImage: string;
    readonly figures: JobFigures;
    readonly verdict: string;
}): CreateModelPackageInput {
    const d = args.figures.decision;
    const metadata: Record<string, string> = {
        trainingJob: args.job,
        datasetId: args.datasetId ?? "unknown",
        testMacroF1: figure(args.figures.testMacroF1),
        targetClass: d?.target_class ?? "n/a",
        targetRecall: figure(d?.test_recall),
        falseAlarmRate: figure(d?.test_false_alarm_rate),
        threshold: figure(d?.threshold),
        // The API caps each value at 256 characters.
        verdict: args.verdict.slice(0, 256),
    };
    return {
        ModelPackageGroupName: args.group,
        ModelPackageDescription: `${args.job}: test macro-F1 ${figure(args.figures.testMacroF1)}`.slice(0, 1024),
        InferenceSpecification: {
            Containers: [{ Image: args.inferenceImage, ModelDataUrl: args.modelUrl }],
            SupportedContentTypes: ["application/json"],
            SupportedResponseMIMETypes: ["application/json"],
        },
        ModelMetrics: { ModelQuality: { Statistics: { ContentType: "application/json", S3Uri: args.evaluationUrl } } },
        CustomerMetadataProperties: metadata,
        ModelApprovalStatus: "PendingManualApproval",
    };
}
