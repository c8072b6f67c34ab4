import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { setEnv } from "./env";

export const ACCOUNT_ID = "123456789012";
export const REGION = "eu-west-2";
/** The AWS Deep Learning Containers registry for eu-west-2, as getPrebuiltEcrImage answers it. */
export const DLC_REGISTRY_ID = "763104351884";

/** The resource options the engine receives, which the mocks themselves do not show. */
export interface ResourceOptionsSeen {
    readonly urn: string;
    readonly parentUrn: string;
    readonly retainOnDelete: boolean;
    /** The URNs the resource was once known by, resolved from its alias specs. */
    readonly aliasUrns: string[];
    readonly customTimeouts?: { create: string; update: string; delete: string };
}

export interface MockResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
    readonly state: Record<string, any>;
    /** Set when the program reads an existing resource (`Resource.get`) instead of managing a new one. */
    readonly readId?: string;
    /** Registered resources only (a read has no options to speak of). */
    options?: ResourceOptionsSeen;
}

export interface StackRun {
    readonly resources: MockResource[];
    readonly outputs: Record<string, unknown>;
    readonly calls: { token: string; inputs: Record<string, any> }[];
    ofType(type: string): MockResource[];
    one(type: string, nameIncludes?: string): MockResource;
}

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** What the provider would compute for a resource: ids, ARNs and auto-names. */
function providerState(type: string, name: string, inputs: Record<string, any>, id?: string): Record<string, any> {
    const autoName = `${name}-a1b2c3d`;
    switch (type) {
        case "aws:s3/bucket:Bucket": {
            const bucket = inputs.bucket ?? id;
            return { ...inputs, arn: `arn:aws:s3:::${bucket}`, bucket };
        }
        case "aws:iam/role:Role":
            return {
                ...inputs,
                arn: `arn:aws:iam::${ACCOUNT_ID}:role/${inputs.name ?? autoName}`,
                name: inputs.name ?? autoName,
            };
        case "aws:lambda/function:Function": {
            const functionName = inputs.name ?? autoName;
            return {
                ...inputs,
                name: functionName,
                arn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${functionName}`,
            };
        }
        case "aws:cloudwatch/logGroup:LogGroup":
            return { ...inputs, arn: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:${inputs.name}` };
        case "aws:sagemaker/endpoint:Endpoint":
            return { ...inputs, arn: `arn:aws:sagemaker:${REGION}:${ACCOUNT_ID}:endpoint/${inputs.name}` };
        case "aws:apigatewayv2/api:Api":
            return {
                ...inputs,
                apiEndpoint: `https://a1b2c3d4e5.execute-api.${REGION}.amazonaws.com`,
                executionArn: `arn:aws:execute-api:${REGION}:${ACCOUNT_ID}:a1b2c3d4e5`,
            };
        case "aws:dynamodb/table:Table": {
            const tableName = inputs.name ?? autoName;
            return { ...inputs, name: tableName, arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${tableName}` };
        }
        case "aws:iam/policy:Policy":
            return {
                ...inputs,
                arn: `arn:aws:iam::${ACCOUNT_ID}:policy/${inputs.name ?? autoName}`,
                name: inputs.name ?? autoName,
            };
        case "aws:cloudwatch/eventRule:EventRule":
            return {
                ...inputs,
                arn: `arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/${inputs.name ?? autoName}`,
                name: inputs.name ?? autoName,
            };
        case "aws:sns/topic:Topic":
            return {
                ...inputs,
                arn: `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${inputs.name ?? autoName}`,
                name: inputs.name ?? autoName,
            };
        case "aws:sagemaker/modelPackageGroup:ModelPackageGroup":
            return {
                ...inputs,
                arn: `arn:aws:sagemaker:${REGION}:${ACCOUNT_ID}:model-package-group/${inputs.modelPackageGroupName}`,
            };
        case "aws:sqs/queue:Queue": {
            const queueName = inputs.name ?? autoName;
            return {
                ...inputs,
                name: queueName,
                arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${queueName}`,
                url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/${queueName}`,
            };
        }
        case "aws:sagemaker/model:Model":
        case "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
            return { ...inputs, name: inputs.name ?? autoName };
        default:
            return inputs;
    }
}

/** What already exists in the account the mocks answer for: the user's images bucket and catadata table. */
export interface MockAccount {
    /** Buckets that getBucket does not find (every other bucket exists). */
    readonly missingBuckets?: readonly string[];
    /** Tables that getTable does not find. */
    readonly missingTables?: readonly string[];
    /** Each table's partition key and type, and its sort key if any (default imageName, S, none). */
    readonly tableKeys?: Readonly<Record<string, { hashKey: string; type: string; rangeKey?: string }>>;
}

/** A failed invoke as the engine reports it to the SDK: a gRPC error whose details carry the provider's words. */
function invokeFailure(token: string, message: string): Error {
    return Object.assign(new Error(message), { details: `invocation of ${token} returned an error: ${message}` });
}

function callResult(token: string, inputs: Record<string, any>, account: MockAccount): Record<string, any> {
    switch (token) {
        case "aws:s3/getBucket:getBucket":
            // The provider's words for a HeadBucket that finds nothing.
            if (account.missingBuckets?.includes(inputs.bucket))
                throw invokeFailure(token, `reading S3 Bucket (${inputs.bucket}): couldn't find resource`);
            return {
                ...inputs,
                id: inputs.bucket,
                arn: `arn:aws:s3:::${inputs.bucket}`,
                region: REGION,
                bucketDomainName: `${inputs.bucket}.s3.amazonaws.com`,
            };
        case "aws:dynamodb/getTable:getTable": {
            if (account.missingTables?.includes(inputs.name))
                throw invokeFailure(
                    token,
                    `reading DynamoDB Table (${inputs.name}): operation error DynamoDB: DescribeTable, ResourceNotFoundException: Requested resource not found`,
                );
            const key = account.tableKeys?.[inputs.name] ?? { hashKey: "imageName", type: "S" };
            return {
                ...inputs,
                id: inputs.name,
                arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${inputs.name}`,
                hashKey: key.hashKey,
                rangeKey: key.rangeKey ?? "",
                attributes: [
                    { name: key.hashKey, type: key.type },
                    ...(key.rangeKey ? [{ name: key.rangeKey, type: "S" }] : []),
                ],
                billingMode: "PAY_PER_REQUEST",
            };
        }
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                accountId: ACCOUNT_ID,
                arn: `arn:aws:iam::${ACCOUNT_ID}:user/test`,
                userId: "AIDTEST",
                id: ACCOUNT_ID,
            };
        case "aws:index/getRegion:getRegion":
            return {
                name: REGION,
                region: REGION,
                id: REGION,
                description: "Europe (London)",
                endpoint: `ec2.${REGION}.amazonaws.com`,
            };
        case "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage": {
            const region = inputs.region ?? REGION;
            return {
                ...inputs,
                id: DLC_REGISTRY_ID,
                region,
                registryId: DLC_REGISTRY_ID,
                registryPath: `${DLC_REGISTRY_ID}.dkr.ecr.${region}.amazonaws.com/${inputs.repositoryName}:${inputs.imageTag}`,
            };
        }
        default:
            throw new Error(`No mock for invoke ${token}`);
    }
}

/** The URN an alias spec names: the resource's own name and type under the alias's parent. */
function aliasUrn(alias: any, name: string, type: string): string {
    const parentUrn: string = alias.parenturn;
    const parentType = parentUrn.split("::")[2];
    return `${parentUrn.split("::").slice(0, 2).join("::")}::${parentType}$${alias.type || type}::${alias.name || name}`;
}

/** Wraps the mock monitor so that each registration's options are kept with its resource. */
function recordResourceOptions(resources: MockResource[]): void {
    const monitor = (pulumi.runtime as any).getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request: any, callback: (error: unknown, response: any) => void) =>
        register(request, (error: unknown, response: any) => {
            if (!error) {
                const resource = [...resources]
                    .reverse()
                    .find((r) => r.type === request.getType() && r.name === request.getName());
                const timeouts = request.getCustomtimeouts()?.toObject();
                if (resource) {
                    resource.options = {
                        urn: response.getUrn(),
                        parentUrn: request.getParent(),
                        retainOnDelete: request.getRetainondelete() === true,
                        aliasUrns: [
                            ...request.getAliasurnsList(),
                            ...request
                                .getAliasesList()
                                .map((a: any) => aliasUrn(a.toObject().spec, request.getName(), request.getType())),
                        ],
                        customTimeouts:
                            timeouts && (timeouts.create || timeouts.update || timeouts.pb_delete)
                                ? { create: timeouts.create, update: timeouts.update, delete: timeouts.pb_delete }
                                : undefined,
                    };
                }
            }
            callback(error, response);
        });
}

/**
 * Evaluates `program` (a part of the stack, e.g. one check) under the same mocks as runStack,
 * without running index.ts: its output's value, or its failure.
 */
export async function underMocks<T>(program: () => pulumi.Output<T>, account: MockAccount = {}): Promise<T> {
    pulumi.runtime.setAllConfig({ "aws:region": REGION });
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: `${args.name}-id`, state: providerState(args.type, args.name, args.inputs) }),
            call: (args) => callResult(args.token, args.inputs, account),
        },
        "bootboots-ai",
        "sandbox",
        true,
    );
    return resolve(program());
}

/** An output's value, or its failure (an error thrown in one of its applies). */
function resolve<T>(output: pulumi.Output<T>): Promise<T> {
    return (output as unknown as { promise(): Promise<T> }).promise();
}

/**
 * Forgets the stack program's modules, so that the next run reads its config afresh. The
 * CLI's modules stay: the CLI loads its commands on first use, and a second copy of
 * cli/errors.ts would make its CliError a different class from the one runCli checks.
 */
function forgetProjectModules(): void {
    const kept = ["node_modules", "tests", "cli"].map((dir) => `${PROJECT_ROOT}${path.sep}${dir}${path.sep}`);
    for (const key of Object.keys(require.cache)) {
        if (
            key.startsWith(PROJECT_ROOT) &&
            !kept.some((dir) => key.startsWith(dir)) &&
            !key.includes(`${path.sep}node_modules${path.sep}`)
        ) {
            delete require.cache[key];
        }
    }
}

/**
 * Keeps what ts-node compiles for each project file, so that a module loaded afresh for the
 * next run is not transpiled again (a file's source does not change within a test process).
 */
function compileProjectFilesOnce(): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const extensions = require("module")._extensions as Record<string, (module: any, filename: string) => void>;
    const transpile = extensions[".ts"];
    const compiled = new Map<string, string>();
    extensions[".ts"] = (module, filename) => {
        const code = compiled.get(filename);
        if (code !== undefined) return module._compile(code, filename);
        const compile = module._compile;
        module._compile = function (this: unknown, output: string, file: string) {
            compiled.set(file, output);
            return compile.call(this, output, file);
        };
        return transpile(module, filename);
    };
}
compileProjectFilesOnce();

/**
 * Reads the installed package tree once: Pulumi reads it for every Lambda it packages, and
 * node_modules does not change within a test process.
 */
function readPackageTreeOnce(): void {
    const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi"));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Arborist } = require(require.resolve("@npmcli/arborist", { paths: [pulumiDir] }));
    const loadActual = Arborist.prototype.loadActual;
    const trees = new Map<string, Promise<unknown>>();
    Arborist.prototype.loadActual = function (this: { path: string }, ...args: unknown[]) {
        if (args.length > 0) return loadActual.apply(this, args);
        if (!trees.has(this.path)) trees.set(this.path, loadActual.apply(this));
        return trees.get(this.path);
    };
}
readPackageTreeOnce();

const runs = new Map<string, Promise<StackRun>>();

/**
 * Runs index.ts under Pulumi mocks with the given `bootboots-ai:` config and returns
 * every resource registered (with its inputs) and the stack outputs. The program is a
 * function of its config, so a config already run in this process answers from the first
 * run (serializing the Lambdas is most of a run's time).
 */
export function runStack(config: Record<string, string> = {}, account: MockAccount = {}): Promise<StackRun> {
    const key = JSON.stringify([Object.entries(config).sort(), account]);
    if (!runs.has(key)) runs.set(key, runProgram(config, account));
    return runs.get(key)!;
}

async function runProgram(config: Record<string, string>, account: MockAccount): Promise<StackRun> {
    const resources: MockResource[] = [];
    const calls: { token: string; inputs: Record<string, any> }[] = [];
    pulumi.runtime.setAllConfig(
        Object.fromEntries([
            ["aws:region", REGION],
            ...Object.entries(config).map(([key, value]) => [`bootboots-ai:${key}`, value]),
        ]),
    );
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const state = providerState(args.type, args.name, args.inputs, args.id);
                resources.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs,
                    state,
                    readId: args.id || undefined,
                });
                // A bucket's id is its name, as the provider reports it.
                const id = args.type === "aws:s3/bucket:Bucket" ? state.bucket : `${args.name}-id`;
                return { id, state };
            },
            call(args) {
                calls.push({ token: args.token, inputs: args.inputs });
                return callResult(args.token, args.inputs, account);
            },
        },
        "bootboots-ai",
        "sandbox",
        true,
    );
    recordResourceOptions(resources);
    forgetProjectModules();
    // The program reads the model's decision from S3 at deploy time: never from real AWS in a test.
    const restoreEnv =
        process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3
            ? () => undefined
            : setEnv({ AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9" });
    const outputs: Record<string, unknown> = {};
    // Pulumi takes a stack trace for every resource and promise; source-mapping each one (ts-node's
    // hook) is a third of a run, and a failing test still reports through the hook restored below.
    const prepareStackTrace = Error.prepareStackTrace;
    delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    try {
        // The program runs on being loaded, as `pulumi up` runs it; loaded afresh for each config.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(path.join(PROJECT_ROOT, "index.ts")) as Record<string, unknown>;
        for (const [key, value] of Object.entries(program)) {
            outputs[key] = pulumi.Output.isInstance(value) ? await resolve(value) : value;
        }
        // Let resources registered after the exports settle (e.g. the bucket policies).
        await new Promise((done) => setTimeout(done, 50));
    } finally {
        Error.prepareStackTrace = prepareStackTrace;
        restoreEnv();
    }
    return {
        resources,
        outputs,
        calls,
        ofType: (type) => resources.filter((r) => r.type === type),
        one(type, nameIncludes = "") {
            const found = resources.filter((r) => r.type === type && r.name.includes(nameIncludes));
            if (found.length !== 1)
                throw new Error(`Expected one ${type} named *${nameIncludes}*, found ${found.length}`);
            return found[0];
        },
    };
}
