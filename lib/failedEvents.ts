/**
 * What becomes of an event no retry could process (docs/design.md §12): Lambda hands the
 * failure record of an asynchronous invocation to the default event bus (its on-failure
 * destination); a rule there keeps the record in the stack's queue and hands it to the
 * failed-events function, which sends the jobs topic one message naming what was not processed.
 */

/** Days the queue keeps a failed event: SQS's longest. */
export const FAILED_EVENT_DAYS = 14;

/** The detail-type of the record Lambda sends an EventBridge destination when retries are exhausted. */
export const LAMBDA_FAILURE_DETAIL_TYPE = "Lambda Function Invocation Result - Failure";

/** The default event bus of an account and region: Lambda's on-failure destination for the stack's functions. */
export function defaultEventBusArn(region: string, accountId: string): string {
    return `arn:aws:events:${region}:${accountId}:event-bus/default`;
}

/** The invocation record Lambda sends a destination (the EventBridge event's `detail`). */
export interface LambdaFailureRecord {
    readonly version?: string;
    readonly timestamp?: string;
    readonly requestContext?: {
        readonly requestId?: string;
        /** `<function ARN>:$LATEST` */
        readonly functionArn?: string;
        /** "RetriesExhausted" or "EventAgeExceeded". */
        readonly condition?: string;
        readonly approximateInvokeCount?: number;
    };
    readonly requestPayload?: unknown;
    readonly responsePayload?: { readonly errorMessage?: string; readonly errorType?: string } | null;
}
