import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { classify } from "./commands/classify";
import { compare } from "./commands/compare";
import { deploy } from "./commands/deploy";
import { evaluate } from "./commands/evaluate";
import { status } from "./commands/status";
import { train } from "./commands/train";
import { AwsClients, CliContext } from "./context";
import { CliError } from "./errors";
import { STACK_NAMES, StackOptions, StackResolver } from "./stack";
import { FieldRule, integerField, numberField, parseFieldText } from "../lib/eventFields";
import { TRIGGER_EVENT_DEFAULTS, TRIGGER_EVENT_RULES } from "../lib/triggerEvent";

export interface CliIO {
    readonly out: (text: string) => void;
    readonly err: (text: string) => void;
}

/** A commander option parser from a field rule: the trigger's own rules for its payload fields. */
function parser<T = number>(rule: FieldRule) {
    return (text: string): T => {
        const parsed = parseFieldText(rule, text);
        if ("error" in parsed) throw new InvalidArgumentError(parsed.error);
        return parsed.value as T;
    };
}

function examples(...lines: string[]): string {
    return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

function buildProgram(io: CliIO, run: (action: (context: CliContext) => Promise<void>, command: Command) => Promise<void>): Command {
    const program = new Command("bootboots")
        .description("Train, watch, deploy and use the BootBoots cat classifier, using the names from `pulumi stack output`.")
        .option("--stack <name>", "the Pulumi stack to read outputs from (default: the selected stack)")
        .exitOverride()
        .configureOutput({ writeOut: io.out, writeErr: io.err })
        .showHelpAfterError();
    for (const [key, source] of Object.entries(STACK_NAMES)) {
        program.addOption(new Option(`${source.flag} <name>`, `${key}, instead of the stack output ${source.output}`).hideHelp());
    }
    program.addHelpText(
        "after",
        `\nEach name comes from a flag, else its environment variable, else \`pulumi stack output\`:\n${Object.values(STACK_NAMES)
            .map((s) => `  ${s.flag.padEnd(22)} ${s.env.padEnd(30)} ${s.output}`)
            .join("\n")}\n`,
    );

    program
        .command("train")
        .description("prepare a dataset and start a SageMaker training job (waits for data prep)")
        .option("--epochs <n>", `training epochs (default ${TRIGGER_EVENT_DEFAULTS.epochs})`, parser(TRIGGER_EVENT_RULES.epochs))
        .option("--learning-rate <x>", `fine-tuning learning rate (default ${TRIGGER_EVENT_DEFAULTS.learningRate})`, parser(TRIGGER_EVENT_RULES.learningRate))
        .option("--batch-size <n>", `images per batch (default ${TRIGGER_EVENT_DEFAULTS.batchSize})`, parser(TRIGGER_EVENT_RULES.batchSize))
        .option("--train-only-top-layer", "train only the classifier head")
        .option("--no-spot", "on-demand instead of managed spot")
        .option("--skip-data-prep", "train on the latest dataset instead of preparing a new one")
        .option("--dataset <id>", "train on this dataset (implies --skip-data-prep)", parser<string>(TRIGGER_EVENT_RULES.datasetId))
        .option("--async", "return at once; follow with bootboots status --watch")
        .option("--dry-run", "only count the images data prep would use, and list what it skips")
        .addHelpText("after", examples("npx bootboots train", "npx bootboots train --epochs 100 --learning-rate 0.00005", "npx bootboots train --dry-run", "npx bootboots train --skip-data-prep --no-spot --async"))
        .action((options, command) => run((context) => train(context, options), command));

    program
        .command("status [job]")
        .description("show a training job (default: the newest); --watch follows it to the end")
        .option("--watch", "follow progress until the job ends, then show its per-class evaluation")
        .option("--interval <seconds>", "seconds between checks with --watch", parser(integerField(1, 3600)), 30)
        .addHelpText("after", examples("npx bootboots status", "npx bootboots status bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --watch"))
        .action((job, options, command) => run((context) => status(context, job, options), command));

    program
        .command("compare [candidate] [baseline]")
        .description("compare two jobs' models on their common held-out test images (default: the newest completed job against the model serving now)")
        .option("--json", "print JSON for scripts")
        .addHelpText(
            "after",
            examples("npx bootboots compare", "npx bootboots compare bootboots-4f2a9c0d1e2b3a4f5e6d7c8b bootboots-0b1c2d3e4f5a6b7c8d9e0f1a --json"),
        )
        .action((candidate, baseline, options, command) => run((context) => compare(context, candidate, baseline, options), command));

    program
        .command("deploy [job]")
        .description("point the stack's endpoint at a completed job's model and run pulumi up, unless it is significantly worse than the serving model")
        .option("--no-up", "only set modelDataUrl; print the pulumi up command")
        .option("--force", "deploy even a model significantly worse than the serving one")
        .addHelpText("after", examples("npx bootboots deploy", "npx bootboots deploy bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --no-up --stack sandbox"))
        .action((job, options, command) => run((context) => deploy(context, job, options), command));

    program
        .command("classify <images...>")
        .description("classify JPEG images with the deployed endpoint")
        .option("--threshold <p>", "mark answers below this confidence as uncertain", parser(numberField(0, 1)))
        .option("--json", "print JSON for scripts")
        .addHelpText("after", examples("npx bootboots classify garden-cam/*.jpg", "npx bootboots classify cat.jpg --threshold 0.7 --json"))
        .action((images, options, command) => run((context) => classify(context, images, options), command));

    program
        .command("evaluate")
        .description("run a dataset's held-out test images through the endpoint and report per class and for the decision")
        .option("--dataset <id>", "dataset to evaluate (default: the latest)", parser<string>(TRIGGER_EVENT_RULES.datasetId))
        .addOption(new Option("--split <split>", "which images: the held-out test set, or validation").choices(["test", "validation"]).default("test"))
        .option("--concurrency <n>", "requests in flight at once", parser(integerField(1, 50)), 4)
        .option("--out <dir>", "also write evaluation.json and evaluation.md there")
        .addHelpText("after", examples("npx bootboots evaluate", "npx bootboots evaluate --dataset 20260221T153033Z-4f2a --out reports/"))
        .action((options, command) => run((context) => evaluate(context, options), command));

    for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err }).showHelpAfterError();
    return program;
}

/** Runs the command line and returns its exit code: 0 on success, 1 on failure. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
    const line = (write: (text: string) => void) => (text: string) => write(`${text}\n`);
    const program = buildProgram(io, async (action, command) => {
        const globals = command.optsWithGlobals() as StackOptions;
        await action({ out: line(io.out), err: line(io.err), stack: new StackResolver(globals), aws: new AwsClients() });
    });
    try {
        await program.parseAsync([...argv], { from: "user" });
        return 0;
    } catch (error) {
        if (error instanceof CommanderError) return error.exitCode;
        if (error instanceof CliError) {
            io.err(`error: ${error.message}\n`);
            return 1;
        }
        io.err(`error: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
        return 1;
    }
}
