import * as pulumi from "@pulumi/pulumi";
import {
    RETIRED_SETTINGS,
    STACK_SETTINGS,
    StackSetting,
    StackSettingKey,
    StackSettings,
    parseSetting,
} from "./lib/stackSettings";
import { leavesMostForTraining } from "./lib/dataset";

/** Every setting of the stack, parsed and checked (lib/stackSettings.ts; docs/design.md, "Stack config"). */
export type StackConfig = StackSettings;

export const CONFIG_NAMESPACE = "bootboots-ai";

/** A config value that breaks its rule; the message names the key, the value and a good example. */
export class ConfigError extends pulumi.RunError {
    constructor(key: string, value: string, rule: string, example: string) {
        super(
            `Invalid config ${CONFIG_NAMESPACE}:${key} = ${JSON.stringify(value)}: ${rule}. ` +
                `Example: pulumi config set ${key} ${example}`,
        );
        this.name = "ConfigError";
    }
}

type RawConfig = (key: string) => string | undefined;

/** Each key by its own rule, in the table's order; a default that follows another setting comes last. */
function parseEachSetting(get: RawConfig): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    const derived: StackSettingKey[] = [];
    for (const key of Object.keys(STACK_SETTINGS) as StackSettingKey[]) {
        const setting: StackSetting<unknown> = STACK_SETTINGS[key];
        const raw = get(key);
        if (raw === undefined) {
            if (typeof setting.default === "function") derived.push(key);
            else values[key] = setting.default;
            continue;
        }
        const parsed = parseSetting(key, raw);
        if ("error" in parsed) throw new ConfigError(key, raw, parsed.error, setting.example);
        values[key] = parsed.value;
    }
    for (const key of derived) values[key] = (STACK_SETTINGS[key].default as (s: typeof values) => unknown)(values);
    return values;
}

/** The rules between settings: the classes named are in the class list, the splits leave most for training, … */
function checkAcrossSettings(settings: StackSettings, get: RawConfig): void {
    const { classes } = settings;
    const oneOfClasses = (key: "noCatClass" | "targetClass", example: string) => {
        if (!classes.includes(settings[key]))
            throw new ConfigError(key, settings[key], `must be one of classes (${classes.join(", ")})`, example);
    };
    oneOfClasses("noCatClass", classes.includes("NoCat") ? "NoCat" : classes[0]);
    oneOfClasses("targetClass", classes[0]);
    if (!leavesMostForTraining(settings.validationSplit, settings.testSplit)) {
        throw new ConfigError(
            "testSplit",
            String(get("testSplit") ?? settings.testSplit),
            `with validationSplit ${settings.validationSplit} it must stay below ${(0.5 - settings.validationSplit).toFixed(2)} (together below 0.5), so that most images train`,
            String(STACK_SETTINGS.testSplit.default),
        );
    }
    const { endpointMaxConcurrency: most, endpointProvisionedConcurrency: provisioned } = settings;
    if (provisioned > most) {
        throw new ConfigError(
            "endpointProvisionedConcurrency",
            String(get("endpointProvisionedConcurrency")),
            `must be an integer from 0 to ${most}`,
            String(Math.min(1, most)),
        );
    }
}

/** A key that no longer exists stops the program with what replaced it, rather than being ignored. */
export class RetiredSettingError extends pulumi.RunError {
    constructor(key: string) {
        super(
            `Config ${CONFIG_NAMESPACE}:${key} is no longer read: ${RETIRED_SETTINGS[key]}. Run: pulumi config rm ${key}`,
        );
        this.name = "RetiredSettingError";
    }
}

/** Parses and checks every key; throws a ConfigError naming the first bad one. */
export function parseStackConfig(read: RawConfig): StackConfig {
    const get: RawConfig = (key) => {
        const value = read(key);
        return value === undefined || value === "" ? undefined : value;
    };
    for (const key of Object.keys(RETIRED_SETTINGS)) if (get(key) !== undefined) throw new RetiredSettingError(key);
    const settings = parseEachSetting(get) as unknown as StackSettings;
    checkAcrossSettings(settings, get);
    return settings;
}

/** Reads the stack's config; a bad value stops `pulumi up`/`preview` with one clear message. */
export function loadStackConfig(): StackConfig {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    return parseStackConfig((key) => config.get(key));
}
