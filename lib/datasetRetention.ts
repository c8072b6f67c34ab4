/**
 * Which datasets may expire (docs/design.md §3): none that a serving, registered or newest model
 * was trained on, nor the latest. Objects under `datasets/` expire 90 days after they were
 * written only when they carry the tag below, which the job-events Lambda sets on the datasets
 * nothing uses any more (and takes off again when one is used once more).
 */

/** The tag that lets S3's lifecycle rule expire a dataset's objects. */
export const EXPIRE_TAG = { key: "bootboots:expire", value: "unused" } as const;

/** Days after an object was written that a tagged one expires. */
export const DATASET_EXPIRATION_DAYS = 90;

/** What a reader says of a dataset whose manifest is gone: why it went, in words. */
export function expiredDataset(id: string): string {
    return `dataset ${id} has expired (no model used it, so S3 removed it ${DATASET_EXPIRATION_DAYS} days after it was written)`;
}

/** A model package version's part in the decision: the dataset it was trained on, and whether a person rejected it. */
export interface RegisteredModel {
    readonly datasetId?: string;
    readonly approval?: string;
}

/** The datasets that must stay: those of the serving model, of every version not rejected, of the newest job, and the latest. */
export function datasetsInUse(args: {
    readonly registered: readonly RegisteredModel[];
    readonly serving?: string;
    readonly newest?: string;
    readonly latest?: string;
}): Set<string> {
    const kept = new Set<string>();
    for (const model of args.registered)
        if (model.datasetId && model.approval !== "Rejected") kept.add(model.datasetId);
    for (const id of [args.serving, args.newest, args.latest]) if (id) kept.add(id);
    return kept;
}

/** What to do with each dataset: tag the unused ones not tagged yet, untag the used ones that are. */
export function retentionPlan(
    datasets: readonly { readonly id: string; readonly tagged: boolean }[],
    inUse: ReadonlySet<string>,
): { readonly tag: string[]; readonly untag: string[] } {
    return {
        tag: datasets.filter((d) => !inUse.has(d.id) && !d.tagged).map((d) => d.id),
        untag: datasets.filter((d) => inUse.has(d.id) && d.tagged).map((d) => d.id),
    };
}
