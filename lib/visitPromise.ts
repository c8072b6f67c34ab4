import type { JobEvaluation, VisitFigures } from "./jobOutput";

/** A share as a user reads it: one decimal under 10 %, whole percents above. */
export function percent(share: number): string {
    const value = share * 100;
    return `${value < 10 && value > 0 ? value.toFixed(1) : Math.round(value)} %`;
}

/** "1 of 212 (0.5 %, 95 % 0.1–2.6 %)": counts, the share and its Wilson interval. */
export function countsInWords(counts: readonly [number, number], interval: readonly [number, number]): string {
    const [hits, of] = counts;
    if (of === 0) return "none to count";
    return `${hits} of ${of} (${percent(hits / of)}, 95 % ${percent(interval[0]).replace(" %", "")}–${percent(interval[1])})`;
}

/** The frames until a rule acted, as a user reads it. */
function frames(median: number | null): string {
    if (median === null) return "";
    return `, after ${median} frame${median === 1 ? "" : "s"} (median)`;
}

/**
 * The deterrent's promise per visit, in the words a user holds (docs/design.md §6): how many of
 * the other visits (their own cats, or no cat) and of the target's visits the model's visit
 * rule acted on in the test set. Undefined for a job trained before visits.
 */
export function visitPromise(figures: VisitFigures, targetClass: string): string[] {
    return [
        `Visits of your own cats or of no cat misted: ${countsInWords(figures.false_alarm_counts, figures.false_alarm_interval)}.`,
        `${targetClass}'s visits misted: ${countsInWords(figures.recall_counts, figures.recall_interval)}${frames(figures.median_frames_to_act)}.`,
    ];
}

/** A job's promise on its test visits, or undefined when it has no per-visit figures. */
export function jobVisitPromise(evaluation: JobEvaluation | undefined): string[] | undefined {
    const figures = evaluation?.visits?.test?.visit;
    if (!figures) return undefined;
    return visitPromise(figures, evaluation.decision?.target_class ?? "the target");
}
