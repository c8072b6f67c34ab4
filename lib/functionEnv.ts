/**
 * A Lambda's settings travel as environment variables, because a CallbackFunction's code is
 * its serialized closure and plain strings are the one kind of value that always survives it
 * whole (docs/design.md §1). Each function declares its variables once, as an EnvSpec
 * (lib/functionSettings.ts): the stack writes them from it (components/lambdaFunction.ts
 * `functionEnvironment`) and the function reads them by it (`readEnv`).
 */

/** One environment variable: its name, how its text reads as a value, and its value when unset. */
export interface EnvVar<T> {
    readonly name: string;
    readonly kind: "text" | "json" | "number" | "boolean";
    /** Set by Lambda itself (AWS_REGION), never by the stack. */
    readonly platform?: true;
    /** Whether the variable may be left out; it then reads as `fallback`. */
    readonly optional?: true;
    readonly fallback?: T;
}

export const textVar = (name: string): EnvVar<string> => ({ name, kind: "text" });
export const jsonVar = <T>(name: string): EnvVar<T> => ({ name, kind: "json" });
export const numberVar = (name: string): EnvVar<number> => ({ name, kind: "number" });
export const booleanVar = (name: string): EnvVar<boolean> => ({ name, kind: "boolean" });
/** A variable the stack may leave out (a test or a benchmark sets it); it then reads as `fallback`. */
export function optionalVar<T>(variable: EnvVar<T>, fallback: T): EnvVar<T> & { readonly optional: true } {
    return { ...variable, optional: true, fallback };
}
/** A variable that Lambda sets for every function. */
export const platformVar = (name: string): EnvVar<string> & { readonly platform: true } => ({
    name,
    kind: "text",
    platform: true,
});

/** A function's variables, by the setting each one carries. */
export type EnvSpec = { readonly [setting: string]: EnvVar<unknown> };

/** The settings a spec's variables carry, typed. */
export type SettingsOf<S extends EnvSpec> = { readonly [K in keyof S]: ValueOfVar<S[K]> };

/** The value a variable carries. */
export type ValueOfVar<V> = V extends EnvVar<infer T> ? T : never;

/** A value as its variable's text. */
export function envText<T>(variable: EnvVar<T>, value: T): string {
    return variable.kind === "json" ? JSON.stringify(value) : String(value);
}

/** The function's settings from its environment; a required variable that is missing is a broken deployment. */
export function readEnv<S extends EnvSpec>(spec: S, env: Readonly<Record<string, string | undefined>>): SettingsOf<S> {
    const settings: Record<string, unknown> = {};
    for (const [setting, variable] of Object.entries(spec)) {
        const text = env[variable.name];
        if (text === undefined || (text === "" && !variable.optional)) {
            if (!variable.optional)
                throw new Error(`Environment variable ${variable.name} is not set: redeploy the stack.`);
            settings[setting] = variable.fallback;
            continue;
        }
        settings[setting] =
            variable.kind === "json"
                ? JSON.parse(text)
                : variable.kind === "number"
                  ? Number(text)
                  : variable.kind === "boolean"
                    ? text === "true"
                    : text;
    }
    return settings as SettingsOf<S>;
}
