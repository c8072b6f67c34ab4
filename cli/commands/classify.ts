import { CliContext } from "../context";
import { Classification, classifyJpeg } from "../aws/endpoint";
import { CliError, EXIT, InputError } from "../errors";
import { readImageFile } from "../files";
import { percent } from "../format";
import { decide } from "../../lib/jobOutput";
import { servingDecision } from "../aws/jobs";

export interface ClassifyOptions {
    readonly threshold?: number;
    readonly json?: boolean;
}

type Answer =
    | ({ file: string } & Classification & { uncertain: boolean; decision?: ReturnType<typeof decide> })
    | { file: string; error: string };

/**
 * Classifies each file. A fault of one file (unreadable, not a JPEG, too large, refused by
 * the model) is named and the others still run; a fault that holds for every file
 * (credentials, region, endpoint) is said once and stops the command.
 */
export async function classify(context: CliContext, files: readonly string[], options: ClassifyOptions): Promise<void> {
    const endpointName = await context.stack.name("endpoint");
    const { classes, targetClass } = await context.stack.classes();
    const decision = await servingDecision(context);
    const answers: Answer[] = [];
    for (const file of files) {
        try {
            const bytes = await readImageFile(file);
            const result = await classifyJpeg(context.aws.runtime, endpointName, bytes, file, classes);
            answers.push({
                file,
                ...result,
                uncertain: options.threshold !== undefined && result.confidence < options.threshold,
                decision: typeof decision === "string" ? undefined : decide(decision, result.probabilities),
            });
        } catch (error) {
            if (!(error instanceof InputError)) throw error;
            answers.push({ file, error: error.message });
        }
    }
    if (options.json) {
        context.out(JSON.stringify(answers, null, 2));
    } else {
        if (typeof decision === "string") context.out(`No ${targetClass} decision: ${decision}.`);
        for (const a of answers) {
            if ("error" in a) {
                context.err(`error: ${a.error}`);
                continue;
            }
            const uncertain = a.uncertain ? ` (uncertain: below ${percent(options.threshold!)})` : "";
            const act = a.decision
                ? `; ${a.decision.targetClass} → ${a.decision.act ? "act" : "no action"} (${a.decision.probability.toFixed(3)} ${a.decision.act ? "≥" : "<"} threshold ${a.decision.threshold.toFixed(3)})`
                : "";
            context.out(`${a.file}: ${a.className} ${percent(a.confidence)}${uncertain}${act}`);
        }
    }
    const failed = answers.filter((a) => "error" in a).length;
    if (failed) throw new CliError(`${failed} of ${answers.length} files could not be classified.`, EXIT.partial);
}
