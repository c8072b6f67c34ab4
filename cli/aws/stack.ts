import { contract } from "../../lib/contract";
import { CliError, NotFoundError } from "../errors";
import { PulumiMissing, stackOutputs } from "./pulumi";

/** Each name the commands need: its flag, its environment variable and its stack output. */
export const STACK_NAMES = {
    triggerFunction: {
        flag: "--trigger-function",
        env: "BOOTBOOTS_TRIGGER_FUNCTION",
        output: "triggerTrainingFunctionName",
    },
    dataPrepFunction: {
        flag: "--data-prep-function",
        env: "BOOTBOOTS_DATA_PREP_FUNCTION",
        output: "dataPrepFunctionName",
    },
    trainingBucket: { flag: "--training-bucket", env: "BOOTBOOTS_TRAINING_BUCKET", output: "trainingBucketName" },
    modelBucket: { flag: "--model-bucket", env: "BOOTBOOTS_MODEL_BUCKET", output: "modelBucketName" },
    endpoint: { flag: "--endpoint", env: "BOOTBOOTS_ENDPOINT", output: "endpointName" },
    imagesBucket: { flag: "--images-bucket", env: "BOOTBOOTS_IMAGES_BUCKET", output: "imagesBucketName" },
    imagesPrefix: { flag: "--images-prefix", env: "BOOTBOOTS_IMAGES_PREFIX", output: "imagesPrefix", arg: "prefix" },
    catadataTable: { flag: "--catadata-table", env: "BOOTBOOTS_CATADATA_TABLE", output: "catadataTableName" },
    cameraApi: { flag: "--camera-api", env: "BOOTBOOTS_CAMERA_API_URL", output: "cameraApiUrl", arg: "url" },
    eventsTable: { flag: "--events-table", env: "BOOTBOOTS_EVENTS_TABLE", output: "eventsTableName" },
} as const;

export type StackName = keyof typeof STACK_NAMES;

export interface StackOptions {
    readonly stack?: string;
    readonly triggerFunction?: string;
    readonly dataPrepFunction?: string;
    readonly trainingBucket?: string;
    readonly modelBucket?: string;
    readonly endpoint?: string;
    readonly imagesBucket?: string;
    readonly imagesPrefix?: string;
    readonly catadataTable?: string;
    readonly cameraApi?: string;
    readonly eventsTable?: string;
}

/**
 * Resolves names from, in order: the flag, the environment variable, the stack's outputs.
 * `pulumi stack output` runs at most once, and only when a name is not given otherwise.
 */
export class StackResolver {
    private outputs?: Promise<Record<string, unknown>>;

    constructor(
        private readonly options: StackOptions,
        /** Reads the stack's outputs (default: `pulumi stack output --json`). */
        private readonly readOutputs: (stack: string | undefined) => Promise<Record<string, unknown>> = stackOutputs,
    ) {}

    get stack(): string | undefined {
        return this.options.stack;
    }

    /** A stack output that is not a name (a setting the stack exports), or undefined when the stack has none or Pulumi is missing. */
    async optionalOutput(output: string): Promise<unknown> {
        if (!this.outputs) this.outputs = this.readOutputs(this.options.stack);
        try {
            return (await this.outputs)[output];
        } catch (error) {
            if (error instanceof PulumiMissing) return undefined;
            throw error;
        }
    }

    /**
     * The stack's classes, in model-output order, the target and the no-cat class: its outputs,
     * else (a stack from before they were exported, or no Pulumi CLI) the defaults.
     */
    async classes(): Promise<{ classes: readonly string[]; targetClass: string; noCatClass: string }> {
        // Without a stack to read (names given by flags), the defaults.
        const [classes, targetClass, noCatClass] = await Promise.all(
            ["classes", "targetClass", "noCatClass"].map((name) =>
                this.optionalOutput(name).catch((error) => {
                    if (error instanceof CliError) return undefined;
                    throw error;
                }),
            ),
        );
        return {
            classes: Array.isArray(classes) ? (classes as string[]) : contract.classes,
            targetClass: typeof targetClass === "string" ? targetClass : contract.decision.targetClass,
            noCatClass: typeof noCatClass === "string" ? noCatClass : contract.noCatClass,
        };
    }

    /** Where a name came from, for messages: the flag, the environment variable or the stack output. */
    origin(key: StackName): string {
        const source = STACK_NAMES[key];
        if (this.options[key]) return `from ${source.flag}`;
        if (process.env[source.env]) return `from ${source.env}`;
        return `from the stack output ${source.output}${this.options.stack ? ` of stack ${this.options.stack}` : ""}`;
    }

    async name(key: StackName): Promise<string> {
        const source = STACK_NAMES[key];
        const given = this.options[key] ?? process.env[source.env];
        if (given) return given;
        this.outputs ??= this.readOutputs(this.options.stack);
        const value = (await this.outputs)[source.output];
        if (typeof value === "string" && value) return value;
        if (key === "cameraApi" || key === "eventsTable") {
            throw new NotFoundError(
                `The stack has no camera API yet (no output ${source.output}): run pulumi up, which deploys it with the rest of the stack.`,
            );
        }
        if (key === "endpoint") {
            throw new NotFoundError(
                "No endpoint deployed yet: train a model (npx bootboots train), then deploy it (npx bootboots deploy).",
            );
        }
        throw new CliError(
            `The stack has no output ${source.output}: run 'pulumi up' first, or pass ${source.flag} / set ${source.env}.`,
        );
    }
}
