import { InvalidArgumentError } from "commander";
import { FieldRule, integerField, numberField, parseFieldText } from "../lib/eventFields";
import { TRIGGER_EVENT_DEFAULTS, TRIGGER_EVENT_RULES, TUNE_DEFAULTS, TUNE_RULES } from "../lib/triggerEvent";
import type { ClassifyOptions } from "./commands/classify";
import type { CompareOptions } from "./commands/compare";
import type { DeployOptions } from "./commands/deploy";
import type { DoctorOptions } from "./commands/doctor";
import type { EvaluateOptions } from "./commands/evaluate";
import type { EventsOptions } from "./commands/events";
import type { ImportOptions } from "./commands/import";
import type { InferOptions } from "./commands/infer";
import type { LabelOptions } from "./commands/label";
import type { ReportOptions } from "./commands/report";
import type { ReviewOptions } from "./commands/review";
import { DEFAULT_MIN_CONFIDENCE } from "./labelling/review";
import type { StatusOptions } from "./commands/status";
import type { SuggestOptions } from "./commands/suggest";
import type { TrainOptions } from "./commands/train";
import type { TuneOptions } from "./commands/tune";
import { CliContext } from "./context";
import { CAN, Permission } from "./iamPolicy";

/** One option of a command, as commander takes it. */
export interface OptionSpec {
    /** `--name <value>`, `--flag` or `--no-flag`. */
    readonly flags: string;
    readonly description: string;
    readonly parse?: (text: string) => unknown;
    readonly default?: unknown;
    readonly choices?: readonly string[];
}

/** A positional argument as commander hands it: a word, the words of a variadic one, or nothing. */
export type Positional = string | string[] | undefined;

/** One command of `bootboots`: what its help shows, and what runs it. */
export interface CommandSpec<O = unknown> {
    /** The name and positional arguments: `status [job]`, `classify <images...>`. */
    readonly usage: string;
    readonly description: string;
    readonly options: readonly OptionSpec[];
    readonly examples: readonly string[];
    /** The AWS actions it calls, and on what: the one source of the CLI user's policy (cli/iamPolicy.ts). */
    readonly aws: readonly Permission[];
    /** Loads the command's module on first use (so `--help` loads none) and runs it. */
    run(context: CliContext, args: Positional[], options: O): Promise<void>;
}

/** A commander option parser from a field rule: the trigger's own rules for its payload fields. */
export function parser<T = number>(rule: FieldRule) {
    return (text: string): T => {
        const parsed = parseFieldText(rule, text);
        if ("error" in parsed) throw new InvalidArgumentError(parsed.error);
        return parsed.value as T;
    };
}

const json = (what = "print JSON for scripts"): OptionSpec => ({ flags: "--json", description: what });
const spot: OptionSpec = { flags: "--no-spot", description: "on-demand instead of managed spot" };
const epochs = (what: string): OptionSpec => ({
    flags: "--epochs <n>",
    description: `${what} (default ${TRIGGER_EVENT_DEFAULTS.epochs})`,
    parse: parser(TRIGGER_EVENT_RULES.epochs),
});
const dataset = (verb: string): OptionSpec => ({
    flags: "--dataset <id>",
    description: `${verb} on this dataset (implies --skip-data-prep)`,
    parse: parser<string>(TRIGGER_EVENT_RULES.datasetId),
});
const concurrency: OptionSpec = {
    flags: "--concurrency <n>",
    description: "requests in flight at once",
    parse: parser(integerField(1, 50)),
    default: 4,
};
const top: OptionSpec = {
    flags: "--top <n>",
    description: "queue rows printed",
    parse: parser(integerField(1, 1000)),
    default: 10,
};
/** Finding the model serving now, and reading its decision. */
const SERVING: readonly Permission[] = [CAN.findServing, CAN.readModels, CAN.listModels];
/** A job and what it wrote. */
const JOB_OUTPUT: readonly Permission[] = [CAN.readJobs, CAN.readModels, CAN.listModels];
const words = (arg: Positional) => arg as string[];
const word = (arg: Positional) => arg as string | undefined;
const spec = <O>(command: CommandSpec<O>) => command as CommandSpec;

