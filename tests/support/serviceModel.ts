import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { RecordedRequest } from "./proxy";

/**
 * The AWS service models (botocore's JSON, installed in .venv with moto) and a check of a
 * request against one: required members, unknown members, types, enums, lengths, ranges and
 * patterns, as the service itself validates them. The stand-ins and the proxy use it so that
 * what they accept is what AWS would accept.
 */

const ROOT = path.resolve(__dirname, "..", "..");

interface Shape {
    type: string;
    required?: string[];
    members?: Record<string, { shape: string; location?: string; locationName?: string }>;
    member?: { shape: string };
    key?: { shape: string };
    value?: { shape: string };
    enum?: string[];
    min?: number;
    max?: number;
    pattern?: string;
    union?: boolean;
}

export interface ServiceModel {
    readonly metadata: { protocol: string; targetPrefix?: string };
    readonly operations: Record<string, { input?: { shape: string }; http: { method: string; requestUri: string } }>;
    readonly shapes: Record<string, Shape>;
}

const models = new Map<string, ServiceModel>();

/** botocore's model of a service (e.g. "sagemaker", "sagemaker-runtime"), from the test environment. */
export function serviceModel(service: string): ServiceModel {
    if (!models.has(service)) {
        const lib = path.join(ROOT, ".venv", "lib");
        const python = fs.existsSync(lib) ? fs.readdirSync(lib).find((d) => d.startsWith("python")) : undefined;
        const dir = python && path.join(lib, python, "site-packages", "botocore", "data", service);
        if (!dir || !fs.existsSync(dir)) {
            throw new Error(`botocore's model of ${service} is missing: run node scripts/ensure-venv.js first`);
        }
        const version = fs.readdirSync(dir).sort().pop()!;
        const file = path.join(dir, version, "service-2.json.gz");
        models.set(service, JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString("utf8")));
    }
    return models.get(service)!;
}

const patterns = new Map<string, RegExp | null>();

/**
 * The model's patterns are Java regular expressions that must match the whole value; the Java
 * syntax they use that JavaScript lacks (\A, \z, \p{Print}) is translated. Two tag patterns
 * that no JavaScript engine compiles stay unchecked (null).
 */
function patternOf(source: string): RegExp | null {
    if (!patterns.has(source)) {
        const translated = source
            .replace(/\\A/g, "^")
            .replace(/\\[zZ]/g, "$")
            .replace(/\[\\p\{Print\}\]|\\p\{Print\}/g, "[\\x20-\\x7E]");
        let compiled: RegExp | null = null;
        for (const flags of ["u", ""]) {
            try {
                compiled = new RegExp(`^(?:${translated})$`, flags);
                break;
            } catch {
                // Some Java syntax is valid only without the u flag, or not at all in JavaScript.
            }
        }
        patterns.set(source, compiled);
    }
    return patterns.get(source)!;
}

function lengthProblem(where: string, shape: Shape, length: number, unit: string): string | undefined {
    if (shape.min !== undefined && length < shape.min) return `${where}: ${length} ${unit}, fewer than ${shape.min}`;
    if (shape.max !== undefined && length > shape.max) return `${where}: ${length} ${unit}, more than ${shape.max}`;
    return undefined;
}

