import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
    CreateEndpointCommand,
    CreateEndpointConfigCommand,
    CreateModelCommand,
    CreateTrainingJobCommand,
    DeleteEndpointCommand,
    ListTrainingJobsCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { runCli } from "../../cli/main";
import { DatasetManifest, ManifestImage } from "../../lib/dataset";
import {
    EndpointStandIn,
    checkModelFixture,
    sampleFiles as sampleFilesOf,
    startEndpointStandIn,
} from "./endpointStandIn";
import { Handler, loadDeployedHandler } from "./deployedLambda";
import { InvokeServer, startInvokeServer } from "./lambdaInvokeServer";
import { Moto, clientConfig, sharedMoto } from "./moto";
import { Proxy, startProxy } from "./proxy";
import { runStack } from "./pulumiMocks";
import { IMAGES_PREFIX, SMALL_SEED, WORLD, putLabels, seedLabels, seedWorld, tinyJpeg } from "./seed";
import { StubPulumi, installStubPulumi } from "./stubPulumi";
import { CLI_ACCESS_KEY, iamActionOf, signedBy } from "./iamActions";
import { COMMANDS } from "../../cli/commandTable";

export const ROOT = path.join(__dirname, "..", "..");
export const CLASSES = ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"];
export const world = WORLD;
export const MODEL_BUCKET = WORLD.modelBucket;
export const ENDPOINT = "bootboots";
/** Debian's chromium package, which .ci/run installs; nothing downloads a browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface Run {
    code: number;
    out: string;
    err: string;
}

export async function cli(...args: string[]): Promise<Run> {
    let out = "";
    let err = "";
    const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
}

export const sampleFiles = () => sampleFilesOf(CLASSES);

/** What a suite's world holds once the `before` of `useCliWorld` has made it. */
export interface CliWorld {
    /** The Pulumi CLI stand-in on PATH: it answers `pulumi stack output --json` with `outputs`. */
    stub: StubPulumi;
    /** The Lambda Invoke stand-in that runs the deployed data prep and trigger. */
    invoke: InvokeServer;
    /** In front of moto for SageMaker (and the Price List): records, and answers what moto lacks. */
    proxy: Proxy;
    /** In front of moto for the command: every S3, DynamoDB, logs and SQS request it sends, recorded. */
    recorder: Proxy;
    /** The TF Serving stand-in serving the trained fixture model as the stack's endpoint. */
    endpoint: EndpointStandIn;
    /** The stack's outputs under Pulumi mocks, without a model. */
    outputs: Record<string, unknown>;
    /** The environment before the suite, restored after it. */
    savedEnv: NodeJS.ProcessEnv;
    /** A scratch folder of the suite's own. */
    workDir: string;
    /** The shared moto server. */
    moto: Moto;
    /** The stack's data prep as deployed. */
    dataPrep: Handler;
}

/** The world of the suite that is running: set by its `before`, for the helpers below. */
let current: CliWorld | undefined;
function live(): CliWorld {
    assert.ok(current, "the suite calls useCliWorld() before it uses the world");
    return current;
}

export const sagemaker = () => new SageMakerClient(clientConfig(live().moto.endpoint));
export const s3 = () => new S3Client(clientConfig(live().moto.endpoint));
export const jobCount = async () =>
    (await sagemaker().send(new ListTrainingJobsCommand({}))).TrainingJobSummaries?.length ?? 0;

export const withEndpoint = () => live().stub.setOutputs({ ...live().outputs, endpointName: ENDPOINT });
export const withoutEndpoint = () =>
    live().stub.setOutputs(Object.fromEntries(Object.entries(live().outputs).filter(([, v]) => v !== undefined)));

/** Each suite builds what its tests need, once, so that every test also passes when run alone. */
const memos: (() => void)[] = [];
const once = <T>(make: () => Promise<T>) => {
    let made: Promise<T> | undefined;
    memos.push(() => (made = undefined));
    return () => (made ??= make());
};

/** A dataset marked latest, as data prep builds it (what --skip-data-prep trains on). */
export const ensureDataset = once(async () => {
    const result = await live().dataPrep({});
    assert.equal(result.success, true, JSON.stringify(result));
});

export const STRONG = "bootboots-strong-12-epochs";
export const WEAK = "bootboots-weak-1-epoch";
export const LEGACY = "bootboots-legacy-no-test";
export const ROLE = "arn:aws:iam::123456789012:role/bootboots-sagemaker";
export const fixtureOutput = (fixture: string) => path.join(ROOT, ".test-output", fixture, "output");

