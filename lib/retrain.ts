import type { StackSettings } from "./stackSettings";

/** What the scheduled retraining check wrote last (`retrain/last-check.json`), for `bootboots status`. */
export interface RetrainCheck {
    readonly checkedAt: string;
    /**
     * "started": the trigger started a job (its name and dataset below); "failed": the trigger
     * refused or could not be reached (the reason); "waiting": too few new labels, or a job is
     * still running (the reason).
     */
    readonly action: "started" | "waiting" | "failed";
    /** Labels (rows with a class) that are not in the dataset counted against, or labelled otherwise since. */
    readonly newLabels: number;
    readonly minNewLabels: number;
    /** The dataset the labels were counted against: the newest of the serving model's and the last started job's; null when neither (every label counts). */
    readonly countedAgainst: string | null;
    /** The request id the check sent the trigger, from the schedule's event time: a retry is the same request. */
    readonly requestId?: string;
    /** The job it started, and the dataset that job trains on. */
    readonly trainingJobName?: string;
    readonly datasetId?: string;
    /** Why it started nothing, or why the start failed, in one sentence. */
    readonly reason?: string;
    /** When a dataset it needed has expired: which, and what it counted against instead, in one sentence. */
    readonly note?: string;
    /** The last job any check started, carried from record to record: its dataset is counted against. */
    readonly lastStarted?: { readonly trainingJobName: string; readonly datasetId: string; readonly at: string };
}

/** The check in one line. */
export function describeRetrainCheck(check: RetrainCheck): string {
    const against = check.countedAgainst ? `not in dataset ${check.countedAgainst}` : "(no dataset trained on yet)";
    const counted = `${check.newLabels} new labels ${against}, ${check.minNewLabels} needed`;
    const note = check.note ? ` Note: ${check.note}.` : "";
    if (check.action === "started")
        return `${check.checkedAt}: ${counted}: started ${check.trainingJobName} on dataset ${check.datasetId} (request ${check.requestId}).${note}`;
    if (check.action === "failed") return `${check.checkedAt}: ${counted}: the start failed: ${check.reason}${note}`;
    return `${check.checkedAt}: ${counted}: nothing started${check.reason ? ` (${check.reason})` : ""}.${note}`;
}

/** The trigger's request id for a scheduled check: the schedule's event time names it, so Lambda's retry sends the same. */
export function retrainRequestId(eventTime: string): string {
    return `retrain-${eventTime.replace(/[^0-9A-Za-z]/g, "")}`;
}

/** The model package group every completed job's model is registered in. */
export const MODEL_PACKAGE_GROUP = "bootboots";

/** After every job: who is told, and whether retraining starts by itself (lib/stackSettings.ts). */
export type AfterJobSettings = Pick<StackSettings, "notificationEmail" | "retrainSchedule" | "retrainMinNewLabels">;