/** Every way `value` breaks `shapeName`, each as "<path>: <what>". */
export function shapeProblems(model: ServiceModel, shapeName: string, value: unknown, where = ""): string[] {
    const shape = model.shapes[shapeName];
    const at = where || shapeName;
    const problems: string[] = [];
    const add = (problem: string | undefined) => problem && problems.push(problem);
    switch (shape.type) {
        case "structure": {
            if (typeof value !== "object" || value === null || Array.isArray(value))
                return [`${at}: expected an object, got ${JSON.stringify(value)}`];
            const record = value as Record<string, unknown>;
            for (const name of shape.required ?? []) {
                if (record[name] === undefined) problems.push(`${at}: missing required member ${name}`);
            }
            const present = Object.keys(record).filter((name) => record[name] !== undefined);
            if (shape.union && present.length !== 1)
                problems.push(`${at}: a union needs exactly one member, got ${present.length}`);
            for (const name of present) {
                const member = shape.members?.[name];
                if (!member) problems.push(`${at}: unknown member ${name}`);
                else
                    problems.push(
                        ...shapeProblems(model, member.shape, record[name], where ? `${where}.${name}` : name),
                    );
            }
            return problems;
        }
        case "list":
            if (!Array.isArray(value)) return [`${at}: expected a list, got ${JSON.stringify(value)}`];
            add(lengthProblem(at, shape, value.length, "items"));
            value.forEach((item, i) =>
                problems.push(...shapeProblems(model, shape.member!.shape, item, `${at}[${i}]`)),
            );
            return problems;
        case "map": {
            if (typeof value !== "object" || value === null || Array.isArray(value))
                return [`${at}: expected a map, got ${JSON.stringify(value)}`];
            const entries = Object.entries(value);
            add(lengthProblem(at, shape, entries.length, "entries"));
            for (const [key, item] of entries) {
                problems.push(...shapeProblems(model, shape.key!.shape, key, `${at} key ${JSON.stringify(key)}`));
                problems.push(...shapeProblems(model, shape.value!.shape, item, `${at}.${key}`));
            }
            return problems;
        }
        case "string": {
            if (typeof value !== "string") return [`${at}: expected a string, got ${JSON.stringify(value)}`];
            if (shape.enum && !shape.enum.includes(value))
                return [`${at}: ${JSON.stringify(value)} is not one of ${shape.enum.join(", ")}`];
            add(lengthProblem(at, shape, [...value].length, "characters"));
            const pattern = shape.pattern === undefined ? null : patternOf(shape.pattern);
            if (pattern && !pattern.test(value))
                problems.push(`${at}: ${JSON.stringify(value)} must match ${shape.pattern}`);
            return problems;
        }
        case "integer":
        case "long":
            if (!Number.isInteger(value)) return [`${at}: expected an integer, got ${JSON.stringify(value)}`];
            break;
        case "float":
        case "double":
            if (typeof value !== "number" || !Number.isFinite(value))
                return [`${at}: expected a number, got ${JSON.stringify(value)}`];
            break;
        case "boolean":
            if (typeof value !== "boolean") return [`${at}: expected true or false, got ${JSON.stringify(value)}`];
            return [];
        case "timestamp":
            if (typeof value !== "number" && typeof value !== "string")
                return [`${at}: expected a timestamp, got ${JSON.stringify(value)}`];
            return [];
        case "blob":
            if (Buffer.isBuffer(value)) return [lengthProblem(at, shape, value.length, "bytes")].filter(isText);
            if (typeof value !== "string") return [`${at}: expected base64 text, got ${JSON.stringify(value)}`];
            return [lengthProblem(at, shape, Buffer.from(value, "base64").length, "bytes")].filter(isText);
        default:
            return [];
    }
    const number = value as number;
    if (shape.min !== undefined && number < shape.min) problems.push(`${at}: ${number} is below ${shape.min}`);
    if (shape.max !== undefined && number > shape.max) problems.push(`${at}: ${number} is above ${shape.max}`);
    return problems;
}

const isText = (x: string | undefined): x is string => x !== undefined;

/** Every way an operation's input breaks the model (none for an operation the model lacks an input for). */
export function operationProblems(model: ServiceModel, operation: string, input: unknown): string[] {
    const op = model.operations[operation];
    if (!op) return [`unknown operation ${operation}`];
    return op.input ? shapeProblems(model, op.input.shape, input) : [];
}

export interface CheckedRequest {
    readonly operation: string;
    readonly problems: string[];
}

/**
 * A SageMaker (JSON protocol) or SageMaker Runtime InvokeEndpoint (REST) request as the
 * service reads it, checked against botocore's model; undefined for any other request.
 */
export function checkSageMakerRequest(request: RecordedRequest): CheckedRequest | undefined {
    const target = request.headers["x-amz-target"];
    if (typeof target === "string" && target.startsWith("SageMaker.")) {
        const operation = target.slice("SageMaker.".length);
        let input: unknown;
        try {
            input = JSON.parse(request.body.toString("utf8") || "{}");
        } catch {
            return { operation, problems: ["the body is not JSON"] };
        }
        return { operation, problems: operationProblems(serviceModel("sagemaker"), operation, input) };
    }
    const invocation = /^\/endpoints\/([^/?]*)\/invocations(?:\?|$)/.exec(request.url);
    if (request.method === "POST" && invocation) {
        const model = serviceModel("sagemaker-runtime");
        const inputShape = model.operations.InvokeEndpoint.input!.shape;
        const shape = model.shapes[inputShape];
        const input: Record<string, unknown> = {};
        for (const [name, member] of Object.entries(shape.members!)) {
            if (member.location === "uri") input[name] = decodeURIComponent(invocation[1]);
            else if (member.location === "header") {
                const header = request.headers[member.locationName!.toLowerCase()];
                if (header !== undefined)
                    input[name] = model.shapes[member.shape].type === "boolean" ? header === "true" : header;
            } else if (!member.location) input[name] = request.body;
        }
        return { operation: "InvokeEndpoint", problems: shapeProblems(model, inputShape, input) };
    }
    return undefined;
}