/** A completed job in moto whose output.tar.gz holds what train.py wrote. */
/** A completed job whose output.tar.gz holds `files` of `outputDir`; with `datasetId`, trained on that dataset. */
export async function completedJob(
    name: string,
    outputDir: string,
    files: string[],
    datasetId?: string,
): Promise<void> {
    await sagemaker().send(
        new CreateTrainingJobCommand({
            TrainingJobName: name,
            RoleArn: ROLE,
            AlgorithmSpecification: { TrainingImage: "image", TrainingInputMode: "File" },
            ...(datasetId
                ? {
                      InputDataConfig: [
                          {
                              ChannelName: "training",
                              DataSource: {
                                  S3DataSource: {
                                      S3DataType: "S3Prefix",
                                      S3Uri: `s3://${world.trainingBucket}/datasets/${datasetId}/training/`,
                                  },
                              },
                          },
                      ],
                  }
                : {}),
            OutputDataConfig: { S3OutputPath: `s3://${MODEL_BUCKET}/training-output/` },
            ResourceConfig: { InstanceType: "ml.m5.xlarge", InstanceCount: 1, VolumeSizeInGB: 30 },
            StoppingCondition: { MaxRuntimeInSeconds: 3600 },
        }),
    );
    const archive = path.join(live().workDir, `${name}.tar.gz`);
    await tar.create({ gzip: true, file: archive, cwd: outputDir }, files);
    await s3().send(
        new PutObjectCommand({
            Bucket: MODEL_BUCKET,
            Key: `training-output/${name}/output/output.tar.gz`,
            Body: fs.readFileSync(archive),
        }),
    );
}

/** The pytest suite's two exported models as completed jobs, and one trained before the test split. */
export const ensureFixtureJobs = once(async () => {
    for (const fixture of ["trained-model", "weak-model"]) checkModelFixture(path.dirname(fixtureOutput(fixture)));
    const legacyDir = path.join(live().workDir, "legacy-output");
    fs.mkdirSync(legacyDir, { recursive: true });
    const {
        test: _test,
        decision: _decision,
        ...legacy
    } = JSON.parse(fs.readFileSync(path.join(fixtureOutput("trained-model"), "evaluation.json"), "utf8"));
    fs.writeFileSync(path.join(legacyDir, "evaluation.json"), JSON.stringify(legacy));
    await completedJob(LEGACY, legacyDir, ["evaluation.json"]);
    await completedJob(WEAK, fixtureOutput("weak-model"), ["evaluation.json", "decision.json"]);
    await completedJob(STRONG, fixtureOutput("trained-model"), ["evaluation.json", "decision.json"]);
});

/** A dataset whose held-out test set is the fixture's sample images. */
export const EVALUATED_DATASET = "20260301T120000Z-e7a1";
export const ensureEvaluatedDataset = once(async () => {
    const images: ManifestImage[] = [];
    for (const [i, sample] of sampleFiles().entries()) {
        const key = `datasets/${EVALUATED_DATASET}/test/${sample.className}/${i}.jpg`;
        const body = fs.readFileSync(sample.file);
        await s3().send(new PutObjectCommand({ Bucket: world.trainingBucket, Key: key, Body: body }));
        images.push({
            imageName: `${sample.className}-${i}.jpg`,
            sourceKey: `${IMAGES_PREFIX}${i}.jpg`,
            key,
            class: sample.className,
            split: "test",
            repaired: false,
            bytes: body.length,
        });
    }
    const manifest = { datasetId: EVALUATED_DATASET, classes: CLASSES, images } as unknown as DatasetManifest;
    await s3().send(
        new PutObjectCommand({
            Bucket: world.trainingBucket,
            Key: `datasets/${EVALUATED_DATASET}/manifest.json`,
            Body: JSON.stringify(manifest),
        }),
    );
});

/** Points the stack's endpoint at a job's model, as pulumi up does. */
export async function serve(job: string): Promise<void> {
    await sagemaker()
        .send(new DeleteEndpointCommand({ EndpointName: ENDPOINT }))
        .catch(() => undefined);
    const modelName = `model-${job}`;
    await sagemaker().send(
        new CreateModelCommand({
            ModelName: modelName,
            ExecutionRoleArn: "arn:aws:iam::123456789012:role/bootboots-sagemaker",
            PrimaryContainer: {
                Image: "inference",
                ModelDataUrl: `s3://${MODEL_BUCKET}/training-output/${job}/output/model.tar.gz`,
            },
        }),
    );
    await sagemaker().send(
        new CreateEndpointConfigCommand({
            EndpointConfigName: `config-${job}`,
            ProductionVariants: [
                {
                    VariantName: "AllTraffic",
                    ModelName: modelName,
                    ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 },
                },
            ],
        }),
    );
    await sagemaker().send(new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: `config-${job}` }));
}

