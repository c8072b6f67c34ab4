import { LambdaClient } from "@aws-sdk/client-lambda";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DescribeTrainingJobCommand, ListTrainingJobsCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { strict as assert } from "assert";
import { metricDefinitions } from "../lib/contract";
import { contract } from "../lib/contract";
import { DatasetManifest } from "../lib/dataset";
import { TriggerSettings, triggerTraining } from "../handlers/trigger/triggerTraining";
import { TriggerSuccess, trainingJobName } from "../lib/triggerEvent";
import { loadDeployedHandler } from "./support/deployedLambda";
import { InvokeServer, startInvokeServer } from "./support/lambdaInvokeServer";
import { Moto, clientConfig, sharedMoto } from "./support/moto";
import { Proxy, startProxy } from "./support/proxy";
import { runStack } from "./support/pulumiMocks";
import { SMALL_SEED, WORLD, seedLabels, seedWorld } from "./support/seed";

const world = WORLD;
const MODEL_BUCKET = WORLD.modelBucket;
const METRIC_DEFINITIONS = metricDefinitions;
const IMAGE = "763104351884.dkr.ecr.eu-west-2.amazonaws.com/tensorflow-training:2.19.0-cpu-py312-ubuntu22.04-sagemaker";
const ROLE = "arn:aws:iam::123456789012:role/bootboots-sagemaker-a1b2c3d";

