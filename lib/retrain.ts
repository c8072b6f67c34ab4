import type { StackSettings } from "./stackSettings";

/** What the scheduled retraining check wrote last (`retrain/last-check.json`), for `bootboots status`. */
export interface RetrainCheck {
    readonly checkedAt: string;
    /** Labels (rows with a class) that are not in the serving model's dataset, or relabelled since. */
    readonly newLabels: number;
    readonly minNewLabels: number;
    /** The dataset they were counted against, or null when no model serves (every label counts). */
    readonly servingDataset: string | null;
    /** "started": the trigger was invoked; "waiting": too few new labels. */
    readonly action: "started" | "waiting";
    /** The trigger invocation's request id, which names the job (when started). */
    readonly requestId?: string;
}

/** The check in one line. */
export function describeRetrainCheck(check: RetrainCheck): string {
    const against = check.servingDataset ? `not in dataset ${check.servingDataset}` : "(no model serving)";
    return check.action === "started"
        ? `${check.checkedAt}: ${check.newLabels} new labels ${against}, at least ${check.minNewLabels} needed: a job was started (request ${check.requestId}).`
        : `${check.checkedAt}: ${check.newLabels} new labels ${against}, ${check.minNewLabels} needed: nothing started.`;
}

/** The model package group every completed job's model is registered in. */
export const MODEL_PACKAGE_GROUP = "bootboots";

/** After every job: who is told, and whether retraining starts by itself (lib/stackSettings.ts). */
export type AfterJobSettings = Pick<StackSettings, "notificationEmail" | "retrainSchedule" | "retrainMinNewLabels">;
