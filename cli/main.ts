import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import packageJson from "../package.json";
import { AwsClients, CliContext } from "./context";
import { CliError, EXIT } from "./errors";
import { STACK_NAMES, StackOptions, StackResolver } from "./stack";
import { FieldRule, integerField, numberField, parseFieldText } from "../lib/eventFields";
import { TRIGGER_EVENT_DEFAULTS, TRIGGER_EVENT_RULES, TUNE_DEFAULTS, TUNE_RULES } from "../lib/triggerEvent";

export interface CliIO {
    readonly out: (text: string) => void;
    readonly err: (text: string) => void;
    /** stdout is a terminal (default false: output for pipes and files). */
    readonly interactive?: boolean;
}

/** Line output, with a progress line on a terminal that the next line or progress replaces. */
function lineOutput(io: CliIO): Pick<CliContext, "out" | "err" | "progress" | "interactive"> {
    const clear = "\r\x1b[2K";
    let progressShown = false;
    const endProgress = () => {
        if (progressShown) io.out(clear);
        progressShown = false;
    };
    return {
        interactive: io.interactive === true,
        out: (text) => (endProgress(), io.out(`${text}\n`)),
        err: (text) => (endProgress(), io.err(`${text}\n`)),
        progress: (text) => {
            if (!io.interactive) return;
            if (text === undefined) return endProgress();
            io.out(`${clear}${text}`);
            progressShown = true;
        },
    };
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

function buildProgram(
    io: CliIO,
    run: (action: (context: CliContext) => Promise<void>, command: Command) => Promise<void>,
): Command {
    const program = new Command("bootboots")
        .description(
            "Train, watch, compare, deploy and use the BootBoots cat classifier, using the names from `pulumi stack output`.",
        )
        .version(packageJson.version, "--version", "print the version")
        .option("--stack <name>", "the Pulumi stack to read outputs from (default: the selected stack)");
    for (const [key, source] of Object.entries(STACK_NAMES)) {
        program.addOption(
            new Option(
                `${source.flag} <name>`,
                `the ${key} name (else ${source.env}, else the stack output ${source.output})`,
            ),
        );
    }
    program.addHelpText(
        "after",
        examples(
            "npx bootboots train --epochs 30",
            "npx bootboots status --watch",
            "npx bootboots compare",
            "npx bootboots deploy",
            "npx bootboots classify garden-cam/*.jpg",
            "BOOTBOOTS_ENDPOINT=bootboots npx bootboots classify cat.jpg --json",
        ) +
            `\nExit codes: ${EXIT.ok} success, ${EXIT.failed} failure (one sentence says why), ${EXIT.usage} usage error, ${EXIT.partial} done but some images failed.\n`,
    );

    program
        .command("train")
        .description("prepare a dataset and start a SageMaker training job (waits for data prep)")
        .option(
            "--epochs <n>",
            `training epochs (default ${TRIGGER_EVENT_DEFAULTS.epochs})`,
            parser(TRIGGER_EVENT_RULES.epochs),
        )
        .option(
            "--learning-rate <x>",
            `fine-tuning learning rate (default ${TRIGGER_EVENT_DEFAULTS.learningRate})`,
            parser(TRIGGER_EVENT_RULES.learningRate),
        )
        .option(
            "--batch-size <n>",
            `images per batch (default ${TRIGGER_EVENT_DEFAULTS.batchSize})`,
            parser(TRIGGER_EVENT_RULES.batchSize),
        )
        .option("--train-only-top-layer", "train only the classifier head")
        .option("--no-spot", "on-demand instead of managed spot")
        .option("--skip-data-prep", "train on the latest dataset instead of preparing a new one")
        .option(
            "--dataset <id>",
            "train on this dataset (implies --skip-data-prep)",
            parser<string>(TRIGGER_EVENT_RULES.datasetId),
        )
        .option("--async", "return at once; follow with bootboots status --watch")
        .option("--dry-run", "only count the images data prep would use, and list what it skips")
        .option("--json", "print JSON for scripts")
        .addHelpText(
            "after",
            examples(
                "npx bootboots train",
                "npx bootboots train --epochs 100 --learning-rate 0.00005",
                "npx bootboots train --dry-run",
                "npx bootboots train --skip-data-prep --no-spot --async",
            ),
        )
        .action((options, command) =>
            run(async (context) => (await import("./commands/train")).train(context, options), command),
        );

    program
        .command("tune")
        .description("search the hyperparameters with SageMaker's tuner, after showing the worst-case cost")
        .option("--max-jobs <n>", `training jobs in all (default ${TUNE_DEFAULTS.maxJobs})`, parser(TUNE_RULES.maxJobs))
        .option(
            "--parallel <n>",
            `training jobs at once (default ${TUNE_DEFAULTS.parallelJobs})`,
            parser(TUNE_RULES.parallelJobs),
        )
        .option(
            "--epochs <n>",
            `epochs of each training job (default ${TRIGGER_EVENT_DEFAULTS.epochs})`,
            parser(TRIGGER_EVENT_RULES.epochs),
        )
        .option(
            "--instance-type <type>",
            "training instance type (default: the stack's trainingInstanceType)",
            parser<string>(TRIGGER_EVENT_RULES.instanceType),
        )
        .option(
            "--max-runtime <seconds>",
            `time limit of each training job (default ${TRIGGER_EVENT_DEFAULTS.maxRuntimeSeconds})`,
            parser(TRIGGER_EVENT_RULES.maxRuntimeSeconds),
        )
        .option("--no-spot", "on-demand instead of managed spot")
        .option("--skip-data-prep", "tune on the latest dataset instead of preparing a new one")
        .option(
            "--dataset <id>",
            "tune on this dataset (implies --skip-data-prep)",
            parser<string>(TRIGGER_EVENT_RULES.datasetId),
        )
        .option("--yes", "start even when the worst case is above maxTuningCostUsd, or unknown")
        .option("--async", "return at once; follow with bootboots status <tuning job> --watch")
        .option("--json", "print JSON for scripts")
        .addHelpText(
            "after",
            examples(
                "npx bootboots tune",
                "npx bootboots tune --max-jobs 20 --parallel 4 --yes",
                "npx bootboots tune --skip-data-prep --async --json",
            ),
        )
        .action((options, command) =>
            run(async (context) => (await import("./commands/tune")).tune(context, options), command),
        );

    program
        .command("suggest")
        .description(
            "rank the unlabelled images by what a label would teach the model serving now, and write the labelling queue",
        )
        .option(
            "--limit <n>",
            "images scored at most (those scored before by the same model are kept)",
            parser(integerField(1, 100_000)),
            500,
        )
        .option("--concurrency <n>", "requests in flight at once", parser(integerField(1, 50)), 4)
        .option("--top <n>", "queue rows printed", parser(integerField(1, 1000)), 10)
        .option("--json", "print the whole queue as JSON")
        .addHelpText("after", examples("npx bootboots suggest", "npx bootboots suggest --limit 100 --json"))
        .action((options, command) =>
            run(async (context) => (await import("./commands/suggest")).suggest(context, options), command),
        );

    program
        .command("label")
        .description(
            "label the queue of suggest in a local web page (127.0.0.1, a token in the address), one image at a time",
        )
        .option("--port <n>", "port on 127.0.0.1 (default: any free one)", parser(integerField(0, 65535)), 0)
        .option("--no-open", "do not open the page in the browser")
        .addHelpText("after", examples("npx bootboots label", "npx bootboots label --port 8765 --no-open"))
        .action((options, command) =>
            run(async (context) => (await import("./commands/label")).label(context, options), command),
        );

    program
        .command("status [job]")
        .description("show a training or tuning job (default: the newest training job); --watch follows it to the end")
        .option("--watch", "follow progress until the job ends, then show its per-class evaluation")
        .option("--json", "print the job (and with --watch, its evaluation at the end) as JSON")
        .option("--interval <seconds>", "seconds between checks with --watch", parser(integerField(1, 3600)), 30)
        .addHelpText(
            "after",
            examples("npx bootboots status", "npx bootboots status bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --watch"),
        )
        .action((job, options, command) =>
            run(async (context) => (await import("./commands/status")).status(context, job, options), command),
        );

    program
        .command("compare [candidate] [baseline]")
        .description(
            "compare two jobs' models on their common held-out test images (default: the newest completed job against the model serving now)",
        )
        .option("--json", "print JSON for scripts")
        .addHelpText(
            "after",
            examples(
                "npx bootboots compare",
                "npx bootboots compare bootboots-4f2a9c0d1e2b3a4f5e6d7c8b bootboots-0b1c2d3e4f5a6b7c8d9e0f1a --json",
            ),
        )
        .action((candidate, baseline, options, command) =>
            run(
                async (context) => (await import("./commands/compare")).compare(context, candidate, baseline, options),
                command,
            ),
        );

    program
        .command("deploy [job]")
        .description(
            "point the stack's endpoint at a completed job's model (a tuning job's best) and run pulumi up, unless it is significantly worse than the serving model",
        )
        .option("--no-up", "only set modelDataUrl; print the pulumi up command")
        .option("--force", "deploy even a model significantly worse than the serving one")
        .option("--json", "print what was done as JSON")
        .addHelpText(
            "after",
            examples(
                "npx bootboots deploy",
                "npx bootboots deploy bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --no-up --stack sandbox",
            ),
        )
        .action((job, options, command) =>
            run(async (context) => (await import("./commands/deploy")).deploy(context, job, options), command),
        );

    program
        .command("classify <images...>")
        .description("classify JPEG images with the deployed endpoint")
        .option("--threshold <p>", "mark answers below this confidence as uncertain", parser(numberField(0, 1)))
        .option("--json", "print JSON for scripts")
        .addHelpText(
            "after",
            examples(
                "npx bootboots classify garden-cam/*.jpg",
                "npx bootboots classify cat.jpg --threshold 0.7 --json",
            ),
        )
        .action((images, options, command) =>
            run(async (context) => (await import("./commands/classify")).classify(context, images, options), command),
        );

    program
        .command("evaluate")
        .description(
            "run a dataset's held-out test images through the endpoint and report per class and for the decision",
        )
        .option(
            "--dataset <id>",
            "dataset to evaluate (default: the latest)",
            parser<string>(TRIGGER_EVENT_RULES.datasetId),
        )
        .addOption(
            new Option("--split <split>", "which images: the held-out test set, or validation")
                .choices(["test", "validation"])
                .default("test"),
        )
        .option("--concurrency <n>", "requests in flight at once", parser(integerField(1, 50)), 4)
        .option("--out <dir>", "also write evaluation.json and evaluation.md there")
        .option("--json", "print the report as JSON")
        .addHelpText(
            "after",
            examples("npx bootboots evaluate", "npx bootboots evaluate --dataset 20260221T153033Z-4f2a --out reports/"),
        )
        .action((options, command) =>
            run(async (context) => (await import("./commands/evaluate")).evaluate(context, options), command),
        );

    program
        .command("infer <images...>")
        .description(
            "send JPEG images to the camera API exactly as the camera does (SigV4 with your credentials) and print what the camera reads",
        )
        .option("--camera <name>", "the camera name to send (x-bootboots-camera)")
        .option("--training", "store the images for labelling and skip inference (?mode=training)")
        .option("--json", "print the API's answers as JSON")
        .addHelpText(
            "after",
            examples(
                "npx bootboots infer garden-cam/boots.jpg",
                "npx bootboots infer cat.jpg --camera garden-1 --json",
            ),
        )
        .action((images, options, command) =>
            run(async (context) => (await import("./commands/infer")).infer(context, images, options), command),
        );

    program
        .command("events")
        .description("list the latest requests whose decision acted (the camera API's events table), newest first")
        .option("--since <when>", "a duration (7d, 24h, 30m) or a date (2026-12-01)", "7d")
        .option("--limit <n>", "events printed at most", parser(integerField(1, 10_000)), 20)
        .option("--json", "print JSON for scripts")
        .addHelpText("after", examples("npx bootboots events", "npx bootboots events --since 24h --json"))
        .action((options, command) =>
            run(async (context) => (await import("./commands/events")).events(context, options), command),
        );

    for (const command of [program, ...program.commands]) {
        command
            .exitOverride()
            .configureOutput({ writeOut: io.out, writeErr: io.err })
            // A usage error is one line and a pointer to the help, not the whole help.
            .showHelpAfterError(`(see 'bootboots ${command === program ? "" : `${command.name()} `}--help')`)
            // Each command's help lists the options it inherits: --stack and the name flags.
            .configureHelp({ showGlobalOptions: true });
    }
    return program;
}

/** Runs the command line and returns its exit code (EXIT). */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
    const program = buildProgram(io, async (action, command) => {
        const globals = command.optsWithGlobals() as StackOptions;
        await action({ ...lineOutput(io), stack: new StackResolver(globals), aws: new AwsClients() });
    });
    try {
        await program.parseAsync([...argv], { from: "user" });
        return EXIT.ok;
    } catch (error) {
        if (error instanceof CommanderError) {
            // Help and --version end the same way as a success; anything else commander refuses is a usage error.
            return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
        }
        if (error instanceof CliError) {
            io.err(`error: ${error.message}\n`);
            return error.exitCode;
        }
        io.err(`error: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
        return EXIT.failed;
    }
}