/** Sets the world up before the calling suite's tests, and takes it down after them. */
export function useCliWorld(): CliWorld {
    const w = {} as CliWorld;
    before(async () => {
        memos.forEach((reset) => reset());
        current = w;
        w.moto = await sharedMoto();
        w.savedEnv = { ...process.env };
        w.workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bootboots-cli-"));
        const direct = await seedWorld(w.moto.endpoint, seedLabels(SMALL_SEED), clientConfig);
        await putLabels(direct.s3, direct.dynamodb, world, [
            { imageName: "garfield.jpg", cat: "Garfield", body: tinyJpeg("garfield") },
            { imageName: "gone.jpg", cat: "Chi", body: null },
        ]);

        const stack = await runStack({});
        w.outputs = stack.outputs;
        // The command signs with its own key, and its requests are recorded: the IAM policy is checked against them.
        process.env.AWS_ACCESS_KEY_ID = CLI_ACCESS_KEY;
        w.recorder = await startProxy(w.moto.endpoint);
        process.env.AWS_ENDPOINT_URL = w.recorder.endpoint;
        // SageMaker through the proxy, for the trigger and the command alike: it records, and answers what moto lacks (tuning).
        w.proxy = await startProxy(w.moto.endpoint);
        process.env.AWS_ENDPOINT_URL_SAGEMAKER = w.proxy.endpoint;
        // The invoke server first: the trigger's own process is told where Lambda is when it starts.
        const functions: Record<string, Handler> = {};
        w.dataPrep = (event) => functions[String(w.outputs.dataPrepFunctionName)](event);
        w.invoke = await startInvokeServer(functions);
        const lambdaEnv = {
            AWS_ENDPOINT_URL: w.moto.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER: w.proxy.endpoint,
            AWS_ENDPOINT_URL_LAMBDA: w.invoke.endpoint,
        };
        functions[String(w.outputs.dataPrepFunctionName)] = await loadDeployedHandler(
            stack.one("aws:lambda/function:Function", "data-prep"),
            lambdaEnv,
        );
        functions[String(w.outputs.triggerTrainingFunctionName)] = await loadDeployedHandler(
            stack.one("aws:lambda/function:Function", "trigger-training"),
            lambdaEnv,
        );
        w.endpoint = await startEndpointStandIn(ENDPOINT);

        w.stub = installStubPulumi();
        w.stub.setOutputs(Object.fromEntries(Object.entries(w.outputs).filter(([, v]) => v !== undefined)));
        Object.assign(process.env, {
            PATH: `${w.stub.binDir}${path.delimiter}${process.env.PATH}`,
            AWS_ENDPOINT_URL_LAMBDA: w.invoke.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: w.endpoint.endpoint,
            AWS_ENDPOINT_URL_PRICING: w.proxy.endpoint,
        });
    });
    after(async () => {
        checkCalledActionsAreAllowed([w.recorder, w.proxy, w.endpoint?.proxy]);
        await w.recorder?.close();
        const invalid = [...(w.proxy?.invalid ?? []), ...(w.endpoint?.proxy.invalid ?? [])];
        w.endpoint?.stop();
        await w.invoke?.close();
        assert.deepEqual(w.invoke?.asyncErrors ?? [], [], "no asynchronous invocation (train --async) failed");
        await w.proxy?.close();
        assert.deepEqual(invalid, [], "every SageMaker request was one the service model accepts");
        for (const key of Object.keys(process.env)) if (!(key in w.savedEnv)) delete process.env[key];
        Object.assign(process.env, w.savedEnv);
    });
    return w;
}

/**
 * Every AWS action the command called in the suite is in the policy `doctor --iam-policy` makes
 * from the commands' declarations (cli/commandTable.ts `aws`): the declarations cannot fall
 * behind what the code calls.
 */
function checkCalledActionsAreAllowed(proxies: (Proxy | undefined)[]): void {
    const allowed = new Set(COMMANDS.flatMap((c) => c.aws.flatMap((p) => p.actions)));
    const called = new Set(
        proxies
            .flatMap((p) => p?.requests ?? [])
            .filter((r) => signedBy(r) === CLI_ACCESS_KEY)
            .map(iamActionOf)
            .filter((a): a is string => a !== undefined),
    );
    assert.deepEqual(
        [...called].filter((a) => !allowed.has(a)).sort(),
        [],
        "every action the command called is declared in cli/commandTable.ts",
    );
}

/** `bootboots label --no-open` in a child process, as a user runs it: the page's URL once it listens. */
export async function startLabelCommand(
    args: string[] = [],
    env: Record<string, string> = {},
): Promise<{ url: string; stop: () => void }> {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "bootboots.js"), "label", "--no-open", ...args], {
        env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (chunk) => (err += chunk));
    const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk) => {
            out += chunk;
            const match = /(?:Labelling|Review) page: (\S+)/.exec(out);
            if (match) resolve(match[1]);
        });
        child.on("exit", (code) => reject(new Error(`bootboots label exited (${code}): ${err}`)));
    });
    return { url, stop: () => child.kill("SIGINT") };
}
