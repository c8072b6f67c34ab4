import type { HyperparameterRange } from "./contract";
import { userFacingError } from "./errors";

/**
 * How one event field is checked: its kind, its allowed values said in words for the
 * error message, and the check itself. The bootboots CLI derives its option parsers and
 * help from the same rules, so a range is written once.
 */
export interface FieldRule {
    readonly kind: "boolean" | "integer" | "number" | "string" | "object";
    readonly allowed: string;
    readonly check: (value: unknown) => boolean;
}

export const booleanField: FieldRule = {
    kind: "boolean",
    allowed: "true or false",
    check: (v) => typeof v === "boolean",
};

export function integerField(min: number, max: number): FieldRule {
    return {
        kind: "integer",
        allowed: `an integer from ${min} to ${max}`,
        check: (v) => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max,
    };
}

/** A number strictly between min and max, or from min (inclusive) when `minInclusive`. */
export function numberField(min: number, max: number, minInclusive = false): FieldRule {
    return {
        kind: "number",
        allowed: `a number ${minInclusive ? "at least" : "greater than"} ${min} and less than ${max}`,
        check: (v) => typeof v === "number" && Number.isFinite(v) && (minInclusive ? v >= min : v > min) && v < max,
    };
}

/** The rule of a hyperparameter's range in training/contract.json, which train.py checks by too. */
export function rangeField(range: HyperparameterRange): FieldRule {
    return range.kind === "integer"
        ? integerField(range.min, range.max)
        : numberField(range.min, range.max, range.minInclusive ?? false);
}

export function patternField(pattern: RegExp, allowed: string): FieldRule {
    return { kind: "string", allowed, check: (v) => typeof v === "string" && pattern.test(v) };
}

export function oneOfField(values: readonly string[]): FieldRule {
    return {
        kind: "string",
        allowed: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
        check: (v) => values.includes(v as string),
    };
}

/** A JSON object whose own fields the caller checks with validateEvent (and its field prefix). */
export function objectField(allowed: string): FieldRule {
    return { kind: "object", allowed, check: (v) => typeof v === "object" && v !== null && !Array.isArray(v) };
}

/** Parses a command-line value by the rule's kind, or returns why it is refused. */
export function parseFieldText(rule: FieldRule, text: string): { value: unknown } | { error: string } {
    let value: unknown = text;
    if (rule.kind === "integer" || rule.kind === "number") value = text.trim() === "" ? NaN : Number(text);
    if (rule.kind === "boolean") value = text === "true" ? true : text === "false" ? false : text;
    return rule.check(value) ? { value } : { error: `expected ${rule.allowed}.` };
}

/**
 * Checks a Lambda event against its rules: an unknown key (whatever its name, including
 * members of Object.prototype such as `__proto__` or `toString`) or a value that breaks
 * its rule throws an error naming the field, its value and what is allowed.
 */
export function validateEvent<T>(
    event: unknown,
    rules: Readonly<Record<string, FieldRule>>,
    eventName: string,
    fieldPrefix = "",
): Partial<T> {
    if (event === undefined || event === null) return {};
    if (typeof event !== "object" || Array.isArray(event)) {
        throw userFacingError(`The ${eventName} event must be a JSON object, got ${JSON.stringify(event)}.`);
    }
    const given: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(event)) {
        if (!Object.prototype.hasOwnProperty.call(rules, key)) {
            throw userFacingError(
                `Unknown field ${JSON.stringify(fieldPrefix + key)} in the ${eventName} event. Allowed fields: ${Object.keys(
                    rules,
                )
                    .map((k) => fieldPrefix + k)
                    .join(", ")}.`,
            );
        }
        if (value !== undefined && !rules[key].check(value)) {
            throw userFacingError(
                `Invalid "${fieldPrefix + key}": ${JSON.stringify(value)}. It must be ${rules[key].allowed}.`,
            );
        }
        given[key] = value;
    }
    return given as Partial<T>;
}