/** Every command, in the order `bootboots --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
    spec<DoctorOptions>({
        usage: "doctor",
        aws: [CAN.listImages, CAN.checkTable, CAN.readLabels, ...SERVING],
        description:
            "check everything the next steps need at once (the Pulumi CLI, AWS access, the images bucket and catadata table, the stack, your classes and labels) and say what to do next; exits 0 only when nothing failed",
        options: [
            json(),
            {
                flags: "--iam-policy",
                description: "print the least-privilege IAM policy of the user who runs bootboots, as JSON",
            },
        ],
        examples: [
            "npx bootboots doctor",
            "npx bootboots doctor --json",
            "npx bootboots doctor --iam-policy > bootboots-user.json",
        ],
        run: async (context, _args, options) => (await import("./commands/doctor")).doctor(context, options),
    }),
    spec<ImportOptions>({
        usage: "import <photos...>",
        aws: [CAN.listImages, CAN.writeImages, CAN.writeLabels],
        description:
            "upload your own photos (files or folders) into the images bucket, named by capture time so that visits work; non-JPEGs and duplicates are skipped, and a second run adds nothing",
        options: [
            {
                flags: "--label <class>",
                description:
                    "label every photo as this class (a folder that holds one cat): writes their catadata rows",
            },
            {
                flags: "--concurrency <n>",
                description: "uploads in flight at once",
                parse: parser(integerField(1, 64)),
                default: 32,
            },
            json("print each photo's outcome as JSON"),
        ],
        examples: ["npx bootboots import ~/Pictures/garden", "npx bootboots import ~/Pictures/chi --label Chi"],
        run: async (context, [photos], options) =>
            (await import("./commands/import")).importPhotos(context, words(photos), options),
    }),
    spec<TrainOptions>({
        usage: "train",
        aws: [CAN.invokeFunctions, CAN.readJobs, CAN.listJobs, CAN.readLogs, CAN.readModels, CAN.listModels],
        description: "prepare a dataset and start a SageMaker training job (waits for data prep)",
        options: [
            epochs("training epochs"),
            {
                flags: "--learning-rate <x>",
                description: `fine-tuning learning rate (default ${TRIGGER_EVENT_DEFAULTS.learningRate})`,
                parse: parser(TRIGGER_EVENT_RULES.learningRate),
            },
            {
                flags: "--batch-size <n>",
                description: `images per batch (default ${TRIGGER_EVENT_DEFAULTS.batchSize})`,
                parse: parser(TRIGGER_EVENT_RULES.batchSize),
            },
            { flags: "--train-only-top-layer", description: "train only the classifier head" },
            spot,
            { flags: "--skip-data-prep", description: "train on the latest dataset instead of preparing a new one" },
            dataset("train"),
            { flags: "--async", description: "return at once; follow with bootboots status --watch" },
            { flags: "--dry-run", description: "only count the images data prep would use, and list what it skips" },
            json(),
        ],
        examples: [
            "npx bootboots train",
            "npx bootboots train --epochs 100 --learning-rate 0.00005",
            "npx bootboots train --dry-run",
            "npx bootboots train --skip-data-prep --no-spot --async",
        ],
        run: async (context, _args, options) => (await import("./commands/train")).train(context, options),
    }),
    spec<TuneOptions>({
        usage: "tune",
        aws: [CAN.invokeFunctions, CAN.prices, CAN.readTuningJobs, CAN.listJobs, CAN.readJobs],
        description: "search the hyperparameters with SageMaker's tuner, after showing the worst-case cost",
        options: [
            {
                flags: "--max-jobs <n>",
                description: `training jobs in all (default ${TUNE_DEFAULTS.maxJobs})`,
                parse: parser(TUNE_RULES.maxJobs),
            },
            {
                flags: "--parallel <n>",
                description: `training jobs at once (default ${TUNE_DEFAULTS.parallelJobs})`,
                parse: parser(TUNE_RULES.parallelJobs),
            },
            epochs("epochs of each training job"),
            {
                flags: "--max-runtime <seconds>",
                description: `time limit of each training job (default ${TRIGGER_EVENT_DEFAULTS.maxRuntimeSeconds})`,
                parse: parser(TRIGGER_EVENT_RULES.maxRuntimeSeconds),
            },
            spot,
            { flags: "--skip-data-prep", description: "tune on the latest dataset instead of preparing a new one" },
            dataset("tune"),
            { flags: "--yes", description: "start even when the worst case is above maxTuningCostUsd, or unknown" },
            { flags: "--async", description: "return at once; follow with bootboots status <tuning job> --watch" },
            json(),
        ],
        examples: [
            "npx bootboots tune",
            "npx bootboots tune --max-jobs 20 --parallel 4 --yes",
            "npx bootboots tune --skip-data-prep --async --json",
        ],
        run: async (context, _args, options) => (await import("./commands/tune")).tune(context, options),
    }),
    spec<SuggestOptions>({
        usage: "suggest",
        aws: [
            CAN.readLabels,
            CAN.listImages,
            CAN.readImages,
            CAN.readTraining,
            CAN.writeTraining,
            CAN.listTraining,
            CAN.invokeEndpoint,
            ...SERVING,
        ],
        description:
            "rank the unlabelled images by what a label would teach the model serving now, and write the labelling queue",
        options: [
            {
                flags: "--limit <n>",
                description: "images scored at most (those scored before by the same model are kept)",
                parse: parser(integerField(1, 100_000)),
                default: 500,
            },
            concurrency,
            top,
            json("print the whole queue as JSON"),
        ],
        examples: ["npx bootboots suggest", "npx bootboots suggest --limit 100 --json"],
        run: async (context, _args, options) => (await import("./commands/suggest")).suggest(context, options),
    }),
    spec<LabelOptions>({
        usage: "label",
        aws: [CAN.readTraining, CAN.listTraining, CAN.readImages, CAN.readLabels, CAN.writeLabels],
        description:
            "label the queue of suggest in a local web page (127.0.0.1, a token in the address), one image at a time",
        options: [
            {
                flags: "--port <n>",
                description: "port on 127.0.0.1; 0 takes any free one",
                parse: parser(integerField(0, 65535)),
                default: 0,
            },
            { flags: "--no-open", description: "do not open the page in the browser" },
            {
                flags: "--review",
                description: "work through the review queue of bootboots review: keep or change each suspect label",
            },
        ],
        examples: ["npx bootboots label", "npx bootboots label --port 8765 --no-open", "npx bootboots label --review"],
        run: async (context, _args, options) => (await import("./commands/label")).label(context, options),
    }),
    spec<ReviewOptions>({
        usage: "review [job]",
        aws: [...JOB_OUTPUT, CAN.readTraining, CAN.listTraining, CAN.writeTraining, CAN.invokeEndpoint, ...SERVING],
        description:
            "rank the labelled images a completed job (default: the newest) confidently disagrees with, from its validation and test answers (no endpoint cost), and write the review queue for label --review",
        options: [
            {
                flags: "--min-confidence <p>",
                description: "the model's guess must be at least this likely",
                parse: parser(numberField(0, 1)),
                default: DEFAULT_MIN_CONFIDENCE,
            },
            {
                flags: "--score-training <n>",
                description: "also score this many training images through the endpoint (the cost is shown first)",
                parse: parser(integerField(1, 100_000)),
            },
            concurrency,
            top,
            json("print the whole review queue as JSON"),
        ],
        examples: ["npx bootboots review", "npx bootboots review --score-training 200 --min-confidence 0.8"],
        run: async (context, [job], options) => (await import("./commands/review")).review(context, word(job), options),
    }),
    spec<StatusOptions>({
        usage: "status [job]",
        aws: [
            ...JOB_OUTPUT,
            CAN.listJobs,
            CAN.readTuningJobs,
            CAN.readLogs,
            CAN.readRegistry,
            CAN.readTraining,
            CAN.listTraining,
            CAN.countFailedEvents,
        ],
        description: "show a training or tuning job (default: the newest training job); --watch follows it to the end",
        options: [
            { flags: "--watch", description: "follow progress until the job ends, then show its per-class evaluation" },
            json("print the job (and with --watch, its evaluation at the end) as JSON"),
            {
                flags: "--interval <seconds>",
                description: "seconds between checks with --watch",
                parse: parser(integerField(1, 3600)),
                default: 30,
            },
        ],
        examples: ["npx bootboots status", "npx bootboots status bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --watch"],
        run: async (context, [job], options) => (await import("./commands/status")).status(context, word(job), options),
    }),
    spec<CompareOptions>({
        usage: "compare [candidate] [baseline]",
        aws: [...JOB_OUTPUT, CAN.listJobs, ...SERVING],
        description:
            "compare two jobs' models on their common held-out test images (default: the newest completed job against the model serving now)",
        options: [json()],
        examples: [
            "npx bootboots compare",
            "npx bootboots compare bootboots-4f2a9c0d1e2b3a4f5e6d7c8b bootboots-0b1c2d3e4f5a6b7c8d9e0f1a --json",
        ],
        run: async (context, [candidate, baseline], options) =>
            (await import("./commands/compare")).compare(context, word(candidate), word(baseline), options),
    }),
    spec<ReportOptions>({
        usage: "report [job]",
        aws: [...JOB_OUTPUT, CAN.listJobs, CAN.readTraining, CAN.listTraining],
        description:
            "write one self-contained HTML report of a completed job (default: the newest): confusion matrix, per-class figures with intervals, the threshold curve, F1 against training images over the last jobs, and the test images it got wrong",
        options: [
            { flags: "--out <file>", description: "where to write it (default: bootboots-report-<job>.html here)" },
            {
                flags: "--jobs <n>",
                description: "completed jobs in the history chart, this one included",
                parse: parser(integerField(1, 100)),
                default: 10,
            },
            { flags: "--no-open", description: "do not open it in the browser" },
            json("print where it was written and what it holds as JSON"),
        ],
        examples: [
            "npx bootboots report",
            "npx bootboots report bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --out report.html --no-open",
        ],
        run: async (context, [job], options) => (await import("./commands/report")).report(context, word(job), options),
    }),
    spec<DeployOptions>({
        usage: "deploy [job]",
        aws: [...JOB_OUTPUT, CAN.listJobs, CAN.readTuningJobs, ...SERVING, CAN.readRegistry, CAN.approve],
        description:
            "point the stack's endpoint at a completed job's model (a tuning job's best) and run pulumi up, unless it is significantly worse than the serving model",
        options: [
            { flags: "--no-up", description: "only set modelDataUrl; print the pulumi up command" },
            { flags: "--force", description: "deploy even a model significantly worse than the serving one" },
            json("print what was done as JSON"),
        ],
        examples: [
            "npx bootboots deploy",
            "npx bootboots deploy bootboots-4f2a9c0d1e2b3a4f5e6d7c8b --no-up --stack sandbox",
        ],
        run: async (context, [job], options) => (await import("./commands/deploy")).deploy(context, word(job), options),
    }),
    spec<ClassifyOptions>({
        usage: "classify <images...>",
        aws: [CAN.invokeEndpoint, ...SERVING, CAN.readModels, CAN.listModels],
        description: "classify JPEG images with the deployed endpoint",
        options: [
            {
                flags: "--threshold <p>",
                description: "mark answers below this confidence as uncertain",
                parse: parser(numberField(0, 1)),
            },
            json(),
        ],
        examples: ["npx bootboots classify garden-cam/*.jpg", "npx bootboots classify cat.jpg --threshold 0.7 --json"],
        run: async (context, [images], options) =>
            (await import("./commands/classify")).classify(context, words(images), options),
    }),
    spec<EvaluateOptions>({
        usage: "evaluate",
        aws: [CAN.readTraining, CAN.listTraining, CAN.invokeEndpoint, ...SERVING, CAN.readModels, CAN.listModels],
        description:
            "run a dataset's held-out test images through the endpoint and report per class and for the decision",
        options: [
            {
                flags: "--dataset <id>",
                description: "dataset to evaluate (default: the latest)",
                parse: parser<string>(TRIGGER_EVENT_RULES.datasetId),
            },
            {
                flags: "--split <split>",
                description: "which images: the held-out test set, or validation",
                choices: ["test", "validation"],
                default: "test",
            },
            concurrency,
            { flags: "--out <dir>", description: "also write evaluation.json and evaluation.md there" },
            json("print the report as JSON"),
        ],
        examples: ["npx bootboots evaluate", "npx bootboots evaluate --dataset 20260221T153033Z-4f2a --out reports/"],
        run: async (context, _args, options) => (await import("./commands/evaluate")).evaluate(context, options),
    }),
    spec<InferOptions>({
        usage: "infer <images...>",
        aws: [CAN.callCamera],
        description:
            "send JPEG images to the camera API exactly as the camera does (SigV4 with your credentials) and print what the camera reads",
        options: [
            { flags: "--camera <name>", description: "the camera name to send (x-bootboots-camera)" },
            { flags: "--training", description: "store the images for labelling and skip inference (?mode=training)" },
            json("print the API's answers as JSON"),
        ],
        examples: ["npx bootboots infer garden-cam/boots.jpg", "npx bootboots infer cat.jpg --camera garden-1 --json"],
        run: async (context, [images], options) =>
            (await import("./commands/infer")).infer(context, words(images), options),
    }),
    spec<EventsOptions>({
        usage: "events",
        aws: [CAN.readEvents],
        description: "list the latest requests whose decision acted (the camera API's events table), newest first",
        options: [
            { flags: "--since <when>", description: "a duration (7d, 24h, 30m) or a date (2026-12-01)", default: "7d" },
            {
                flags: "--limit <n>",
                description: "events printed at most",
                parse: parser(integerField(1, 10_000)),
                default: 20,
            },
            json(),
        ],
        examples: ["npx bootboots events", "npx bootboots events --since 24h --json"],
        run: async (context, _args, options) => (await import("./commands/events")).events(context, options),
    }),
];
