import {
    CloudWatchLogsClient,
    CreateLogGroupCommand,
    CreateLogStreamCommand,
    PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
    CreateEndpointCommand,
    CreateEndpointConfigCommand,
    CreateModelCommand,
    CreateTrainingJobCommand,
    DeleteEndpointCommand,
    DescribeTrainingJobCommand,
    ListTrainingJobsCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { runCli } from "../cli/main";
import { DatasetManifest, ManifestImage } from "../lib/dataset";
import { LABELLING_QUEUE_KEY } from "../lib/layout";
import {
    EndpointStandIn,
    MODEL_FIXTURE,
    sampleFiles as sampleFilesOf,
    startEndpointStandIn,
} from "./support/endpointStandIn";
import { Handler, loadDeployedHandler } from "./support/deployedLambda";
import { InvokeServer, startInvokeServer } from "./support/lambdaInvokeServer";
import { Moto, clientConfig, sharedMoto } from "./support/moto";
import { InjectedResponse, Proxy, startProxy } from "./support/proxy";
import { TuningStandIn, tuningStandIn } from "./support/tuningStandIn";
import { runStack } from "./support/pulumiMocks";
import { IMAGES_PREFIX, SMALL_SEED, WORLD, putLabels, seedLabels, seedWorld, tinyJpeg } from "./support/seed";
import { StubPulumi, installStubPulumi } from "./support/stubPulumi";

const ROOT = path.join(__dirname, "..");
const CLASSES = ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"];
const world = WORLD;
const MODEL_BUCKET = WORLD.modelBucket;
const ENDPOINT = "bootboots";
/** Debian's chromium package, which .ci/run installs; nothing downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

interface Run {
    code: number;
    out: string;
    err: string;
}

async function cli(...args: string[]): Promise<Run> {
    let out = "";
    let err = "";
    const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
}

const sampleFiles = () => sampleFilesOf(CLASSES);

describe("the bootboots command", function () {
    this.timeout(300_000);
    let stub: StubPulumi;
    let invoke: InvokeServer;
    let proxy: Proxy;
    let endpoint: EndpointStandIn;
    let outputs: Record<string, unknown>;
    let savedEnv: NodeJS.ProcessEnv;
    let workDir: string;
    const sagemaker = () => new SageMakerClient(clientConfig(moto.endpoint));
    const s3 = () => new S3Client(clientConfig(moto.endpoint));
    const jobCount = async () =>
        (await sagemaker().send(new ListTrainingJobsCommand({}))).TrainingJobSummaries?.length ?? 0;

    let moto: Moto;
    /** The stack's data prep as deployed. */
    let dataPrep: Handler;

    before(async () => {
        moto = await sharedMoto();
        savedEnv = { ...process.env };
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bootboots-cli-"));
        const direct = await seedWorld(moto.endpoint, seedLabels(SMALL_SEED), clientConfig);
        await putLabels(direct.s3, direct.dynamodb, world, [
            { imageName: "garfield.jpg", cat: "Garfield", body: tinyJpeg("garfield") },
            { imageName: "gone.jpg", cat: "Chi", body: null },
        ]);

        const stack = await runStack({});
        outputs = stack.outputs;
        process.env.AWS_ENDPOINT_URL = moto.endpoint;
        // SageMaker through the proxy, for the trigger and the command alike: it records, and answers what moto lacks (tuning).
        proxy = await startProxy(moto.endpoint);
        process.env.AWS_ENDPOINT_URL_SAGEMAKER = proxy.endpoint;
        // The invoke server first: the trigger's own process is told where Lambda is when it starts.
        const functions: Record<string, Handler> = {};
        dataPrep = (event) => functions[String(outputs.dataPrepFunctionName)](event);
        invoke = await startInvokeServer(functions);
        const lambdaEnv = {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER: proxy.endpoint,
            AWS_ENDPOINT_URL_LAMBDA: invoke.endpoint,
        };
        functions[String(outputs.dataPrepFunctionName)] = await loadDeployedHandler(
            stack.one("aws:lambda/function:Function", "data-prep"),
            lambdaEnv,
        );
        functions[String(outputs.triggerTrainingFunctionName)] = await loadDeployedHandler(
            stack.one("aws:lambda/function:Function", "trigger-training"),
            lambdaEnv,
        );
        endpoint = await startEndpointStandIn(ENDPOINT);

        stub = installStubPulumi();
        stub.setOutputs(Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)));
        Object.assign(process.env, {
            PATH: `${stub.binDir}${path.delimiter}${process.env.PATH}`,
            AWS_ENDPOINT_URL_LAMBDA: invoke.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: endpoint.endpoint,
            AWS_ENDPOINT_URL_PRICING: proxy.endpoint,
        });
    });

    after(async () => {
        endpoint?.stop();
        await invoke?.close();
        assert.deepEqual(invoke?.asyncErrors ?? [], [], "no asynchronous invocation (train --async) failed");
        await proxy?.close();
        for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
        Object.assign(process.env, savedEnv);
    });

    const withEndpoint = () => stub.setOutputs({ ...outputs, endpointName: ENDPOINT });
    const withoutEndpoint = () =>
        stub.setOutputs(Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)));

    /** Each suite builds what its tests need, once, so that every test also passes when run alone. */
    const once = <T>(make: () => Promise<T>) => {
        let made: Promise<T> | undefined;
        return () => (made ??= make());
    };

    /** A dataset marked latest, as data prep builds it (what --skip-data-prep trains on). */
    const ensureDataset = once(async () => {
        const result = await dataPrep({});
        assert.equal(result.success, true, JSON.stringify(result));
    });

    const STRONG = "bootboots-strong-12-epochs";
    const WEAK = "bootboots-weak-1-epoch";
    const LEGACY = "bootboots-legacy-no-test";
    const ROLE = "arn:aws:iam::123456789012:role/bootboots-sagemaker";
    const fixtureOutput = (fixture: string) => path.join(ROOT, ".test-output", fixture, "output");

    /** A completed job in moto whose output.tar.gz holds what train.py wrote. */
    async function completedJob(name: string, outputDir: string, files: string[]): Promise<void> {
        await sagemaker().send(
            new CreateTrainingJobCommand({
                TrainingJobName: name,
                RoleArn: ROLE,
                AlgorithmSpecification: { TrainingImage: "image", TrainingInputMode: "File" },
                OutputDataConfig: { S3OutputPath: `s3://${MODEL_BUCKET}/training-output/` },
                ResourceConfig: { InstanceType: "ml.m5.xlarge", InstanceCount: 1, VolumeSizeInGB: 30 },
                StoppingCondition: { MaxRuntimeInSeconds: 3600 },
            }),
        );
        const archive = path.join(workDir, `${name}.tar.gz`);
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
    const ensureFixtureJobs = once(async () => {
        const legacyDir = path.join(workDir, "legacy-output");
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
    const EVALUATED_DATASET = "20260301T120000Z-e7a1";
    const ensureEvaluatedDataset = once(async () => {
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

    describe("train", () => {
        /** A job that data prep and the trigger started, for the status and deploy tests. */
        let jobName: string;

        before(async () => {
            await ensureDataset();
            const run = await cli("train", "--epochs", "5", "--batch-size", "8");
            assert.equal(run.code, 0, run.err);
            jobName = /Training job (bootboots-[0-9a-f]+)/.exec(run.out)![1];
        });

        it("starts a job through the stack's trigger and prints the counts, the console URL and what to run next", async () => {
            const run = await cli("train", "--epochs", "5", "--batch-size", "8");
            assert.equal(run.code, 0, run.err);
            const jobName = /Training job (bootboots-[0-9a-f]+)/.exec(run.out)![1];
            for (const className of CLASSES)
                assert.match(run.out, new RegExp(`^${className}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+$`, "m"));
            // 171 labelled: gone.jpg is labelled Chi but has no object, so 170 are kept.
            assert.match(run.out, /^Chi\s+21\s+\d+\s+\d+\s+\d+$/m);
            const [, kept, validation, test] = /^total\s+171\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(run.out)!;
            assert.equal(Number(kept) + Number(validation) + Number(test), 170);
            assert.ok(Number(test) > 0, "a held-out test set");
            assert.match(
                run.out,
                /Console: https:\/\/eu-west-2\.console\.aws\.amazon\.com\/sagemaker\/home\?region=eu-west-2#\/jobs\/bootboots-/,
            );
            assert.ok(run.out.includes(`Next: npx bootboots status ${jobName} --watch`));
            const job = await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
            assert.equal(job.HyperParameters?.epochs, "5");
            assert.equal(job.HyperParameters?.batch_size, "8");
            assert.ok(
                stub.calls().every((call) => call.join(" ") === "stack output --json"),
                "only read the outputs",
            );
        });

        it("--skip-data-prep --no-spot trains on the latest dataset, on demand", async () => {
            const run = await cli("train", "--skip-data-prep", "--no-spot");
            assert.equal(run.code, 0, run.err);
            const name = /Training job (bootboots-[0-9a-f]+)/.exec(run.out)![1];
            const job = await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: name }));
            assert.equal(job.EnableManagedSpotTraining, false);
            assert.match(run.out, /^total\s+171\s+\d+\s+\d+\s+\d+$/m, "counts read back from the dataset's manifest");
        });

        it("--dry-run prints the counts and the skipped images by reason, and writes nothing", async () => {
            const jobs = await jobCount();
            const run = await cli("train", "--dry-run");
            assert.equal(run.code, 0, run.err);
            assert.match(run.out, /Dry run: nothing was written/);
            assert.match(run.out, /^NoCat\s+60\s+\d+\s+\d+\s+\d+$/m);
            assert.match(run.out, /Skipped: 2/);
            assert.match(run.out, /unknown class "Garfield": 1 \(garfield\.jpg\)/);
            assert.match(run.out, /missing object: 1 \(gone\.jpg\)/);
            assert.equal(await jobCount(), jobs);
        });

        it("--async returns once the invocation is accepted", async () => {
            const run = await cli("train", "--async", "--skip-data-prep");
            assert.equal(run.code, 0, run.err);
            assert.match(run.out, /asynchronous invocation of .* accepted, request invoke-\d+\)/);
            const [, name] = /The job will be (bootboots-[0-9a-f]{24}) once data prep is done\./.exec(run.out)!;
            assert.ok(run.out.includes(`Next: npx bootboots status ${name} --watch`));
        });

        it("refuses a bad flag before invoking anything", async () => {
            const invocations = invoke.invocations.length;
            const run = await cli("train", "--epochs", "0");
            assert.notEqual(run.code, 0);
            assert.match(run.err, /--epochs <n>' argument '0' is invalid\. expected an integer from 1 to 10000/);
            // The same rules as the trigger's, so the CLI refuses what the trigger would.
            const badDataset = await cli("train", "--dataset", "latest");
            assert.match(
                badDataset.err,
                /--dataset <id>' argument 'latest' is invalid\. expected a dataset id such as 20260221T153033Z-4f2a/,
            );
            const badRate = await cli("train", "--learning-rate", "1");
            assert.match(
                badRate.err,
                /--learning-rate <x>' argument '1' is invalid\. expected a number greater than 0 and less than 1/,
            );
            assert.equal(invoke.invocations.length, invocations);
        });

        it("says so when no stack is selected", async () => {
            stub.setNoStack(true);
            const run = await cli("train");
            stub.setNoStack(false);
            assert.equal(run.code, 1);
            assert.match(run.err, /No Pulumi stack selected: run 'pulumi stack select sandbox' or pass --stack/);
        });

        it("takes names from environment variables without asking pulumi, and names a function that does not exist", async () => {
            const calls = stub.calls().length;
            process.env.BOOTBOOTS_TRIGGER_FUNCTION = "no-such-function";
            const run = await cli("train");
            delete process.env.BOOTBOOTS_TRIGGER_FUNCTION;
            assert.equal(run.code, 1);
            assert.match(run.err, /Not found while invoking no-such-function/);
            assert.equal(stub.calls().length, calls, "pulumi was not needed");
        });

        it("reports what the trigger refuses", async () => {
            const run = await cli("train", "--dataset", "20200101T000000Z-0000");
            assert.equal(run.code, 1);
            assert.match(run.err, /Training was not started: Dataset 20200101T000000Z-0000 does not exist/);
        });

        describe("status and deploy", () => {
            const inProgress = (name: string) => ({
                status: 200,
                headers: { "content-type": "application/x-amz-json-1.1" },
                body: JSON.stringify({
                    TrainingJobName: name,
                    TrainingJobStatus: "InProgress",
                    SecondaryStatus: "Training",
                    CreationTime: 1_767_225_600,
                    TrainingStartTime: 1_767_225_660,
                    EnableManagedSpotTraining: true,
                    HyperParameters: { epochs: "5" },
                    SecondaryStatusTransitions: [
                        {
                            Status: "Starting",
                            StartTime: 1_767_225_600,
                            EndTime: 1_767_225_630,
                            StatusMessage: "Preparing the instances for training",
                        },
                        {
                            Status: "Training",
                            StartTime: 1_767_225_660,
                            StatusMessage: "Training image download completed. Training in progress.",
                        },
                    ],
                }),
            });
            // moto reports every job Completed at once: the proxy answers as SageMaker does while one runs.
            const runningUntilDescribed = (name: string, times: number) => {
                let answered = 0;
                proxy.options = {
                    inject: (request) =>
                        request.headers["x-amz-target"] === "SageMaker.DescribeTrainingJob" && answered++ < times
                            ? inProgress(name)
                            : undefined,
                };
            };
            afterEach(() => (proxy.options = {}));

            it("status shows the newest job with its times, billing and final metrics", async () => {
                const run = await cli("status");
                assert.equal(run.code, 0, run.err);
                assert.match(run.out, /^Job bootboots-[0-9a-f]+: Completed \(Completed\)$/m);
                assert.match(run.out, /created \S+, started \S+, ended \S+/);
                assert.match(run.out, /elapsed \d+ s, training/);
                assert.match(run.out, /train:progress\s+100/);
            });

            it("status --watch shows elapsed time and each epoch's figures while training: a line per epoch piped, in place on a terminal", async () => {
                const logs = new CloudWatchLogsClient(clientConfig(moto.endpoint));
                const group = "/aws/sagemaker/TrainingJobs";
                await logs.send(new CreateLogGroupCommand({ logGroupName: group })).catch(() => undefined);
                const stream = `${jobName}/algo-1-1764000000`;
                await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
                const now = Date.now();
                const lines = [
                    "images training=118 validation=33 skipped_undecodable=0",
                    "epoch=1 phase=head loss=1.900000 accuracy=0.300000 val_loss=1.700000 val_accuracy=0.400000",
                    "epoch=2 phase=fine_tune loss=1.100000 accuracy=0.650000 val_loss=1.200000 val_accuracy=0.610000",
                ];
                await logs.send(
                    new PutLogEventsCommand({
                        logGroupName: group,
                        logStreamName: stream,
                        logEvents: lines.map((message, i) => ({ message, timestamp: now + i })),
                    }),
                );
                runningUntilDescribed(jobName, 2);
                const piped = await cli("status", jobName, "--watch", "--interval", "1");
                assert.equal(piped.code, 0, piped.err);
                assert.match(
                    piped.out,
                    /^elapsed [\d:]+ {2}epoch 1\/5 \(head\) {2}loss 1\.9000 {2}accuracy 0\.3000 {2}val_loss 1\.7000 {2}val_accuracy 0\.4000$/m,
                );
                assert.match(
                    piped.out,
                    /^elapsed [\d:]+ {2}epoch 2\/5 \(fine_tune\) {2}loss 1\.1000 {2}accuracy 0\.6500 {2}val_loss 1\.2000 {2}val_accuracy 0\.6100$/m,
                );
                assert.equal(piped.out.match(/epoch 2\/5/g)?.length, 1, "each epoch once");
                assert.ok(!piped.out.includes("\r"), "no terminal control codes in a pipe");

                runningUntilDescribed(jobName, 2);
                let terminal = "";
                const code = await runCli(["status", jobName, "--watch", "--interval", "1"], {
                    out: (t) => (terminal += t),
                    err: () => undefined,
                    interactive: true,
                });
                assert.equal(code, 0);
                // The terminal's line is cleared (ESC [2K) and redrawn.
                const clearLine = "\r\x1b[2K";
                assert.ok(terminal.includes(`${clearLine}elapsed `), JSON.stringify(terminal.slice(0, 200)));
                assert.match(terminal, /elapsed [\d:]+ {2}Training {2}epoch 2\/5 \(fine_tune\) {2}loss 1\.1000/);
                assert.ok(
                    !/^elapsed .*epoch 1\/5/m.test(terminal),
                    "a terminal shows the newest epoch in place, not a line per epoch",
                );
            });

            it("status --watch follows the job to the end, then shows its per-class evaluation and the deploy command", async () => {
                const evaluation = path.join(MODEL_FIXTURE, "evaluation.json");
                const archive = path.join(workDir, "output.tar.gz");
                await tar.create({ gzip: true, file: archive, cwd: MODEL_FIXTURE }, ["evaluation.json"]);
                await s3().send(
                    new PutObjectCommand({
                        Bucket: MODEL_BUCKET,
                        Key: `training-output/${jobName}/output/output.tar.gz`,
                        Body: fs.readFileSync(archive),
                    }),
                );
                runningUntilDescribed(jobName, 2);
                const run = await cli("status", jobName, "--watch", "--interval", "1");
                assert.equal(run.code, 0, run.err);
                assert.match(run.out, /Starting: Preparing the instances for training/);
                assert.match(run.out, /Training: Training image download completed/);
                assert.match(run.out, /Completed \(Completed\)/);
                const report = JSON.parse(fs.readFileSync(evaluation, "utf8"));
                assert.ok(run.out.includes(`Validation accuracy ${(100 * report.accuracy).toFixed(1)}%`));
                for (const className of CLASSES) {
                    const recall = `${(100 * report.per_class[className].recall).toFixed(1)}%`;
                    assert.match(
                        run.out,
                        new RegExp(
                            `^${className}\\s+\\S+%\\s+${recall.replace(".", "\\.")}\\s+${report.per_class[className].support}$`,
                            "m",
                        ),
                    );
                }
                assert.ok(run.out.includes(`Deploy it: npx bootboots deploy ${jobName}`));
            });

            it("status names a job that does not exist", async () => {
                const run = await cli("status", "bootboots-nope");
                assert.equal(run.code, 1);
                assert.match(run.err, /No training job named bootboots-nope/);
            });

            it("deploy refuses a job that is still running, and sets nothing", async () => {
                const calls = stub.calls().length;
                runningUntilDescribed(jobName, 1);
                const run = await cli("deploy", jobName);
                assert.equal(run.code, 1);
                assert.match(
                    run.err,
                    /is InProgress \(Training\); nothing was deployed: wait for it with npx bootboots status .* --watch/,
                );
                assert.ok(
                    stub
                        .calls()
                        .slice(calls)
                        .every((c) => c[0] !== "config"),
                );
            });

            it("deploy --no-up sets modelDataUrl to the completed job's model and prints pulumi up", async () => {
                const run = await cli("deploy", jobName, "--no-up", "--stack", "sandbox");
                assert.equal(run.code, 0, run.err);
                const url = `s3://${MODEL_BUCKET}/training-output/${jobName}/output/model.tar.gz`;
                assert.deepEqual(stub.calls().at(-1), ["config", "set", "modelDataUrl", url, "--stack", "sandbox"]);
                assert.match(run.out, /Next: pulumi up --stack sandbox/);
                // The stack has no endpoint yet: the gate has nothing to compare with, and says so.
                assert.match(run.out, /^No model is serving yet: nothing to compare with\.$/m);
            });

            it("deploy runs pulumi up after setting the model", async () => {
                const run = await cli("deploy", jobName);
                assert.equal(run.code, 0, run.err);
                assert.deepEqual(
                    stub
                        .calls()
                        .slice(-2)
                        .map((c) => c[0]),
                    ["config", "up"],
                );
            });
        });
    });

    describe("classify", () => {
        it("says no endpoint is deployed yet when the stack has none", async () => {
            withoutEndpoint();
            const run = await cli("classify", sampleFiles()[0].file);
            assert.equal(run.code, 1);
            assert.match(run.err, /No endpoint deployed yet: train a model .* then deploy it/);
        });

        it("classifies JPEGs with the real model, and names a PNG and an oversized file while the others still run", async () => {
            withEndpoint();
            const [boots, chi] = [
                sampleFiles().find((s) => s.className === "Boots")!,
                sampleFiles().find((s) => s.className === "Chi")!,
            ];
            const png = path.join(workDir, "cat.png");
            fs.writeFileSync(png, Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"));
            const huge = path.join(workDir, "huge.jpg");
            fs.writeFileSync(
                huge,
                Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(3_200_000, 7), Buffer.from([0xff, 0xd9])]),
            );

            const run = await cli("classify", boots.file, png, huge, chi.file);
            assert.equal(run.code, 3, "a failed file makes the exit code 3: done, but some images failed");
            assert.match(
                run.out,
                new RegExp(`${boots.file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: (${CLASSES.join("|")}) \\d+\\.\\d%`),
            );
            assert.ok(run.out.includes(`${chi.file}: `));
            assert.match(run.err, /^error: \S+cat\.png is not a JPEG/m);
            assert.match(run.err, /^error: \S+huge\.jpg makes a 4\.3 MB request, over the endpoint's 4\.0 MB limit/m);
            assert.match(run.err, /2 of 4 files could not be classified/);

            const json = await cli("classify", boots.file, "--json", "--threshold", "0.9999");
            assert.equal(json.code, 0, json.err);
            const [answer] = JSON.parse(json.out);
            const sum = Object.values(answer.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
            assert.ok(Math.abs(sum - 1) < 1e-4);
            assert.deepEqual(Object.keys(answer.probabilities), CLASSES);
            assert.equal(answer.confidence, Math.max(...(Object.values(answer.probabilities) as number[])));
            assert.equal(answer.uncertain, answer.confidence < 0.9999);
        });

        it("marks answers below the threshold as uncertain", async () => {
            withEndpoint();
            const file = sampleFiles()[0].file;
            const [{ confidence }] = JSON.parse((await cli("classify", file, "--json")).out);
            const above = await cli("classify", file, "--threshold", String((confidence + 1) / 2));
            assert.equal(above.code, 0, above.err);
            assert.match(above.out, /\(uncertain: below \d+\.\d%\)$/m);
            const below = await cli("classify", file, "--threshold", String(confidence / 2));
            assert.doesNotMatch(below.out, /uncertain/);
        });
    });

    describe("evaluate", () => {
        const datasetId = EVALUATED_DATASET;
        beforeEach(withEndpoint);

        it("reports accuracy, per-class precision and recall, the confusion matrix and the wrong images, as the endpoint answered", async () => {
            await ensureEvaluatedDataset();
            const samples = sampleFiles();
            // The endpoint's answer for every image, one request each.
            const answers = JSON.parse((await cli("classify", "--json", ...samples.map((s) => s.file))).out) as {
                file: string;
                className: string;
            }[];

            const outDir = path.join(workDir, "report");
            const run = await cli("evaluate", "--dataset", datasetId, "--concurrency", "3", "--out", outDir);
            assert.equal(run.code, 0, run.err);
            const report = JSON.parse(fs.readFileSync(path.join(outDir, "evaluation.json"), "utf8"));

            // By hand, from the answers: rows are the true class, columns the predicted one.
            const expected = CLASSES.map(() => CLASSES.map(() => 0));
            samples.forEach(
                (s, i) => (expected[CLASSES.indexOf(s.className)][CLASSES.indexOf(answers[i].className)] += 1),
            );
            assert.deepEqual(report.confusionMatrix, expected);
            const correct = CLASSES.reduce((sum, _, i) => sum + expected[i][i], 0);
            assert.equal(report.accuracy, correct / samples.length);
            CLASSES.forEach((c, i) => {
                const predicted = expected.reduce((sum, row) => sum + row[i], 0);
                assert.equal(report.perClass[c].recall, expected[i][i] / 4, c);
                assert.equal(report.perClass[c].precision, predicted ? expected[i][i] / predicted : 0, c);
            });
            assert.equal(report.wrong.length, samples.length - correct);
            assert.ok(run.out.includes(`accuracy ${(100 * report.accuracy).toFixed(1)}% on 28 test images`));
            assert.equal(report.split, "test");
            assert.match(run.out, /Confusion matrix \(rows: true class, columns: predicted\):/);
            assert.ok(
                fs.readFileSync(path.join(outDir, "evaluation.md"), "utf8").includes(`Wrong: ${report.wrong.length}`),
            );
        });

        it("names a dataset that does not exist", async () => {
            const run = await cli("evaluate", "--dataset", "20200101T000000Z-0000");
            assert.equal(run.code, 1);
            assert.match(run.err, /Dataset 20200101T000000Z-0000 does not exist/);
        });

        it("tells a forbidden manifest (403) from a missing one", async () => {
            process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
            proxy.options = {
                inject: (request) =>
                    request.url.includes("manifest.json")
                        ? {
                              status: 403,
                              body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                          }
                        : undefined,
            };
            const run = await cli("evaluate", "--dataset", "20200101T000000Z-0000");
            proxy.options = {};
            delete process.env.AWS_ENDPOINT_URL_S3;
            assert.equal(run.code, 1);
            assert.match(
                run.err,
                /^error: Access denied reading s3:\/\/bootboots-training-data-123456789012\/datasets\/20200101T000000Z-0000\/manifest\.json: your credentials may not read it, or it does not exist and they may not list the bucket/,
            );
        });

        it("says no endpoint is deployed yet", async () => {
            withoutEndpoint();
            const run = await cli("evaluate");
            assert.equal(run.code, 1);
            assert.match(run.err, /No endpoint deployed yet/);
        });
    });

    /** Points the stack's endpoint at a job's model, as pulumi up does. */
    async function serve(job: string): Promise<void> {
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
        await sagemaker().send(
            new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: `config-${job}` }),
        );
    }

    describe("compare, the promotion gate and the decision", () => {
        const testImages = () =>
            Object.keys(
                JSON.parse(fs.readFileSync(path.join(fixtureOutput("trained-model"), "evaluation.json"), "utf8")).test
                    .predictions,
            ).length;

        before(async () => {
            await ensureFixtureJobs();
            withEndpoint();
        });

        it("compare reports the better model as better, on the test images both saw", async () => {
            await serve(WEAK);
            const run = await cli("compare", STRONG);
            assert.equal(run.code, 0, run.err);
            assert.ok(
                run.out.includes(
                    `Candidate ${STRONG} against baseline ${WEAK}, on the ${testImages()} test images common to both`,
                ),
                run.out,
            );
            assert.match(run.out, /^macro-F1\s+\S+\s+\S+\s+\+\S+\s+\+\S+ to \+\S+\s+yes$/m);
            const json = JSON.parse((await cli("compare", STRONG, WEAK, "--json")).out);
            assert.equal(json.commonImages, testImages());
            assert.ok(json.macroF1.delta > 0.2 && json.macroF1.significant, JSON.stringify(json.macroF1));
            const reverse = JSON.parse((await cli("compare", WEAK, STRONG, "--json")).out);
            assert.ok(reverse.macroF1.delta < 0 && reverse.macroF1.significant);
        });

        it("compare names a baseline trained before per-image predictions as not comparable", async () => {
            const run = await cli("compare", STRONG, LEGACY);
            assert.equal(run.code, 1);
            assert.match(
                run.err,
                /are not comparable: the baseline bootboots-legacy-no-test has no per-image test predictions or decision threshold \(it was trained before the held-out test set\)/,
            );
        });

        it("deploy refuses a model significantly worse than the serving one, and --force deploys it saying what it overrode", async () => {
            await serve(STRONG);
            const calls = stub.calls().length;
            const refused = await cli("deploy", WEAK, "--no-up");
            assert.equal(refused.code, 1);
            assert.match(refused.out, /^macro-F1\s+/m, "the table is shown");
            assert.match(
                refused.err,
                new RegExp(
                    `${WEAK} is significantly worse than the serving model ${STRONG} on macro-F1 \\(−\\d\\.\\d{3}, 95% interval .*; nothing was deployed\\. Deploy it anyway with npx bootboots deploy ${WEAK} --force\\.`,
                ),
            );
            assert.ok(
                stub
                    .calls()
                    .slice(calls)
                    .every((c) => c[0] !== "config"),
                "nothing set",
            );
            const forced = await cli("deploy", WEAK, "--no-up", "--force");
            assert.equal(forced.code, 0, forced.err);
            assert.match(
                forced.out,
                new RegExp(`--force: deploying ${WEAK} although it is significantly worse than ${STRONG} on macro-F1`),
            );
            assert.deepEqual(stub.calls().at(-1)?.slice(0, 4), [
                "config",
                "set",
                "modelDataUrl",
                `s3://${MODEL_BUCKET}/training-output/${WEAK}/output/model.tar.gz`,
            ]);
        });

        it("deploy passes a better model through the gate", async () => {
            await serve(WEAK);
            const run = await cli("deploy", STRONG, "--no-up");
            assert.equal(run.code, 0, run.err);
            assert.ok(run.out.includes(`Gate passed: ${STRONG} is not significantly worse than ${WEAK}.`), run.out);
        });

        it("classify and evaluate give the target class's decision at the serving model's threshold", async () => {
            await serve(STRONG);
            const decision = JSON.parse(
                fs.readFileSync(path.join(fixtureOutput("trained-model"), "decision.json"), "utf8"),
            );
            const samples = sampleFiles().slice(0, 8);
            const run = await cli("classify", ...samples.map((s) => s.file));
            assert.equal(run.code, 0, run.err);
            const json = JSON.parse((await cli("classify", "--json", ...samples.map((s) => s.file))).out);
            for (const answer of json) {
                assert.equal(answer.decision.threshold, decision.threshold);
                assert.equal(answer.decision.act, answer.probabilities.Boots >= decision.threshold);
                const line = run.out.split("\n").find((l: string) => l.startsWith(`${answer.file}:`))!;
                assert.ok(line.includes(`; Boots → ${answer.decision.act ? "act" : "no action"} (`), line);
            }
            // evaluate (the held-out images of the fixture's dataset): the same decisions, counted.
            await ensureEvaluatedDataset();
            const all = JSON.parse((await cli("classify", "--json", ...sampleFiles().map((s) => s.file))).out) as {
                file: string;
                decision: { act: boolean };
            }[];
            const boots = sampleFiles()
                .map((sample, i) => ({ sample, act: all[i].decision.act }))
                .filter((x) => x.sample.className === "Boots");
            const others = sampleFiles()
                .map((sample, i) => ({ sample, act: all[i].decision.act }))
                .filter((x) => x.sample.className !== "Boots");
            const evaluated = await cli("evaluate", "--dataset", EVALUATED_DATASET);
            assert.equal(evaluated.code, 0, evaluated.err);
            const acted = boots.filter((b) => b.act).length;
            const falseAlarms = others.filter((o) => o.act).length;
            assert.ok(
                evaluated.out.includes(
                    `Boots → act at threshold ${decision.threshold.toFixed(3)}: recall ${((100 * acted) / boots.length).toFixed(1)}% (${acted} of ${boots.length}), ` +
                        `false-alarm rate ${((100 * falseAlarms) / others.length).toFixed(1)}% (${falseAlarms} of ${others.length} other images)`,
                ),
                evaluated.out,
            );
        });
    });

    describe("tune", () => {
        let tuning: TuningStandIn;

        before(async () => {
            await ensureDataset();
            await ensureFixtureJobs();
        });
        /** The Price List API's answer for one SageMaker training instance, as GetProducts returns it (JSON strings). */
        const priceList = (usdPerHour: string) => ({
            status: 200,
            headers: { "content-type": "application/x-amz-json-1.1" },
            body: JSON.stringify({
                FormatVersion: "aws_v1",
                PriceList: [
                    JSON.stringify({
                        product: {
                            productFamily: "ML Instance",
                            attributes: {
                                instanceName: "ml.m5.xlarge",
                                component: "Training",
                                regionCode: "eu-west-2",
                            },
                        },
                        terms: {
                            OnDemand: {
                                "SKU.TERM": {
                                    priceDimensions: {
                                        "SKU.TERM.DIM": { unit: "Hrs", pricePerUnit: { USD: usdPerHour } },
                                    },
                                },
                            },
                        },
                    }),
                ],
            }),
        });
        const answer = (pricing: InjectedResponse) => {
            proxy.options = {
                inject: (request) =>
                    request.headers["x-amz-target"] === "AWSPriceListService.GetProducts"
                        ? pricing
                        : tuning.inject(request),
            };
        };

        beforeEach(() => {
            tuning = tuningStandIn();
            answer(priceList("0.2300000000"));
            stub.setOutputs({
                ...Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)),
                endpointName: ENDPOINT,
            });
        });
        afterEach(() => (proxy.options = {}));

        it("shows the worst case from the Price List and starts a tuning job through the trigger", async () => {
            const run = await cli("tune", "--skip-data-prep", "--max-jobs", "12", "--parallel", "3");
            assert.equal(run.code, 0, run.err);
            assert.ok(
                run.out.includes(
                    "Worst case: 12 training jobs on ml.m5.xlarge, each up to 2.0 h: 24.0 instance-hours, $5.52 at the on-demand price in eu-west-2 ($0.230/h; spot costs less).",
                ),
                run.out,
            );
            const [, name] =
                /^Tuning job (bootboots-[0-9a-f]{22}) on dataset \S+: up to 12 training jobs, 3 at a time\.$/m.exec(
                    run.out,
                )!;
            assert.equal(tuning.created.size, 1);
            assert.deepEqual(tuning.created.get(name).HyperParameterTuningJobConfig.ResourceLimits, {
                MaxNumberOfTrainingJobs: 12,
                MaxParallelTrainingJobs: 3,
            });
            const gets = proxy.requests
                .filter((r) => r.headers["x-amz-target"] === "AWSPriceListService.GetProducts")
                .map((r) => JSON.parse(r.body.toString()));
            assert.deepEqual(
                gets.at(-1).Filters.map((f: { Field: string; Value: string }) => `${f.Field}=${f.Value}`),
                ["regionCode=eu-west-2", "instanceName=ml.m5.xlarge", "component=Training"],
            );
        });

        it("refuses above maxTuningCostUsd without --yes, and starts with it", async () => {
            const refused = await cli("tune", "--skip-data-prep", "--max-jobs", "50", "--parallel", "5");
            assert.equal(refused.code, 1);
            assert.match(refused.out, /100\.0 instance-hours, \$23\.00 at the on-demand price/);
            assert.equal(
                refused.err,
                "error: Nothing was started: $23.00 is above maxTuningCostUsd ($10.00). Add --yes to start it anyway, or lower --max-jobs or --max-runtime.\n",
            );
            assert.equal(tuning.created.size, 0);
            const accepted = await cli("tune", "--skip-data-prep", "--max-jobs", "50", "--parallel", "5", "--yes");
            assert.equal(accepted.code, 0, accepted.err);
            assert.equal(tuning.created.size, 1);
        });

        it("says when the price cannot be read, shows instance-hours only, and asks for --yes", async () => {
            answer({
                status: 400,
                headers: { "x-amzn-errortype": "AccessDeniedException", "content-type": "application/x-amz-json-1.1" },
                body: JSON.stringify({ __type: "AccessDeniedException", Message: "not allowed" }),
            });
            const run = await cli("tune", "--skip-data-prep");
            assert.equal(run.code, 1);
            assert.match(
                run.out,
                /^Worst case: 12 training jobs on ml\.m5\.xlarge, each up to 2\.0 h: 24\.0 instance-hours\.$/m,
            );
            assert.match(
                run.out,
                /^No price: the AWS Price List could not be read \(Access denied while reading prices/m,
            );
            assert.match(run.err, /Nothing was started: its cost is unknown\. Add --yes/);
        });

        it("refuses bad values naming the flag", async () => {
            const low = await cli("tune", "--max-jobs", "1");
            assert.equal(low.code, 2);
            assert.match(
                low.err,
                /option '--max-jobs <n>' argument '1' is invalid\. expected an integer from 2 to 100\./,
            );
            const over = await cli("tune", "--max-jobs", "3", "--parallel", "4");
            assert.equal(over.code, 2);
            assert.match(over.err, /--parallel 4 is more than --max-jobs 3/);
            assert.equal(tuning.created.size, 0);
        });

        it("status follows a tuning job (completed, running, stopped early, failed, the best so far), and deploy deploys its best job through the gate", async () => {
            const run = await cli("tune", "--skip-data-prep", "--json");
            const name = JSON.parse(run.out).tuningJobName;
            tuning.progress[name] = {
                TrainingJobStatusCounters: {
                    Completed: 5,
                    InProgress: 3,
                    Stopped: 2,
                    NonRetryableError: 1,
                    RetryableError: 0,
                },
                BestTrainingJob: {
                    TrainingJobName: STRONG,
                    FinalHyperParameterTuningJobObjectiveMetric: { MetricName: "validation:macro_f1", Value: 0.8731 },
                    TunedHyperParameters: { learning_rate: "0.00031", batch_size: "16" },
                },
            };
            const status = await cli("status", name);
            assert.equal(status.code, 0, status.err);
            assert.ok(
                status.out.includes(
                    `Tuning job ${name}: InProgress: 5 completed, 3 running, 2 stopped early, 1 failed of up to 12; best validation:macro_f1 0.8731 (${STRONG})`,
                ),
                status.out,
            );
            assert.match(status.out, /best hyperparameters: learning_rate=0\.00031 batch_size=16/);
            let polls = 0;
            const described = tuning.inject.bind(tuning);
            proxy.options = {
                inject: (request) => {
                    if (
                        request.headers["x-amz-target"] === "SageMaker.DescribeHyperParameterTuningJob" &&
                        ++polls === 2
                    ) {
                        tuning.progress[name] = {
                            ...tuning.progress[name],
                            HyperParameterTuningJobStatus: "Completed",
                            TrainingJobStatusCounters: {
                                Completed: 9,
                                InProgress: 0,
                                Stopped: 2,
                                NonRetryableError: 1,
                            },
                        };
                    }
                    return described(request);
                },
            };
            const watched = await cli("status", name, "--watch", "--interval", "1");
            assert.equal(watched.code, 0, watched.err);
            assert.match(watched.out, /^InProgress: 5 completed, 3 running/m);
            assert.match(watched.out, /^Completed: 9 completed, 0 running, 2 stopped early, 1 failed of up to 12/m);
            assert.ok(watched.out.includes(`Deploy the best: npx bootboots deploy ${name}`));
            const deployed = await cli("deploy", name, "--no-up");
            assert.equal(deployed.code, 0, deployed.err);
            assert.ok(deployed.err.includes(`Tuning job ${name}: its best training job is ${STRONG}`), deployed.err);
            assert.deepEqual(stub.calls().at(-1)?.slice(0, 4), [
                "config",
                "set",
                "modelDataUrl",
                `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`,
            ]);
        });
    });

    describe("suggest and label", () => {
        const POOL = path.join(ROOT, ".test-output", "trained-model", "test-samples");
        const ddb = () => new DynamoDBClient(clientConfig(moto.endpoint));
        const poolFiles = () =>
            fs.readdirSync(POOL).flatMap((className) =>
                fs
                    .readdirSync(path.join(POOL, className))
                    .sort()
                    .map((name) => ({ file: path.join(POOL, className, name), name })),
            );
        const keyOf = (name: string) => `${IMAGES_PREFIX}pool/${name}`;
        type Queue = {
            modelDataUrl: string;
            items: {
                key: string;
                rowName?: string;
                score: number;
                top3: { className: string; probability: number }[];
            }[];
        };
        /** The queue suggest wrote, as label reads it. */
        const readQueue = async (): Promise<Queue> =>
            JSON.parse(
                await (
                    await s3().send(new GetObjectCommand({ Bucket: world.trainingBucket, Key: LABELLING_QUEUE_KEY }))
                ).Body!.transformToString(),
            );
        const row = async (name: string) =>
            (await ddb().send(new GetItemCommand({ TableName: world.table, Key: { imageName: { S: name } } }))).Item;

        before(async () => {
            await ensureFixtureJobs();
            await serve(STRONG);
            withEndpoint();
            // The pool: unlabelled camera images; half of them have a catadata row without a label.
            for (const [i, f] of poolFiles().entries()) {
                await s3().send(
                    new PutObjectCommand({
                        Bucket: world.imagesBucket,
                        Key: keyOf(f.name),
                        Body: fs.readFileSync(f.file),
                    }),
                );
                if (i % 2 === 1)
                    await ddb().send(
                        new PutItemCommand({
                            TableName: world.table,
                            Item: { imageName: { S: `pool/${f.name}` }, camera: { S: "garden" } },
                        }),
                    );
            }
            // The queue the labelling tests work through.
            const run = await cli("suggest");
            assert.equal(run.code, 0, run.err);
        });

        it("suggest ranks the ambiguous images and those of rare classes first, and writes the queue", async () => {
            // A first suggest for this model: nothing scored before.
            await s3().send(new DeleteObjectCommand({ Bucket: world.trainingBucket, Key: LABELLING_QUEUE_KEY }));
            const run = await cli("suggest", "--json");
            assert.equal(run.code, 0, run.err);
            const queue = JSON.parse(run.out) as Queue;
            assert.match(
                run.err,
                /^42 unlabelled images under s3:\/\/\S+\/catcam-training\/; 0 already scored by this model\. Scoring 42 \(--limit 500\): 42 requests to endpoint bootboots, about \$0\.0002/m,
            );
            assert.equal(queue.items.length, 42);
            assert.equal(queue.modelDataUrl, `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`);
            assert.equal(queue.items.filter((i) => i.rowName).length, 21, "rows without a label are named");
            // What the served model says of each, straight from the endpoint.
            const answers = JSON.parse((await cli("classify", "--json", ...poolFiles().map((f) => f.file))).out) as {
                file: string;
                probabilities: Record<string, number>;
            }[];
            const margin = new Map(
                answers.map((a) => {
                    const sorted = Object.values(a.probabilities).sort((x, y) => y - x);
                    const top = Object.entries(a.probabilities).sort((x, y) => y[1] - x[1])[0][0];
                    return [keyOf(path.basename(a.file)), { margin: sorted[0] - sorted[1], top }];
                }),
            );
            const rank = new Map(queue.items.map((item, i) => [item.key, i]));
            const keys = [...margin.keys()];
            // The model hesitates (margin below 0.3) or is sure (above 0.85): a hesitation always ranks first.
            const ambiguous = keys.filter((k) => margin.get(k)!.margin < 0.3);
            const sure = (classes: string[], above: number) =>
                keys.filter((k) => margin.get(k)!.margin > above && classes.includes(margin.get(k)!.top));
            const sureNotTarget = sure(
                CLASSES.filter((c) => c !== "Boots"),
                0.85,
            );
            assert.ok(
                ambiguous.length >= 1 && sureNotTarget.length >= 1,
                `${ambiguous.length} ambiguous, ${sureNotTarget.length} sure`,
            );
            for (const a of ambiguous)
                for (const b of sureNotTarget) assert.ok(rank.get(a)! < rank.get(b)!, `ambiguous ${a} after sure ${b}`);
            // NoCat has 60 labels, the other classes 15 to 21: a fairly sure image of a rare class comes before one of NoCat.
            const rare = sure(["Chi", "Kappa", "Mu", "Tau", "Wolf"], 0.7);
            const common = sure(["NoCat"], 0.7);
            assert.ok(rare.length >= 1 && common.length >= 1, `${rare.length} sure rare, ${common.length} sure NoCat`);
            for (const a of rare)
                for (const b of common) assert.ok(rank.get(a)! < rank.get(b)!, `rare ${a} after common ${b}`);

            const again = await cli("suggest", "--json");
            assert.match(again.err, /42 already scored by this model\. Scoring 0 /);
            assert.deepEqual(
                JSON.parse(again.out).items.map((i: { key: string }) => i.key),
                queue.items.map((i) => i.key),
            );
        });

        it("labels by keyboard in the browser: three labels, an undo and a skip land in catadata; a conflicting label is refused and shown", async function () {
            const queue = await readQueue();
            const [first, second, third, fourth] = queue.items;
            const nameOf = (key: string) => key.slice(IMAGES_PREFIX.length);
            // The third image's row exists, with another attribute that an undo must keep; the first and second have none.
            await ddb().send(
                new PutItemCommand({
                    TableName: world.table,
                    Item: { imageName: { S: nameOf(third.key) }, camera: { S: "garden" } },
                }),
            );
            for (const item of [first, second])
                await ddb().send(
                    new DeleteItemCommand({ TableName: world.table, Key: { imageName: { S: nameOf(item.key) } } }),
                );
            const label = await startLabelCommand();
            const { chromium } = await import("playwright-core");
            const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
            try {
                const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
                await page.goto(label.url);
                await page.waitForFunction((key) => document.getElementById("key")?.textContent === key, first.key);
                const pressAndWait = async (key: string, next: string) => {
                    await page.keyboard.press(key);
                    await page.waitForFunction((k) => document.getElementById("key")?.textContent === k, next);
                };
                await pressAndWait("1", second.key);
                await pressAndWait("2", third.key);
                await pressAndWait("3", fourth.key);
                await pressAndWait("u", third.key);
                assert.match((await page.textContent("#message")) ?? "", /Undone: .* is unlabelled again\./);
                await pressAndWait("s", fourth.key);
                assert.match((await page.textContent("#progress")) ?? "", /^Labelled 2, skipped 1, left 39 of 42$/);
                assert.match((await page.textContent("#perclass")) ?? "", /Boots1Chi1Kappa0/);
                fs.mkdirSync(path.join(ROOT, ".test-output"), { recursive: true });
                await page.screenshot({ path: path.join(ROOT, ".test-output", "label-page.png") });

                // Someone labels the fourth image meanwhile: the page refuses to overwrite it and shows theirs.
                await ddb().send(
                    new PutItemCommand({
                        TableName: world.table,
                        Item: { imageName: { S: nameOf(fourth.key) }, cat: { S: "Wolf" } },
                    }),
                );
                await page.keyboard.press("4");
                await page.waitForFunction(() =>
                    /Someone else labelled/.test(document.getElementById("message")?.textContent ?? ""),
                );
                assert.match(
                    (await page.textContent("#message")) ?? "",
                    new RegExp(
                        `Someone else labelled ${fourth.key} as Wolf meanwhile: their label stays\\. \\(their label: Wolf\\)`,
                    ),
                );

                assert.deepEqual(await row(nameOf(first.key)), {
                    imageName: { S: nameOf(first.key) },
                    cat: { S: "Boots" },
                });
                assert.deepEqual(await row(nameOf(second.key)), {
                    imageName: { S: nameOf(second.key) },
                    cat: { S: "Chi" },
                });
                assert.deepEqual(
                    await row(nameOf(third.key)),
                    { imageName: { S: nameOf(third.key) }, camera: { S: "garden" } },
                    "the undone row keeps all but its label",
                );
                assert.equal((await row(nameOf(fourth.key)))?.cat?.S, "Wolf");

                // A second page takes the queue over; the first is told so on its next key, and writes nothing.
                const other = await browser.newPage();
                await other.goto(label.url);
                await other.waitForSelector("#key:not(:empty)");
                const before = await row(nameOf(queue.items[4].key));
                await page.keyboard.press("5");
                await page.waitForFunction(() =>
                    /opened in another page/.test(document.getElementById("message")?.textContent ?? ""),
                );
                assert.deepEqual(await row(nameOf(queue.items[4].key)), before);

                // An image gone from S3 is named on the page.
                const current = (await other.textContent("#key"))!;
                await s3().send(new DeleteObjectCommand({ Bucket: world.imagesBucket, Key: current }));
                await other.reload();
                await other.waitForFunction(() =>
                    /is gone from s3:/.test(document.getElementById("message")?.textContent ?? ""),
                );

                // Without the token (or with a wrong one) nothing answers.
                const origin = new URL(label.url).origin;
                assert.equal((await fetch(`${origin}/api/state`)).status, 403);
                assert.equal((await fetch(`${origin}/?token=wrong`)).status, 403);
            } finally {
                await browser.close();
                label.stop();
            }
        });

        it("names a lost connection to AWS and a queue made for another stack on the page, and writes nothing", async () => {
            const { chromium } = await import("playwright-core");
            const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
            const offline = await startLabelCommand(["--catadata-table", world.table], {
                AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:9",
            });
            const elsewhere = await startLabelCommand(["--catadata-table", "another-stacks-table"]);
            try {
                const page = await browser.newPage();
                await page.goto(offline.url);
                await page.waitForSelector("#key:not(:empty)");
                const key = (await page.textContent("#key"))!;
                const before = await row(key.slice(IMAGES_PREFIX.length));
                await page.keyboard.press("1");
                await page.waitForFunction(() =>
                    /The label was not saved: try again\./.test(document.getElementById("message")?.textContent ?? ""),
                );
                assert.match(
                    (await page.textContent("#message"))!,
                    /^Could not connect while reading the row pool\/\S+ \(ECONNREFUSED\)/,
                );
                assert.equal(await page.textContent("#key"), key, "the same image stays, to try again");
                assert.deepEqual(await row(key.slice(IMAGES_PREFIX.length)), before);

                const blocked = await browser.newPage();
                await blocked.goto(elsewhere.url);
                await blocked.waitForFunction(() =>
                    /not this stack's/.test(document.getElementById("warning")?.textContent ?? ""),
                );
                await blocked.keyboard.press("1");
                await blocked.waitForFunction(() =>
                    /Nothing can be labelled here/.test(document.getElementById("message")?.textContent ?? ""),
                );
            } finally {
                await browser.close();
                offline.stop();
                elsewhere.stop();
            }
        });

        it("suggest ranks a camera image from the prediction its catadata row holds when the serving model made it, and asks the endpoint again otherwise", async () => {
            const servingUrl = `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`;
            // Stored predictions no trained model would give, so that the queue shows where each came from.
            const stored = [
                { className: "Wolf", probability: 0.5 },
                { className: "Mu", probability: 0.45 },
                { className: "NoCat", probability: 0.05 },
            ];
            const camera = [
                { name: "camera/2026-12-01T06-15-00.123Z-ab12.jpg", modelDataUrl: servingUrl },
                {
                    name: "camera/2026-12-01T06-15-30.456Z-cd34.jpg",
                    modelDataUrl: `s3://${MODEL_BUCKET}/training-output/bootboots-weak-1-epoch/output/model.tar.gz`,
                },
            ];
            const toItem = (t: { className: string; probability: number }) => ({
                M: { className: { S: t.className }, probability: { N: String(t.probability) } },
            });
            for (const c of camera) {
                await s3().send(
                    new PutObjectCommand({
                        Bucket: world.imagesBucket,
                        Key: `${IMAGES_PREFIX}${c.name}`,
                        Body: fs.readFileSync(poolFiles()[0].file),
                    }),
                );
                await ddb().send(
                    new PutItemCommand({
                        TableName: world.table,
                        Item: {
                            imageName: { S: c.name },
                            source: { S: "camera" },
                            top3: { L: stored.map(toItem) },
                            modelDataUrl: { S: c.modelDataUrl },
                        },
                    }),
                );
            }
            try {
                const run = await cli("suggest", "--json");
                assert.equal(run.code, 0, run.err);
                const items = (JSON.parse(run.out) as Queue).items;
                const [fromRow, fromEndpoint] = camera.map((c) =>
                    items.find((i) => i.key === `${IMAGES_PREFIX}${c.name}`)!,
                );
                assert.deepEqual(fromRow.top3, stored);
                assert.equal(fromRow.rowName, camera[0].name);
                assert.match(run.err, /^1 of them scored by the camera API when it answered\.$/m);
                // The other was scored by the serving model itself: what classify answers for that image.
                const answer = JSON.parse((await cli("classify", "--json", poolFiles()[0].file)).out)[0] as {
                    className: string;
                };
                assert.equal(fromEndpoint.top3[0].className, answer.className);
                assert.notDeepEqual(fromEndpoint.top3, stored);
            } finally {
                for (const c of camera) {
                    await s3().send(
                        new DeleteObjectCommand({ Bucket: world.imagesBucket, Key: `${IMAGES_PREFIX}${c.name}` }),
                    );
                    await ddb().send(
                        new DeleteItemCommand({ TableName: world.table, Key: { imageName: { S: c.name } } }),
                    );
                }
            }
        });

        /** Runs `bootboots label` as a user does and waits for the address it prints. */
        async function startLabelCommand(
            args: string[] = [],
            env: Record<string, string> = {},
        ): Promise<{ url: string; stop: () => void }> {
            const child = spawn(
                process.execPath,
                [path.join(ROOT, "bin", "bootboots.js"), "label", "--no-open", ...args],
                { env: { ...process.env, ...env } },
            );
            let out = "";
            let err = "";
            child.stderr.on("data", (chunk) => (err += chunk));
            const url = await new Promise<string>((resolve, reject) => {
                child.stdout.on("data", (chunk) => {
                    out += chunk;
                    const match = /Labelling page: (\S+)/.exec(out);
                    if (match) resolve(match[1]);
                });
                child.on("exit", (code) => reject(new Error(`bootboots label exited (${code}): ${err}`)));
            });
            return { url, stop: () => child.kill("SIGINT") };
        }
    });

    describe("as a user runs it (bin/bootboots.js in a child process)", () => {
        const BIN = path.join(ROOT, "bin", "bootboots.js");

        before(async () => {
            await ensureDataset();
            await ensureFixtureJobs();
            withEndpoint();
        });

        /** Runs the real command with the test's environment, changed as given (undefined removes a variable). */
        function bin(args: string[], change: Record<string, string | undefined> = {}): Promise<Run> {
            const env = { ...process.env };
            for (const [key, value] of Object.entries(change)) {
                if (value === undefined) delete env[key];
                else env[key] = value;
            }
            return new Promise((resolve) => {
                const child = spawn(process.execPath, [BIN, ...args], { env });
                let out = "";
                let err = "";
                child.stdout.on("data", (chunk) => (out += chunk));
                child.stderr.on("data", (chunk) => (err += chunk));
                child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
            });
        }
        const noCredentials = {
            AWS_ACCESS_KEY_ID: undefined,
            AWS_SECRET_ACCESS_KEY: undefined,
            AWS_PROFILE: undefined,
            AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
            AWS_CONFIG_FILE: "/nonexistent/config",
        };

        it("evaluate counts an image the model rejects as failed, goes on, lists it and exits 3", async () => {
            const datasetId = "20260302T120000Z-bad0";
            const images: ManifestImage[] = [];
            const files = [
                ...sampleFiles()
                    .slice(0, 6)
                    .map((s) => ({
                        name: path.basename(s.file),
                        className: s.className,
                        body: fs.readFileSync(s.file),
                    })),
            ];
            // A JPEG header on bytes no decoder can read: the serving container answers 400.
            files.push({
                name: "cam-0011-boots.jpg",
                className: "Boots",
                body: Buffer.concat([
                    Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
                    Buffer.alloc(64, 7),
                    Buffer.from([0xff, 0xd9]),
                ]),
            });
            for (const [i, f] of files.entries()) {
                const key = `datasets/${datasetId}/test/${f.className}/${i}-${f.name}`;
                await s3().send(new PutObjectCommand({ Bucket: world.trainingBucket, Key: key, Body: f.body }));
                images.push({
                    imageName: f.name,
                    sourceKey: `${IMAGES_PREFIX}${f.name}`,
                    key,
                    class: f.className,
                    split: "test",
                    repaired: false,
                    bytes: f.body.length,
                });
            }
            const manifest = { datasetId, classes: CLASSES, images } as unknown as DatasetManifest;
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.trainingBucket,
                    Key: `datasets/${datasetId}/manifest.json`,
                    Body: JSON.stringify(manifest),
                }),
            );
            const outDir = path.join(workDir, "rejected");
            const run = await bin(["evaluate", "--dataset", datasetId, "--out", outDir]);
            assert.equal(run.code, 3, run.err);
            assert.match(run.out, /on 6 test images/);
            assert.match(run.out, /^Failed \(not evaluated\): 1$/m);
            assert.match(run.out, /^cam-0011-boots\.jpg\s+The model rejected cam-0011-boots\.jpg/m);
            assert.match(
                run.err,
                /^error: 1 of 7 images could not be evaluated \(listed above\); the figures cover the other 6\.$/m,
            );
            const written = JSON.parse(fs.readFileSync(path.join(outDir, "evaluation.json"), "utf8"));
            assert.deepEqual(
                written.failed.map((f: { imageName: string }) => f.imageName),
                ["cam-0011-boots.jpg"],
            );
            assert.equal(written.images, 6);
        });

        it("classifies a JPEG missing its end marker: the served model repairs it", async () => {
            const intact = fs.readFileSync(sampleFiles()[0].file);
            const truncated = path.join(workDir, "truncated.jpg");
            fs.writeFileSync(truncated, intact.subarray(0, intact.length - 2));
            const run = await bin(["classify", truncated, sampleFiles()[0].file, "--json"]);
            assert.equal(run.code, 0, run.err);
            const [cut, whole] = JSON.parse(run.out);
            assert.equal(cut.className, whole.className, "the same answer as for the intact file");
            for (const c of CLASSES) assert.ok(Math.abs(cut.probabilities[c] - whole.probabilities[c]) < 1e-3, c);
        });

        it("deploy without the Pulumi CLI shows the model URL and the exact commands to run", async () => {
            const run = await bin(["deploy", STRONG, "--stack", "sandbox"], {
                PATH: path.dirname(process.execPath),
                BOOTBOOTS_ENDPOINT: ENDPOINT,
                BOOTBOOTS_TRAINING_BUCKET: world.trainingBucket,
            });
            assert.equal(run.code, 1);
            const url = `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`;
            assert.ok(
                run.err.includes(
                    `then run: pulumi config set modelDataUrl ${url} --stack sandbox && pulumi up --stack sandbox`,
                ),
                run.err,
            );
        });

        it("says in one sentence when no region is configured, and which region it searched", async () => {
            const noRegion = await bin(["status"], {
                AWS_REGION: undefined,
                AWS_DEFAULT_REGION: undefined,
                AWS_CONFIG_FILE: "/nonexistent/config",
            });
            assert.equal(noRegion.code, 1);
            assert.equal(
                noRegion.err,
                "error: No AWS region is configured: set AWS_REGION (for example export AWS_REGION=eu-west-2) or use a profile that has a region.\n",
            );
            const wrongRegion = await bin(["status"], { AWS_REGION: "us-east-1" });
            assert.equal(wrongRegion.code, 1);
            assert.match(
                wrongRegion.err,
                /^error: No BootBoots training job in region us-east-1: if the stack is in another region, set AWS_REGION to it; otherwise start one with npx bootboots train\.\n$/,
            );
        });

        it("prints no SDK warning on a supported Node version, and ends quietly when its pipe closes", async () => {
            const run = await bin(["status", STRONG]);
            assert.equal(run.code, 0, run.err);
            assert.equal(run.err, "", "nothing on stderr");
            const child = spawn(process.execPath, [BIN, "compare", STRONG, "bootboots-weak-1-epoch"], {
                env: process.env,
            });
            child.stdout.destroy();
            let err = "";
            child.stderr.on("data", (chunk) => (err += chunk));
            const code = await new Promise((done) => child.on("close", done));
            assert.equal(err, "", "no EPIPE stack trace");
            assert.equal(code, 0);
        });

        it("classify without credentials says so once and stops; a file it cannot read is named with the reason", async () => {
            const files = sampleFiles()
                .slice(0, 3)
                .map((s) => s.file);
            const run = await bin(["classify", ...files], noCredentials);
            assert.equal(run.code, 1);
            assert.equal(run.err.trim().split("\n").length, 1, run.err);
            assert.match(
                run.err,
                /^error: No AWS credentials found while .*: run 'aws configure', or set AWS_PROFILE to a profile that has them\.$/m,
            );
            const unreadable = await bin(["classify", path.join(workDir, "no-such.jpg"), workDir, files[0]]);
            assert.equal(unreadable.code, 3);
            assert.match(unreadable.err, /no-such\.jpg: cannot read it \(no such file\)/);
            assert.match(unreadable.err, /cannot read it \(it is a directory\)/);
            assert.match(unreadable.out, new RegExp(`${path.basename(files[0])}: \\w+ \\d`));
        });

        it("names an unknown profile, a bucket that does not exist and where its name came from, and an endpoint it cannot reach", async () => {
            const profile = await bin(["status"], { ...noCredentials, AWS_PROFILE: "no-such-profile" });
            assert.match(
                profile.err,
                /^error: The AWS profile 'no-such-profile' \(from AWS_PROFILE\) is not in ~\/\.aws\/config or ~\/\.aws\/credentials: check its name with 'aws configure list-profiles'\.$/m,
            );
            const bucket = await bin(["evaluate", "--training-bucket", "no-such-bucket-123"]);
            assert.equal(bucket.code, 1);
            assert.match(
                bucket.err,
                /^error: Bucket no-such-bucket-123 \(from --training-bucket\) does not exist in this account and region/m,
            );
            const refused = await bin(["status"], { AWS_ENDPOINT_URL_SAGEMAKER: "http://127.0.0.1:9" });
            assert.equal(refused.code, 1);
            assert.match(
                refused.err,
                /^error: Could not connect while listing training jobs \(ECONNREFUSED\): check the endpoint \(.*AWS_ENDPOINT_URL_SAGEMAKER=http:\/\/127\.0\.0\.1:9.*\) and your network\.$/m,
            );
        });

        it("train echoes the hyperparameters it sent, and refuses training flags with --dry-run", async () => {
            const run = await bin(["train", "--skip-data-prep", "--epochs", "7"]);
            assert.equal(run.code, 0, run.err);
            assert.match(
                run.out,
                /^Hyperparameters sent: epochs=7 learning_rate=0\.0001 batch_size=16 .*class_weights=\{.*target_class=Boots max_false_alarm_rate=0\.01$/m,
            );
            const dry = await bin(["train", "--dry-run", "--epochs", "5"]);
            assert.equal(dry.code, 2);
            assert.equal(
                dry.err,
                "error: --dry-run only counts the images data prep would use, so --epochs would do nothing: leave it out.\n",
            );
        });

        it("train --async prints the name the job will have, and status waits for it to appear", async () => {
            const run = await bin(["train", "--async", "--skip-data-prep", "--json"]);
            assert.equal(run.code, 0, run.err);
            const accepted = JSON.parse(run.out);
            assert.match(accepted.trainingJobName, /^bootboots-[0-9a-f]{24}$/);
            const status = await bin(["status", accepted.trainingJobName, "--interval", "1", "--json"]);
            assert.equal(status.code, 0, status.err);
            assert.equal(JSON.parse(status.out).trainingJobName, accepted.trainingJobName);
        });

        it("has --json, --version, one-line usage errors, examples and the inherited options in every help", async () => {
            for (const args of [
                ["status", "--json"],
                ["deploy", STRONG, "--no-up", "--json"],
                ["evaluate", "--dataset", "20260301T120000Z-e7a1", "--json"],
            ]) {
                const run = await bin(args);
                assert.equal(run.code, 0, `${args.join(" ")}: ${run.err}`);
                assert.doesNotThrow(() => JSON.parse(run.out), `${args.join(" ")} prints JSON`);
            }
            const version = await bin(["--version"]);
            assert.equal(
                version.out.trim(),
                JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
            );
            const usage = await bin(["status", "--bogus"]);
            assert.equal(usage.code, 2);
            assert.equal(usage.err, "error: unknown option '--bogus'\n(see 'bootboots status --help')\n");
            const help = await bin(["--help"]);
            assert.match(help.out, /Examples:\n {2}\$ npx bootboots train/);
            assert.match(
                help.out,
                /Exit codes: 0 success, 1 failure .*, 2 usage error, 3 done but some images failed\./,
            );
            const statusHelp = await bin(["status", "--help"]);
            assert.match(statusHelp.out, /Global Options:[\s\S]*--stack <name>[\s\S]*--training-bucket <name>/);
        });

        it("starts in well under a second from the compiled CLI", async () => {
            assert.ok(
                fs.existsSync(path.join(ROOT, "dist", "cli", "main.js")),
                "npm test builds dist/ (the prepare script does on npm ci)",
            );
            const started = Date.now();
            const run = await bin(["--help"]);
            const seconds = (Date.now() - started) / 1000;
            assert.equal(run.code, 0);
            assert.ok(seconds < 1.0, `bootboots --help took ${seconds} s`);
        });
    });

    it("has --help with examples for every command, and runs as npx bootboots", async () => {
        for (const command of ["train", "tune", "status", "compare", "deploy", "classify", "evaluate"]) {
            const run = await cli(command, "--help");
            assert.equal(run.code, 0, command);
            assert.match(run.out, /Examples:\n {2}\$ npx bootboots/, command);
        }
        // The defaults in the help are the contract's, not copies.
        const trainHelp = (await cli("train", "--help")).out;
        const defaults = JSON.parse(
            fs.readFileSync(path.join(ROOT, "training", "contract.json"), "utf8"),
        ).hyperparameterDefaults;
        assert.ok(trainHelp.includes(`training epochs (default ${defaults.epochs})`), trainHelp);
        assert.ok(trainHelp.includes(`images per batch (default ${defaults.batch_size})`), trainHelp);
        const help = execFileSync("npx", ["--no-install", "bootboots", "--help"], { cwd: ROOT, encoding: "utf8" });
        assert.match(help, /Usage: bootboots \[options\] \[command\]/);
    });
});
