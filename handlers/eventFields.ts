import { userFacingError } from "./errors";

/** How one event field is checked: its allowed values, said in words for the error message. */
export interface FieldRule {
    readonly allowed: string;
    readonly check: (value: unknown) => boolean;
}

export const booleanField: FieldRule = { allowed: "true or false", check: (v) => typeof v === "boolean" };

export function integerField(min: number, max: number): FieldRule {
    return {
        allowed: `an integer from ${min} to ${max}`,
        check: (v) => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max,
    };
}

/** A number strictly between min and max, or from min (inclusive) when `minInclusive`. */
export function numberField(min: number, max: number, minInclusive = false): FieldRule {
    return {
        allowed: `a number ${minInclusive ? "at least" : "greater than"} ${min} and less than ${max}`,
        check: (v) => typeof v === "number" && Number.isFinite(v) && (minInclusive ? v >= min : v > min) && v < max,
    };
}

export function patternField(pattern: RegExp, allowed: string): FieldRule {
    return { allowed, check: (v) => typeof v === "string" && pattern.test(v) };
}

export function oneOfField(values: readonly string[]): FieldRule {
    return { allowed: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, check: (v) => values.includes(v as string) };
}

/**
 * Checks a Lambda event against its rules: an unknown key or a value that breaks its
 * rule throws an error naming the field, its value and what is allowed.
 */
export function validateEvent<T>(event: unknown, rules: Readonly<Record<string, FieldRule>>, eventName: string): Partial<T> {
    if (event === undefined || event === null) return {};
    if (typeof event !== "object" || Array.isArray(event)) {
        throw userFacingError(`The ${eventName} event must be a JSON object, got ${JSON.stringify(event)}.`);
    }
    for (const [key, value] of Object.entries(event)) {
        const rule = rules[key];
        if (rule === undefined) {
            throw userFacingError(
                `Unknown field "${key}" in the ${eventName} event. Allowed fields: ${Object.keys(rules).join(", ")}.`,
            );
        }
        if (value !== undefined && !rule.check(value)) {
            throw userFacingError(`Invalid "${key}": ${JSON.stringify(value)}. It must be ${rule.allowed}.`);
        }
    }
    return event as Partial<T>;
}
