import { VISIT_RULES, VisitFigures, VisitRuleName } from "../lib/jobOutput";
import { countsInWords } from "../lib/visitPromise";
import { contract } from "../lib/contract";
import type { Decision, NearCopies } from "../lib/jobOutput";

/** A plain-text table with right-aligned numbers. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
    const cells = [headers, ...rows].map((row) => row.map(String));
    const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
    return cells
        .map((row) =>
            row
                .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

export function percent(fraction: number): string {
    return `${(100 * fraction).toFixed(1)}%`;
}

export function seconds(value: number | undefined): string {
    return value === undefined ? "-" : `${Math.round(value)} s`;
}

/** A figure with its counts and interval, e.g. `0.900 (45/50, 0.79–0.96)`; the figure alone for older jobs. */
function withInterval(value: number | null, counts?: [number, number], interval?: [number, number]): string {
    if (value === null) return "n/a";
    if (!counts || !interval) return value.toFixed(3);
    return `${value.toFixed(3)} (${counts[0]}/${counts[1]}, ${interval[0].toFixed(2)}–${interval[1].toFixed(2)})`;
}

/** The leak count in words, e.g. `3 of 118 test images have a near-copy in training (cosine similarity ≥ 0.95 …)`. */
export function nearCopyLine(leak: NearCopies): string {
    const verb = leak.with_near_copy === 1 ? "has" : "have";
    const closest = leak.closest[0];
    return (
        `${leak.with_near_copy} of ${leak.test_images} test images ${verb} a near-copy in training (${leak.measure} ≥ ${leak.min_similarity})` +
        (leak.with_near_copy > 0 && closest
            ? `; closest: ${closest.test} and ${closest.training} (${closest.similarity.toFixed(3)}).`
            : ".")
    );
}

/** The decision's figures on each side with their 95 % intervals, and a warning when the limit cannot be checked. */
export function decisionLines(decision: Decision): string[] {
    const side = (name: "validation" | "test") =>
        `${name}: recall ${withInterval(decision[`${name}_recall`], decision[`${name}_recall_counts`], decision[`${name}_recall_interval`])}, ` +
        `false-alarm rate ${withInterval(decision[`${name}_false_alarm_rate`], decision[`${name}_false_alarm_rate_counts`], decision[`${name}_false_alarm_rate_interval`])}`;
    const lines = [
        `${decision.target_class} at threshold ${decision.threshold.toFixed(3)} (false alarms at most ${decision.max_false_alarm_rate} on validation); ${side("validation")}; ${side("test")}` +
            (decision.interval_method ? ` (${decision.interval_method} intervals).` : "."),
    ];
    if (decision.limit_unresolved) lines.push(`Note: ${decision.limit_unresolved}.`);
    return lines;
}

/** The names of the three rules per visit, as a user reads them. */
export const VISIT_RULE_NAMES: Readonly<Record<VisitRuleName, string>> = {
    visit: "visit rule (the model's)",
    frame: "one frame at the per-frame threshold",
    firmware: `the firmware's (most likely, ≥ ${contract.decision.firmwareMinConfidence.toFixed(2)})`,
};

/** The three rules side by side on one side's visits: target visits acted on, other visits acted on, frames until it acted. */
export function visitRulesTable(figures: Readonly<Record<VisitRuleName, VisitFigures>>, targetClass: string): string {
    return table(
        ["rule", `${targetClass} visits acted on`, "other visits acted on", "frames to act (median)"],
        VISIT_RULES.map((rule) => [
            VISIT_RULE_NAMES[rule],
            countsInWords(figures[rule].recall_counts, figures[rule].recall_interval),
            countsInWords(figures[rule].false_alarm_counts, figures[rule].false_alarm_interval),
            figures[rule].median_frames_to_act ?? "never",
        ]),
    );
}
