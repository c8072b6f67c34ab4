import type { S3Client } from "@aws-sdk/client-s3";
import { TRAINING_OUTPUT_PREFIX } from "../../lib/layout";
import { getJsonIfAny, putJsonObject } from "../../lib/s3Objects";

/** Who handles a job's event: the invocation that claimed it, when, and whether it finished. */
export interface JobClaim {
    readonly requestId: string;
    readonly claimedAt: string;
    readonly done?: boolean;
}

/**
 * How long a claim holds before another delivery may take the job over: longer than the
 * function's two minutes and Lambda's retries of it (which keep the request id, so they go on).
 */
export const CLAIM_LEASE_MS = 15 * 60_000;

const claimKey = (job: string) => `${TRAINING_OUTPUT_PREFIX}${job}/job-events.json`;

/**
 * Claims a job for this invocation with a conditional write, so that two deliveries of one
 * event (EventBridge delivers at least once) do not register or notify twice: the first
 * claims it; a retry of the same invocation, or a delivery after the claim finished or
 * lapsed, goes on; any other is turned away, naming the holder.
 */
export async function claimJob(
    s3: S3Client,
    bucket: string,
    job: string,
    requestId: string,
    now: Date,
): Promise<{ claimed: true } | { claimed: false; by: string }> {
    const mine: JobClaim = { requestId, claimedAt: now.toISOString() };
    if (await putJsonObject(s3, bucket, claimKey(job), mine, true)) return { claimed: true };
    const held = await getJsonIfAny<JobClaim>(s3, bucket, claimKey(job));
    const lapsed = !held || now.getTime() - Date.parse(held.claimedAt) > CLAIM_LEASE_MS;
    if (held && held.requestId !== requestId && !held.done && !lapsed) return { claimed: false, by: held.requestId };
    await putJsonObject(s3, bucket, claimKey(job), mine);
    return { claimed: true };
}

/** Marks the claim finished: a later delivery goes on, and finds every step done. */
export async function finishClaim(
    s3: S3Client,
    bucket: string,
    job: string,
    requestId: string,
    now: Date,
): Promise<void> {
    const done: JobClaim = { requestId, claimedAt: now.toISOString(), done: true };
    await putJsonObject(s3, bucket, claimKey(job), done);
}
