import { ChildProcess, fork } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { MockResource } from "./pulumiMocks";

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
let loaded = 0;
const runners = new Set<ChildProcess>();
process.once("exit", () => runners.forEach((child) => child.kill()));

export type Handler = (event: unknown, context?: { awsRequestId: string }) => Promise<any>;

export interface LambdaZip {
    /** Paths in the zip besides __index.js, e.g. `node_modules/p-limit`. */
    readonly entries: string[];
    readonly indexJs: string;
    readonly sourcePaths: Record<string, string>;
}

/** The archive a CallbackFunction would upload: its serialized `__index.js` and packages. */
export async function lambdaZip(fn: MockResource): Promise<LambdaZip> {
    const assets: Record<string, any> = await fn.inputs.code.assets;
    const indexJs: string = await assets["__index.js"].text;
    const sourcePaths: Record<string, string> = {};
    for (const [entry, asset] of Object.entries(assets)) {
        if (entry !== "__index.js") sourcePaths[entry] = await asset.path;
    }
    return { entries: Object.keys(sourcePaths).sort(), indexJs, sourcePaths };
}

/**
 * What the Lambda platform sets besides the function's own variables: the region, the
 * function's name and memory, and (from its role) credentials; here the test credentials.
 * Nothing else comes from this process: where AWS is (`AWS_ENDPOINT_URL*`) the test passes.
 */
function platformEnv(fn: MockResource, dir: string): Record<string, string> {
    return {
        PATH: process.env.PATH ?? "",
        TZ: ":UTC",
        AWS_REGION: "eu-west-2",
        AWS_DEFAULT_REGION: "eu-west-2",
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.inputs.runtime}`,
        AWS_LAMBDA_FUNCTION_NAME: fn.state.name ?? fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.inputs.memorySize ?? 128),
        LAMBDA_TASK_ROOT: dir,
        // Not the platform's, but keeps the SDK from probing for an instance role it will not find.
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
    };
}

/**
 * Lays the zip out in a folder of the project (so that `@aws-sdk/*` resolves from the
 * project's node_modules, as it does from the Lambda runtime) and runs its handler in a
 * process of its own with exactly the function's environment variables, what the platform
 * sets, and `extraEnv`: nothing leaks into this process, nor from one function to another.
 */
export async function loadDeployedHandler(fn: MockResource, extraEnv: Record<string, string> = {}): Promise<Handler> {
    const zip = await lambdaZip(fn);
    const dir = path.join(PROJECT_ROOT, ".test-output", `${fn.name}-${process.pid}-${loaded++}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "__index.js"), zip.indexJs);
    for (const [entry, source] of Object.entries(zip.sourcePaths)) {
        fs.cpSync(source, path.join(dir, entry), { recursive: true });
    }
    const variables: Record<string, string> = fn.inputs.environment?.variables ?? {};
    const env = {
        ...platformEnv(fn, dir),
        ...variables,
        ...extraEnv,
        LAMBDA_RUNNER_INDEX: path.join(dir, "__index.js"),
    };
    const child: ChildProcess = fork(path.join(__dirname, "lambdaRunner.js"), [], {
        env,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    runners.add(child);
    const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
    await new Promise<void>((resolve, reject) => {
        child.once("message", (message: any) => {
            if (message.loadError) reject(Object.assign(new Error(message.loadError.message), message.loadError));
            else if (message.ready !== "function")
                reject(new Error(`${fn.name}'s __index.js exports no handler (${message.ready})`));
            else resolve();
        });
        child.once("exit", (code) => reject(new Error(`${fn.name}'s runner exited (${code}) before it loaded`)));
    });
    child.on("message", (message: any) => {
        const call = pending.get(message.id);
        if (!call) return;
        pending.delete(message.id);
        for (const line of message.logs ?? []) (console as any)[line.level](line.text);
        if (message.error) call.reject(Object.assign(new Error(message.error.message), message.error));
        else call.resolve(message.result);
    });
    child.on("exit", (code) => {
        runners.delete(child);
        for (const call of pending.values())
            call.reject(new Error(`${fn.name}'s process exited (${code}) during an invocation`));
        pending.clear();
    });
    let calls = 0;
    return (event, context) =>
        new Promise((resolve, reject) => {
            const id = ++calls;
            pending.set(id, { resolve, reject });
            child.send({ id, event, context: context ?? { awsRequestId: `test-${id}` } });
        });
}
