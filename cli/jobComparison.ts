import { Comparison, ComparedModel, Decision, Delta, compareModels, notComparable, signed } from "../lib/comparison";
import { jobVisitPromise } from "../lib/visitPromise";
import { CliContext } from "./context";
import { CliError } from "./errors";
import { table } from "./format";
import { describeJob, jobName, readJobOutput, servingJobName } from "./aws/jobs";

/** The outcome of comparing a candidate with a baseline, for compare and the deploy gate. */
export type CompareOutcome =
    | {
          readonly kind: "compared";
          readonly comparison: Comparison;
          /** Each model's decision, with its intervals where the job wrote them. */
          readonly decisions: { readonly candidate?: Decision; readonly baseline?: Decision };
          /** Each model's promise per visit in words (lib/visitPromise.ts), for jobs since visits. */
          readonly promises: { readonly candidate?: string[]; readonly baseline?: string[] };
      }
    | {
          readonly kind: "not comparable";
          readonly candidate: string;
          readonly baseline: string;
          readonly reason: string;
      }
    | { readonly kind: "nothing serving"; readonly candidate: string }
    | { readonly kind: "serving already"; readonly candidate: string };

async function comparedModel(context: CliContext, name: string): Promise<ComparedModel> {
    const job = await describeJob(context, name);
    if (job.TrainingJobStatus !== "Completed") {
        throw new CliError(`Job ${name} is ${job.TrainingJobStatus}: only a completed job can be compared.`);
    }
    const { evaluation, decision } = await readJobOutput(context, job);
    if (!evaluation) throw new CliError(`Job ${name} left no evaluation.json in its output.tar.gz.`);
    return { jobName: name, evaluation: { ...evaluation, decision } };
}

/** Compares the candidate (default: the newest completed job) with the baseline (default: the model serving now). */
export async function compareJobs(
    context: CliContext,
    candidateName?: string,
    baselineName?: string,
): Promise<CompareOutcome> {
    const candidate = await jobName(context, candidateName, true);
    const baseline = baselineName ?? (await servingJobName(context))?.jobName;
    if (!baseline) return { kind: "nothing serving", candidate };
    if (baseline === candidate) return { kind: "serving already", candidate };
    const [a, b] = await Promise.all([comparedModel(context, candidate), comparedModel(context, baseline)]);
    const reason = notComparable(a, b);
    if (reason) return { kind: "not comparable", candidate, baseline, reason };
    return {
        kind: "compared",
        comparison: compareModels(a, b),
        decisions: { candidate: a.evaluation.decision, baseline: b.evaluation.decision },
        promises: { candidate: jobVisitPromise(a.evaluation), baseline: jobVisitPromise(b.evaluation) },
    };
}

function row(name: string, d: Delta): (string | number)[] {
    return [
        name,
        d.candidate.toFixed(3),
        d.baseline.toFixed(3),
        signed(d.delta),
        `${signed(d.low)} to ${signed(d.high)}`,
        d.significant ? "yes" : "no",
    ];
}

/** The comparison as a table: per-class F1, macro-F1, and the target class's decision figures. */
export function comparisonTable(c: Comparison): string {
    return [
        `Candidate ${c.candidate} against baseline ${c.baseline}, on the ${c.commonImages} test images (${c.commonVisits} visits) common to both (the candidate's labels).`,
        `Each delta has a 95% paired bootstrap interval (${c.resamples} resamples of those visits, each with all its frames); "significant" means it excludes 0.`,
        table(
            ["", "candidate", "baseline", "delta", "95% interval", "significant"],
            [
                ...c.classes.map((name) => row(`F1 ${name}`, c.perClassF1[name])),
                row("macro-F1", c.macroF1),
                row(`${c.targetClass} recall`, c.targetRecall),
                row(`${c.targetClass} false-alarm rate`, c.falseAlarmRate),
                row(`${c.targetClass} visits acted on`, c.visitRecall),
                row("other visits acted on", c.visitFalseAlarmRate),
            ],
        ),
        `${c.targetClass} thresholds: candidate ${c.thresholds.candidate.toFixed(3)}, baseline ${c.thresholds.baseline.toFixed(3)} (each model's own).`,
    ].join("\n");
}
