import { FAILED_EVENT_DAYS, LambdaFailureRecord } from "../../lib/failedEvents";

/** What the payload of a failed invocation was, in words: the job event, the check, the keep-warm request. */
export function describePayload(payload: unknown): string {
    const event = (payload ?? {}) as {
        "detail-type"?: string;
        time?: string;
        keepWarm?: boolean;
        detail?: Record<string, unknown>;
    };
    const detail = event.detail ?? {};
    if (event.keepWarm === true) return "a keep-warm request to the endpoint";
    if (event["detail-type"] === "SageMaker Training Job State Change")
        return `the ${String(detail.TrainingJobStatus)} event of training job ${String(detail.TrainingJobName)}`;
    if (event["detail-type"] === "SageMaker HyperParameter Tuning Job State Change")
        return `the ${String(detail.HyperParameterTuningJobStatus)} event of tuning job ${String(detail.HyperParameterTuningJobName)}`;
    if (event["detail-type"] === "Scheduled Event") return `the retraining check scheduled for ${event.time}`;
    return event["detail-type"] ? `an event of type ${event["detail-type"]}` : "an event";
}

/** The function's name in an ARN (`…:function:<name>:$LATEST`). */
const functionName = (arn: string | undefined) =>
    arn?.split(":function:")[1]?.split(":")[0] ?? "a function of the stack";

/** The one message about an event no retry could process: which function, what event, why, and where it is kept. */
export function failedEventNotice(record: LambdaFailureRecord, queueUrl: string): { subject: string; body: string } {
    const fn = functionName(record.requestContext?.functionArn);
    const what = describePayload(record.requestPayload);
    const attempts = record.requestContext?.approximateInvokeCount ?? 3;
    const error = record.responsePayload?.errorMessage ?? "(no error message)";
    const why =
        record.requestContext?.condition === "EventAgeExceeded"
            ? "it waited too long to run"
            : `${attempts} attempts failed`;
    return {
        subject: `BootBoots: ${fn} could not process ${what}`.slice(0, 100),
        body: [
            `${fn} could not process ${what}: ${why}. The last error: ${error}`,
            `The event is kept ${FAILED_EVENT_DAYS} days in the queue ${queueUrl} (npx bootboots status counts what is there); ` +
                `to see it: aws sqs receive-message --queue-url ${queueUrl}. Fix the cause, then send it again (aws lambda invoke --invocation-type Event) or repeat what it was for.`,
        ].join("\n"),
    };
}
