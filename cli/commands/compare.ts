import { CliContext } from "../context";
import { CliError } from "../errors";
import { decisionLines } from "../format";
import { verdict } from "../../lib/comparison";
import { compareJobs, comparisonTable } from "../jobComparison";

export interface CompareOptions {
    readonly json?: boolean;
}

export async function compare(
    context: CliContext,
    candidate: string | undefined,
    baseline: string | undefined,
    options: CompareOptions,
): Promise<void> {
    const outcome = await compareJobs(context, candidate, baseline);
    if (options.json) {
        context.out(
            JSON.stringify(
                outcome.kind === "compared" ? { kind: outcome.kind, ...outcome.comparison } : outcome,
                null,
                2,
            ),
        );
    } else if (outcome.kind === "nothing serving") {
        context.out(
            `No model is serving yet, so there is nothing to compare ${outcome.candidate} with: name a baseline job, or deploy one.`,
        );
    } else if (outcome.kind === "serving already") {
        context.out(`${outcome.candidate} is the model serving now: name another job to compare it with.`);
    } else if (outcome.kind === "compared") {
        // Each job's promise per visit leads: it is what a user lives.
        for (const [role, lines] of Object.entries(outcome.promises))
            if (lines) for (const line of lines) context.out(`${role}: ${line}`);
        context.out(comparisonTable(outcome.comparison));
        for (const [role, decision] of Object.entries(outcome.decisions))
            if (decision) for (const line of decisionLines(decision)) context.out(`${role}: ${line}`);
        context.out(verdict(outcome.comparison).sentence);
    }
    if (outcome.kind === "not comparable") {
        throw new CliError(`${outcome.candidate} and ${outcome.baseline} are not comparable: ${outcome.reason}.`);
    }
}