describe("trigger-training", function () {
    this.timeout(180_000);
    let proxy: Proxy;
    let invoke: InvokeServer;
    let settings: TriggerSettings;

    const sagemaker = () => new SageMakerClient(clientConfig(moto.endpoint));
    const s3 = () => new S3Client(clientConfig(moto.endpoint));
    const clients = () => ({
        s3: new S3Client(clientConfig(proxy.endpoint)),
        sagemaker: new SageMakerClient(clientConfig(proxy.endpoint, 1)),
        lambda: new LambdaClient(clientConfig(invoke.endpoint, 1)),
    });
    const readManifest = async (datasetId: string): Promise<DatasetManifest> => {
        const object = await s3().send(
            new GetObjectCommand({ Bucket: world.trainingBucket, Key: `datasets/${datasetId}/manifest.json` }),
        );
        return JSON.parse(await object.Body!.transformToString());
    };
    const jobCount = async () =>
        (await sagemaker().send(new ListTrainingJobsCommand({}))).TrainingJobSummaries?.length ?? 0;
    const createRequests = () =>
        proxy.requests
            .filter((r) => r.headers["x-amz-target"] === "SageMaker.CreateTrainingJob")
            .map((r) => JSON.parse(r.body.toString()));

    let moto: Moto;

    before(async () => {
        moto = await sharedMoto();
        await seedWorld(moto.endpoint, seedLabels(SMALL_SEED), clientConfig);

        const stack = await runStack({});
        const dataPrepFn = stack.one("aws:lambda/function:Function", "data-prep");
        const dataPrep = await loadDeployedHandler(dataPrepFn, { AWS_ENDPOINT_URL: moto.endpoint });
        invoke = await startInvokeServer({ [String(stack.outputs.dataPrepFunctionName)]: dataPrep });
        proxy = await startProxy(moto.endpoint);
        settings = {
            region: "eu-west-2",
            trainingBucket: world.trainingBucket,
            modelBucket: MODEL_BUCKET,
            dataPrepFunction: String(stack.outputs.dataPrepFunctionName),
            sagemakerRoleArn: ROLE,
            trainingImageUri: IMAGE,
            trainingScriptUri: String(stack.outputs.trainingScriptUri),
            instanceType: "ml.m5.xlarge",
            spot: true,
            classes: ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"],
            metricDefinitions: METRIC_DEFINITIONS,
            baseWeightsUri: `s3://${MODEL_BUCKET}/base-weights/weights_no_top.h5`,
            networkIsolation: true,
            targetClass: "Boots",
            maxFalseAlarmRate: 0.01,
            tuning: contract.tuning,
            stackName: "sandbox",
        };
    });

    after(async () => {
        await proxy?.close();
        await invoke?.close();
        assert.deepEqual(proxy?.invalid ?? [], [], "every SageMaker request was one the service model accepts");
    });

    it("refuses bad payloads with a message naming the field, and starts no job", async () => {
        const cases: [unknown, RegExp][] = [
            [{ epochs: 0 }, /"epochs".*integer from 1 to 10000/],
            [{ epochs: 10001 }, /"epochs"/],
            [{ epochs: 2.5 }, /"epochs"/],
            [{ epochs: "50" }, /"epochs"/],
            [{ learningRate: 0 }, /"learningRate".*greater than 0 and less than 1/],
            [{ learningRate: 1 }, /"learningRate"/],
            [{ learningRate: -0.1 }, /"learningRate"/],
            [{ batchSize: 0 }, /"batchSize".*integer from 1/],
            [{ dropoutRate: 1 }, /"dropoutRate".*at least 0 and less than 1/],
            [{ dropoutRate: -0.1 }, /"dropoutRate"/],
            // The instance type is the stack's: the role may start no other (trainingInstanceType).
            [{ instanceType: "ml.p3.2xlarge" }, /Unknown field "instanceType"/],
            [{ skipDataPrep: true, datasetId: "latest" }, /"datasetId".*20260221T153033Z-4f2a/],
            [{ datasetId: "20260221T153033Z-4f2a" }, /"datasetId".*skipDataPrep/],
            [{ classWeights: "auto" }, /"classWeights".*"balanced", "none"/],
            [{ spot: "yes" }, /"spot".*true or false/],
            [{ trainOnlyTopLayer: 1 }, /"trainOnlyTopLayer"/],
            [{ skipDataPrep: "true" }, /"skipDataPrep"/],
            [{ maxRuntimeSeconds: 10 }, /"maxRuntimeSeconds".*integer from 60/],
            [{ epoch: 5 }, /Unknown field "epoch".*Allowed fields: skipDataPrep, datasetId, epochs/],
            [[1, 2], /must be a JSON object/],
        ];
        const [invocations, jobs] = [invoke.invocations.length, await jobCount()];
        for (const [event, message] of cases) {
            const result = await triggerTraining(clients(), settings, event, `bad-${JSON.stringify(event)}`);
            assert.equal(result.success, false, JSON.stringify(event));
            assert.match((result as { error: string }).error, message, JSON.stringify(event));
        }
        assert.equal(invoke.invocations.length, invocations, "no data prep for a bad payload");
        assert.equal(await jobCount(), jobs);
    });

    /** The job of request-1, started once for the tests that read it: with the data-prep invocations and jobs it added. */
    const firstJob = (() => {
        let started: Promise<{ first: TriggerSuccess; invocations: number; jobs: number }> | undefined;
        return () =>
            (started ??= (async () => {
                const [invocations, jobs] = [invoke.invocations.length, await jobCount()];
                const result = await triggerTraining(clients(), settings, { epochs: 30, batchSize: 8 }, "request-1");
                assert.equal(result.success, true, JSON.stringify(result));
                return {
                    first: result as TriggerSuccess,
                    invocations: invoke.invocations.length - invocations,
                    jobs: (await jobCount()) - jobs,
                };
            })());
    })();
    it("prepares a dataset through the data-prep function and starts the job SageMaker is asked for", async () => {
        const { first, invocations, jobs } = await firstJob();
        assert.equal(invocations, 1, "one data-prep invocation");
        assert.equal(jobs, 1, "one job");
        assert.match(first.trainingJobName, /^bootboots-[0-9a-f]{24}$/);
        assert.ok(
            first.trainingJobName.length <= 63 && /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(first.trainingJobName),
        );
        assert.equal(
            first.consoleUrl,
            `https://eu-west-2.console.aws.amazon.com/sagemaker/home?region=eu-west-2#/jobs/${first.trainingJobName}`,
        );
        assert.equal(
            first.deployCommand,
            `pulumi config set modelDataUrl s3://${MODEL_BUCKET}/training-output/${first.trainingJobName}/output/model.tar.gz && pulumi up`,
        );

        const job = await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: first.trainingJobName }));
        assert.equal(job.AlgorithmSpecification?.TrainingImage, IMAGE);
        assert.equal(job.RoleArn, ROLE);
        assert.deepEqual(job.HyperParameters, first.hyperParameters);
        const datasetUri = `s3://${world.trainingBucket}/datasets/${first.datasetId}/`;
        assert.deepEqual(
            job.InputDataConfig?.map((c) => [c.ChannelName, c.DataSource?.S3DataSource?.S3Uri]),
            [
                ["training", `${datasetUri}training/`],
                ["validation", `${datasetUri}validation/`],
                ["test", `${datasetUri}test/`],
                // Each image's visit and capture time: train.py decides per visit by them.
                ["manifest", `${datasetUri}manifest.json`],
                ["code", settings.trainingScriptUri],
                ["base_weights", settings.baseWeightsUri],
            ],
        );
        assert.equal(job.OutputDataConfig?.S3OutputPath, `s3://${MODEL_BUCKET}/training-output/`);
        assert.equal(job.EnableManagedSpotTraining, true);
        assert.ok(job.StoppingCondition!.MaxWaitTimeInSeconds! >= job.StoppingCondition!.MaxRuntimeInSeconds!);
        assert.equal(job.StoppingCondition?.MaxRuntimeInSeconds, 7200);
        assert.equal(job.CheckpointConfig?.S3Uri, `s3://${MODEL_BUCKET}/checkpoints/${first.trainingJobName}/`);
        assert.equal(job.ResourceConfig?.InstanceType, "ml.m5.xlarge");

        // moto replaces MetricDefinitions and drops tags on describe: read them from the request sent.
        const request = createRequests().find((r) => r.TrainingJobName === first.trainingJobName);
        assert.deepEqual(request.AlgorithmSpecification.MetricDefinitions, METRIC_DEFINITIONS);
        assert.equal(request.EnableNetworkIsolation, true);
        assert.deepEqual(request.Tags, [
            { Key: "project", Value: "bootboots-ai" },
            { Key: "bootboots:datasetId", Value: first.datasetId },
            { Key: "bootboots:requestId", Value: "request-1" },
            { Key: "bootboots:stack", Value: "sandbox" },
        ]);
    });

    it("sends every hyperparameter of the design as a string, with balanced class weights computed from the counts", async () => {
        const { first } = await firstJob();
        const hps = first.hyperParameters;
        assert.deepEqual(Object.keys(hps).sort(), [
            "augmentation",
            "augmentation_random_flip",
            "augmentation_random_rotation",
            "augmentation_random_zoom",
            "batch_size",
            "class_weights",
            "classes",
            "dropout_rate",
            "early_stopping",
            "early_stopping_min_delta",
            "early_stopping_patience",
            "epochs",
            "learning_rate",
            "max_false_alarm_rate",
            "sagemaker_program",
            "sagemaker_region",
            "sagemaker_submit_directory",
            "target_class",
            "train_only_top_layer",
        ]);
        assert.ok(Object.values(hps).every((v) => typeof v === "string"));
        assert.equal(hps.epochs, "30");
        assert.equal(hps.batch_size, "8");
        assert.equal(hps.learning_rate, "0.0001");
        assert.equal(hps.augmentation_random_flip, "horizontal_and_vertical");
        assert.equal(hps.classes, "Boots,Chi,Kappa,Mu,NoCat,Tau,Wolf");
        assert.equal(hps.sagemaker_program, "train.py");
        assert.equal(
            hps.sagemaker_submit_directory,
            `/opt/ml/input/data/code/${settings.trainingScriptUri.split("/").pop()}`,
        );
        const manifest = await readManifest(first.datasetId);
        const counts = settings.classes.map((c) => manifest.classDistribution[c].training);
        const total = counts.reduce((a, b) => a + b, 0);
        const weights = JSON.parse(hps.class_weights);
        settings.classes.forEach((c, i) => assert.ok(Math.abs(weights[c] - total / (7 * counts[i])) < 1e-5, c));
        assert.ok(weights.Mu > weights.NoCat, "the rarer class weighs more");
    });

    it("never starts a second job for a retried invocation", async () => {
        const { first } = await firstJob();
        const [invocations, jobs] = [invoke.invocations.length, await jobCount()];
        const retry = await triggerTraining(clients(), settings, { epochs: 30, batchSize: 8 }, "request-1");
        assert.equal(retry.success, true);
        assert.equal((retry as TriggerSuccess).trainingJobName, first.trainingJobName);
        assert.equal((retry as TriggerSuccess).alreadyStarted, true);
        assert.equal((retry as TriggerSuccess).datasetId, first.datasetId);
        assert.equal(await jobCount(), jobs);
        assert.equal(invoke.invocations.length, invocations, "the retry prepares no new dataset");
    });

    it("names the job after the payload's requestId, so a caller's retry under another invocation is the same request", async () => {
        await firstJob();
        const [invocations, jobs] = [invoke.invocations.length, await jobCount()];
        const payload = { skipDataPrep: true, requestId: "retrain-20261202T030000Z" };
        const started = (await triggerTraining(clients(), settings, payload, "invocation-a")) as TriggerSuccess;
        const again = (await triggerTraining(clients(), settings, payload, "invocation-b")) as TriggerSuccess;
        assert.equal(started.trainingJobName, trainingJobName("retrain-20261202T030000Z"));
        assert.deepEqual([started.alreadyStarted, again.alreadyStarted], [false, true]);
        assert.equal(again.trainingJobName, started.trainingJobName);
        assert.equal(await jobCount(), jobs + 1);
        assert.equal(invoke.invocations.length, invocations, "skipDataPrep: no data prep either time");
    });

    it("reports SageMaker's ResourceInUse, from a retry that raced the first, as the job already started", async () => {
        const { first } = await firstJob();
        const jobs = await jobCount();
        let describes = 0;
        proxy.options = {
            inject: (request) => {
                const target = request.headers["x-amz-target"];
                if (target === "SageMaker.DescribeTrainingJob" && describes++ === 0) {
                    return {
                        status: 400,
                        body: JSON.stringify({
                            __type: "ValidationException",
                            message: "Requested resource not found",
                        }),
                        headers: { "content-type": "application/x-amz-json-1.1" },
                    };
                }
                if (target === "SageMaker.CreateTrainingJob") {
                    return {
                        status: 400,
                        body: JSON.stringify({ __type: "ResourceInUse", message: "Training job names must be unique" }),
                        headers: { "content-type": "application/x-amz-json-1.1" },
                    };
                }
                return undefined;
            },
        };
        const raced = await triggerTraining(clients(), settings, { skipDataPrep: true }, "request-1");
        proxy.options = {};
        assert.equal(raced.success, true, JSON.stringify(raced));
        assert.equal((raced as TriggerSuccess).trainingJobName, first.trainingJobName);
        assert.equal((raced as TriggerSuccess).alreadyStarted, true);
        assert.equal(await jobCount(), jobs);
    });

    it("with skipDataPrep uses latest.json, or the datasetId given, without invoking data prep", async () => {
        const { first } = await firstJob();
        const invocations = invoke.invocations.length;
        const latest = await triggerTraining(
            clients(),
            settings,
            { skipDataPrep: true, spot: false, classWeights: "none" },
            "request-2",
        );
        assert.equal(latest.success, true, JSON.stringify(latest));
        assert.equal((latest as TriggerSuccess).datasetId, first.datasetId);
        assert.equal((latest as TriggerSuccess).hyperParameters.class_weights, "none");
        const job = await sagemaker().send(
            new DescribeTrainingJobCommand({ TrainingJobName: (latest as TriggerSuccess).trainingJobName }),
        );
        assert.equal(job.EnableManagedSpotTraining, false);
        assert.equal(job.CheckpointConfig, undefined);

        const named = await triggerTraining(
            clients(),
            settings,
            { skipDataPrep: true, datasetId: first.datasetId },
            "request-3",
        );
        assert.equal(named.success, true);
        const unknown = await triggerTraining(
            clients(),
            settings,
            { skipDataPrep: true, datasetId: "20200101T000000Z-0000" },
            "request-4",
        );
        assert.equal(unknown.success, false);
        assert.match((unknown as { error: string }).error, /Dataset 20200101T000000Z-0000 does not exist/);
        assert.equal(invoke.invocations.length, invocations);
    });

    it("says clearly when no dataset exists yet", async () => {
        await firstJob();
        const latest = { Bucket: world.trainingBucket, Key: "datasets/latest.json" };
        const saved = await (await s3().send(new GetObjectCommand(latest))).Body!.transformToString();
        await s3().send(new DeleteObjectCommand(latest));
        try {
            const before = await jobCount();
            const result = await triggerTraining(clients(), settings, { skipDataPrep: true }, "request-5");
            assert.equal(result.success, false);
            assert.match((result as { error: string }).error, /No dataset exists yet.*invoke without "skipDataPrep"/);
            assert.equal(await jobCount(), before);
        } finally {
            await s3().send(new PutObjectCommand({ ...latest, Body: saved }));
        }
    });

    it("treats a data-prep FunctionError as a failure and starts no job", async () => {
        const failing = await startInvokeServer({
            [settings.dataPrepFunction]: async () => {
                throw new Error("Task timed out after 600.00 seconds");
            },
        });
        const before = await jobCount();
        const result = await triggerTraining(
            { ...clients(), lambda: new LambdaClient(clientConfig(failing.endpoint, 1)) },
            settings,
            {},
            "request-6",
        );
        await failing.close();
        assert.equal(result.success, false);
        assert.match((result as { error: string }).error, /Data prep failed \(Unhandled\): Task timed out/);
        assert.equal(await jobCount(), before);
    });

    it("refuses a dataset with fewer than 50 training images", async () => {
        const { first } = await firstJob();
        const small: DatasetManifest = {
            ...(await readManifest(first.datasetId)),
            datasetId: "20260101T000000Z-beef",
            trainingImages: 42,
        };
        await s3().send(
            new PutObjectCommand({
                Bucket: world.trainingBucket,
                Key: "datasets/20260101T000000Z-beef/manifest.json",
                Body: JSON.stringify(small),
            }),
        );
        const result = await triggerTraining(
            clients(),
            settings,
            { skipDataPrep: true, datasetId: small.datasetId },
            "request-7",
        );
        assert.equal(result.success, false);
        assert.match((result as { error: string }).error, /has 42 training images; training needs at least 50/);
    });

    it("runs end to end as deployed: the trigger's __index.js invokes data prep's and starts a job", async () => {
        const stack = await runStack({});
        const trigger = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "trigger-training"), {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ENDPOINT_URL_LAMBDA: invoke.endpoint,
        });
        const before = await jobCount();
        const started = Date.now();
        const result = await trigger({ epochs: 5 }, { awsRequestId: "deployed-request" });
        assert.equal(result.success, true, JSON.stringify(result));
        assert.ok(Date.now() - started < 60_000, "fits the AWS CLI's 60 s read timeout");
        assert.equal(await jobCount(), before + 1);
        assert.equal(result.dataPrep.success, true);
        const job = await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: result.trainingJobName }));
        assert.equal(job.HyperParameters?.epochs, "5");
        assert.equal(job.AlgorithmSpecification?.TrainingImage, IMAGE);
    });
});
