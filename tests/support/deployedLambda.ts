import * as fs from "fs";
import * as path from "path";
import { MockResource } from "./pulumiMocks";

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
let loaded = 0;

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
 * Lays the zip out in a folder of the project (so that `@aws-sdk/*` resolves from the
 * project's node_modules, as it does from the Lambda runtime) and loads its handler
 * with the function's environment variables set, as Lambda does.
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
    Object.assign(process.env, variables, extraEnv);
    const module = require(path.join(dir, "__index.js"));
    return module.handler as Handler;
}
