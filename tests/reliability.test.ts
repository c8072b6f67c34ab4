import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command, S3Client, paginateListObjectsV2 } from "@aws-sdk/client-s3";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { strict as assert } from "assert";
import { metricDefinitions } from "../lib/contract";
import { prepareDataset } from "../handlers/dataPrep/prepareDataset";
import { triggerTraining } from "../handlers/trigger/triggerTraining";
import { readEnv } from "../lib/functionEnv";
import { DATA_PREP_ENV, TRIGGER_ENV } from "../lib/functionSettings";
import { DataPrepFailure, DataPrepSuccess, DatasetManifest } from "../lib/dataset";
import { Handler, loadDeployedHandler } from "./support/deployedLambda";
import { InvokeServer, startInvokeServer } from "./support/lambdaInvokeServer";
import { Moto, clientConfig, sharedMoto } from "./support/moto";
import { tuningStandIn } from "./support/tuningStandIn";
import { CONNECTION_RESET, DYNAMODB_THROTTLED, Proxy, RecordedRequest, SLOW_DOWN, startProxy } from "./support/proxy";
import { MockResource, StackRun, runStack } from "./support/pulumiMocks";
import { SMALL_SEED, WORLD, seedLabels, seedWorld, tinyJpeg } from "./support/seed";

const world = WORLD;
const SEED = SMALL_SEED;
const LONG_NAME = `${"x".repeat(1030)}.jpg`;
/** Two keys that the old flattening ('/' → '__') mapped to one dataset file. */
const LOOK_ALIKE = [
    { imageName: "cam0/x.jpg", cat: "Boots", body: tinyJpeg("cam0-slash-x") },
    { imageName: "cam0__x.jpg", cat: "Boots", body: tinyJpeg("cam0-underscores-x") },
];
const METRIC_DEFINITIONS = metricDefinitions;
const ACCESS_DENIED = { status: 403, body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>" };

/** A copy's GET of a whole image (not the 3-byte probe before the plan). */
const isImageGet = (request: RecordedRequest) =>
    request.method === "GET" &&
    request.url.startsWith(`/${world.imagesBucket}/catcam-training/`) &&
    request.headers.range === undefined;
const isDatasetPut = (request: RecordedRequest) =>
    request.method === "PUT" && request.url.startsWith(`/${world.trainingBucket}/datasets/`);
const failed = (result: unknown): string => {
    assert.equal((result as { success: boolean }).success, false, JSON.stringify(result).slice(0, 400));
    return (result as DataPrepFailure).error;
};
const succeeded = (result: unknown): DataPrepSuccess => {
    assert.equal((result as { success: boolean }).success, true, JSON.stringify(result).slice(0, 400));
    return result as DataPrepSuccess;
};
/** The same value with every mention of the dataset id, and the fields that depend on time, made equal. */
function normalized(value: unknown, datasetId: string): unknown {
    return JSON.parse(JSON.stringify(value).split(datasetId).join("<dataset>"), (key, v) =>
        key === "durationMs" || key === "createdAt" ? 0 : v,
    );
}

describe("the deployed Lambdas under faults (their __index.js against moto behind a fault-injecting proxy)", function () {
    this.timeout(180_000);
    let moto: Moto;
    let proxy: Proxy;
    let invoke: InvokeServer;
    let stack: StackRun;
    let reference: { result: DataPrepSuccess; manifest: DatasetManifest };

    const s3 = () => new S3Client(clientConfig(moto.endpoint));
    const fn = (name: string): MockResource => stack.one("aws:lambda/function:Function", name);
    /** The function's serialized code, run with its stack environment and every AWS call through the proxy. */
    const deployed = (name: string, env: Record<string, string> = {}): Promise<Handler> =>
        loadDeployedHandler(fn(name), {
            AWS_ENDPOINT_URL: proxy.endpoint,
            AWS_ENDPOINT_URL_LAMBDA: invoke.endpoint,
            ...env,
        });
    const readJson = async <T>(key: string): Promise<T> => {
        const object = await s3().send(new GetObjectCommand({ Bucket: world.trainingBucket, Key: key }));
        return JSON.parse(await object.Body!.transformToString()) as T;
    };
    const latest = async () => (await readJson<{ datasetId: string }>("datasets/latest.json")).datasetId;
    /** Every object under datasets/, and its size. */
    const datasetObjectSizes = async (): Promise<Map<string, number>> => {
        const sizes = new Map<string, number>();
        for await (const page of paginateListObjectsV2(
            { client: s3() },
            { Bucket: world.trainingBucket, Prefix: "datasets/" },
        ))
            for (const object of page.Contents ?? []) sizes.set(object.Key!, object.Size!);
        return sizes;
    };
    /** A dataset object's key without datasets/<id>/: the same image's key in every dataset. */
    const relativeKey = (key: string) => key.split("/").slice(2).join("/");
    const objectsUnder = async (prefix: string): Promise<Map<string, Buffer>> => {
        const objects = new Map<string, Buffer>();
        const page = await s3().send(new ListObjectsV2Command({ Bucket: world.trainingBucket, Prefix: prefix }));
        for (const object of page.Contents ?? []) {
            const body = await s3().send(new GetObjectCommand({ Bucket: world.trainingBucket, Key: object.Key! }));
            objects.set(object.Key!.slice(prefix.length), Buffer.from(await body.Body!.transformToByteArray()));
        }
        return objects;
    };

    /** A dataset's image files, path below its prefix → bytes. */
    const datasetFiles = async (datasetId: string) => {
        const objects = await objectsUnder(`datasets/${datasetId}/`);
        objects.delete("manifest.json");
        return objects;
    };

    before(async () => {
        moto = await sharedMoto();
        await seedWorld(
            moto.endpoint,
            [...seedLabels(SEED), ...LOOK_ALIKE, { imageName: LONG_NAME, cat: "Chi", body: null }],
            clientConfig,
        );
        stack = await runStack({});
        proxy = await startProxy(moto.endpoint);
        // What the trigger invokes: data prep's own deployed code.
        const dataPrep = await loadDeployedHandler(fn("data-prep"), { AWS_ENDPOINT_URL: proxy.endpoint });
        invoke = await startInvokeServer({ [String(stack.outputs.dataPrepFunctionName)]: dataPrep });
        // The dataset the deployed data prep builds with no fault: what the fault tests compare with.
        const built = succeeded(await dataPrep({}));
        reference = {
            result: built,
            manifest: await readJson<DatasetManifest>(`datasets/${built.datasetId}/manifest.json`),
        };
    });

    after(async () => {
        await proxy?.close();
        await invoke?.close();
        assert.deepEqual(proxy?.invalid ?? [], [], "every SageMaker request was one the service model accepts");
    });

    afterEach(() => {
        proxy.options = {};
        invoke.throttleNext = 0;
    });

    it("data prep as deployed writes the manifest and returns the result that the TypeScript source does", async () => {
        const env = { ...fn("data-prep").inputs.environment.variables, AWS_REGION: "eu-west-2" };
        const sourceClients = {
            s3: new S3Client(clientConfig(proxy.endpoint)),
            dynamodb: new DynamoDBClient(clientConfig(proxy.endpoint)),
        };
        const fromSource = succeeded(await prepareDataset(sourceClients, readEnv(DATA_PREP_ENV, env), {}));
        const fromDeployed = succeeded(await (await deployed("data-prep"))({}));
        assert.deepEqual(
            normalized(fromDeployed, fromDeployed.datasetId),
            normalized(fromSource, fromSource.datasetId),
        );
        const manifestOf = (id: string) => readJson<DatasetManifest>(`datasets/${id}/manifest.json`);
        const deployedManifest = await manifestOf(fromDeployed.datasetId);
        assert.deepEqual(
            normalized(deployedManifest, fromDeployed.datasetId),
            normalized(await manifestOf(fromSource.datasetId), fromSource.datasetId),
        );
    });

    it("the trigger as deployed sends the whole CreateTrainingJob request that the TypeScript source computes", async () => {
        const env = { ...fn("trigger-training").inputs.environment.variables, AWS_REGION: "eu-west-2" };
        const sourceClients = {
            s3: new S3Client(clientConfig(proxy.endpoint)),
            sagemaker: new SageMakerClient(clientConfig(proxy.endpoint)),
            lambda: new LambdaClient(clientConfig(invoke.endpoint, 1)),
        };
        const event = {
            skipDataPrep: true,
            datasetId: reference.result.datasetId,
            epochs: 7,
            classWeights: "balanced",
        };
        const fromSource = await triggerTraining(sourceClients, readEnv(TRIGGER_ENV, env), event, "source-request");
        const fromDeployed = await (await deployed("trigger-training"))(event, { awsRequestId: "deployed-request" });
        assert.equal(fromSource.success, true, JSON.stringify(fromSource));
        assert.equal(fromDeployed.success, true, JSON.stringify(fromDeployed));
        const sent = proxy.requests
            .filter((r) => r.headers["x-amz-target"] === "SageMaker.CreateTrainingJob")
            .map((r) => JSON.parse(r.body.toString()));
        assert.equal(sent.length, 2);
        const comparable = (request: any, jobName: string, requestId: string) =>
            JSON.parse(JSON.stringify(request).split(jobName).join("<job>").split(requestId).join("<request>"));
        assert.deepEqual(
            comparable(sent[1], fromDeployed.trainingJobName, "deployed-request"),
            comparable(sent[0], (fromSource as { trainingJobName: string }).trainingJobName, "source-request"),
        );
        // The serializer once sent [] here: the deployed request carries every definition of the file.
        assert.deepEqual(sent[1].AlgorithmSpecification.MetricDefinitions, METRIC_DEFINITIONS);
        // Every input is a channel (the script archive and the ImageNet weights too), so the job runs isolated.
        const channels = Object.fromEntries(
            sent[1].InputDataConfig.map((c: any) => [c.ChannelName, c.DataSource.S3DataSource.S3Uri]),
        );
        assert.equal(channels.code, stack.outputs.trainingScriptUri);
        assert.equal(channels.test, `s3://${world.trainingBucket}/datasets/${reference.result.datasetId}/test/`);
        assert.equal(
            channels.manifest,
            `s3://${world.trainingBucket}/datasets/${reference.result.datasetId}/manifest.json`,
        );
        assert.equal(sent[1].HyperParameters.target_class, "Boots");
        assert.equal(
            channels.base_weights,
            "s3://bootboots-models-123456789012/base-weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        );
        assert.equal(sent[1].EnableNetworkIsolation, true);
    });

    it("retries S3 SlowDown, throttled scan pages and connections reset before an answer; the dataset comes out byte-identical", async () => {
        let s3Requests = 0;
        const injected = { slowDown: 0, throttled: 0, reset: 0 };
        proxy.options = {
            inject: (request) => {
                if (request.headers["x-amz-target"] === "DynamoDB_20120810.Scan")
                    return injected.throttled < 2 ? (injected.throttled++, DYNAMODB_THROTTLED) : undefined;
                if (request.headers["x-amz-target"]) return undefined;
                s3Requests += 1;
                if (s3Requests % 13 === 0 && injected.slowDown < 28) return (injected.slowDown++, SLOW_DOWN);
                if (s3Requests % 29 === 0 && injected.reset < 5) return (injected.reset++, CONNECTION_RESET);
                return undefined;
            },
        };
        const retried = succeeded(await (await deployed("data-prep"))({}));
        assert.deepEqual(injected, { slowDown: 28, throttled: 2, reset: 5 });
        assert.deepEqual(
            normalized(retried, retried.datasetId),
            normalized(reference.result, reference.result.datasetId),
        );
        assert.deepEqual(await datasetFiles(retried.datasetId), await datasetFiles(reference.result.datasetId));
    });

    it("retries a connection reset while an image body is read, and the dataset comes out byte-identical", async () => {
        let cuts = 0;
        proxy.options = { cutBodyAfter: (request) => (isImageGet(request) && cuts < 5 ? (cuts++, 10) : undefined) };
        const retried = succeeded(await (await deployed("data-prep"))({}));
        assert.equal(cuts, 5);
        assert.deepEqual(
            normalized(retried, retried.datasetId),
            normalized(reference.result, reference.result.datasetId),
        );
        assert.deepEqual(await datasetFiles(retried.datasetId), await datasetFiles(reference.result.datasetId));
    });

    it("never stores a body cut short: an image that always arrives short fails the run, naming it, and latest.json stays", async () => {
        const before = await latest();
        const existing = new Set((await datasetObjectSizes()).keys());
        const victim = `/${world.imagesBucket}/catcam-training/${LOOK_ALIKE[0].imageName}`;
        let cuts = 0;
        proxy.options = {
            cutBodyAfter: (request) =>
                isImageGet(request) && request.url.split("?")[0] === victim ? (cuts++, 8) : undefined,
        };
        const error = failed(await (await deployed("data-prep"))({}));
        assert.equal(cuts, 4, "four reads of the body, then it gives up");
        assert.match(
            error,
            /s3:\/\/bootboots-images-123456789012-eu-west-2\/catcam-training\/cam0\/x\.jpg.*reading the body failed 4 times/,
        );
        assert.equal(await latest(), before);
        // What the failed run wrote: the victim not at all, and every other image whole.
        const fullSizes = new Map(reference.manifest.images.map((i) => [relativeKey(i.key), i.bytes]));
        const written = [...(await datasetObjectSizes())].filter(([key]) => !existing.has(key));
        assert.ok(written.length > 0, "the failed run had written images before it stopped");
        for (const [key, size] of written) {
            if (key.endsWith("/manifest.json")) continue;
            assert.ok(!key.endsWith("/cam0%2Fx.jpg"), `${key}: the image cut short was stored`);
            assert.equal(size, fullSizes.get(relativeKey(key)), `${key} holds ${size} bytes`);
        }
    });

    it("after a fatal copy error cancels the queued copies and returns only when none is in flight", async () => {
        let gets = 0;
        proxy.options = {
            latencyMs: 15,
            inject: (request) => (isImageGet(request) && ++gets === 40 ? ACCESS_DENIED : undefined),
        };
        const handler = await deployed("data-prep", { [DATA_PREP_ENV.copyConcurrency.name]: "8" });
        const first = proxy.requests.length;
        const error = failed(await handler({}));
        const returnedAt = Date.now();
        const seenAtReturn = proxy.requests.length;
        await new Promise((done) => setTimeout(done, 1000));
        assert.match(error, /Access denied to s3:\/\/bootboots-images-123456789012-eu-west-2\/catcam-training\//);
        assert.equal(proxy.requests.length, seenAtReturn, "no request after the function returned");
        // A request still in flight at the return would be answered afterwards; an aborted one is never answered.
        const answeredLate = [...proxy.answered].filter(([index, at]) => index >= first && at > returnedAt);
        assert.deepEqual(answeredLate, [], "no answer completed after the function returned");
        assert.ok(gets < 60, `${gets} image reads of ${reference.manifest.images.length + 2}: the queue was cancelled`);
    });

    it("gives two source keys that flattened alike two files, and the manifest matches the bucket one for one", async () => {
        const keys = reference.manifest.images.map((i) => i.key.split("/").pop());
        assert.ok(
            keys.includes("cam0%2Fx.jpg") && keys.includes("cam0__x.jpg"),
            keys.filter((k) => k!.startsWith("cam0")).join(", "),
        );
        assert.equal(new Set(reference.manifest.images.map((i) => i.key)).size, reference.manifest.images.length);
        const written = await objectsUnder(`datasets/${reference.result.datasetId}/`);
        assert.equal(written.size, reference.manifest.images.length + 1);
        const boots = reference.result.classDistribution.Boots;
        assert.equal(boots.training + boots.validation + boots.test, SEED.Boots + 2);
    });

    it("does not mark latest a dataset whose objects do not match its manifest (a write that S3 lost)", async () => {
        const before = await latest();
        let puts = 0;
        proxy.options = {
            inject: (request) => (isDatasetPut(request) && ++puts === 17 ? { status: 200, body: "" } : undefined),
        };
        const error = failed(await (await deployed("data-prep"))({}));
        assert.match(
            error,
            /^Dataset \S+ does not match its manifest \(\d+ images listed, \d+ objects written; \S+ is missing\), so it was not marked latest: run data prep again\.$/,
        );
        assert.equal(await latest(), before);
    });

    it("refuses payload keys named like Object.prototype members by name, in both Lambdas, touching nothing", async () => {
        const dataPrep = await deployed("data-prep");
        const trigger = await deployed("trigger-training");
        const [seen, invocations] = [proxy.requests.length, invoke.invocations.length];
        // The split fields are checked by the rules shared with the stack config, as deployed.
        assert.match(
            failed(await dataPrep({ validationSplit: 1.5 })),
            /"validationSplit".*a number greater than 0 and less than 1/,
        );
        assert.match(failed(await dataPrep({ maxNoCatSamples: 0 })), /"maxNoCatSamples".*an integer from 1 to 1000000/);
        for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
            const event = JSON.parse(`{"${key}": 1}`);
            assert.match(
                failed(await dataPrep(event)),
                new RegExp(`^Unknown field "${key}" in the data-prep event\\. Allowed fields: dryRun,`),
                key,
            );
            assert.match(
                failed(await trigger(event, { awsRequestId: `proto-${key}` })),
                new RegExp(`^Unknown field "${key}" in the trigger event\\.`),
                key,
            );
        }
        assert.equal(proxy.requests.length, seen, "no AWS request");
        assert.equal(invoke.invocations.length, invocations, "no Lambda invocation");
    });

    it("skips an imageName longer than S3's 1,024-byte key limit with its reason", () => {
        const skipped = reference.manifest.skipped.find((s) => s.imageName === LONG_NAME);
        assert.deepEqual(skipped?.reason, "key longer than S3's 1024-byte limit");
    });

    it("says a dataset is complete but not marked latest when writing latest.json fails, and how to train on it", async () => {
        const before = await latest();
        proxy.options = {
            inject: (request) =>
                request.method === "PUT" && request.url.startsWith(`/${world.trainingBucket}/datasets/latest.json`)
                    ? ACCESS_DENIED
                    : undefined,
        };
        const error = failed(await (await deployed("data-prep"))({}));
        const id = /^Dataset (\S+) is complete but was not marked latest/.exec(error)?.[1];
        assert.ok(id, error);
        assert.ok(
            error.includes(`{"skipDataPrep": true, "datasetId": "${id}"} (npx bootboots train --dataset ${id})`),
            error,
        );
        assert.equal(await latest(), before);
        assert.equal((await readJson<DatasetManifest>(`datasets/${id}/manifest.json`)).datasetId, id);
    });

    it("tells a missing dataset (404) from one the role may not read (403)", async () => {
        const trigger = await deployed("trigger-training");
        const missing = failed(
            await trigger(
                { skipDataPrep: true, datasetId: "20200101T000000Z-dead" },
                { awsRequestId: "missing-dataset" },
            ),
        );
        assert.match(
            missing,
            /^Dataset 20200101T000000Z-dead does not exist in s3:\/\/bootboots-training-data-123456789012\/datasets\/20200101T000000Z-dead\//,
        );
        proxy.options = {
            inject: (request) =>
                request.method === "GET" && request.url.includes("/datasets/latest.json") ? ACCESS_DENIED : undefined,
        };
        const denied = failed(await trigger({ skipDataPrep: true }, { awsRequestId: "denied-latest" }));
        assert.match(
            denied,
            /^Access denied reading s3:\/\/bootboots-training-data-123456789012\/datasets\/latest\.json: the trigger's role needs s3:GetObject on datasets\/\* and s3:ListBucket/,
        );
    });

    it("tells both ways out when the spot quota is used up", async () => {
        proxy.options = {
            inject: (request) =>
                request.headers["x-amz-target"] === "SageMaker.CreateTrainingJob"
                    ? {
                          status: 400,
                          headers: {
                              "content-type": "application/x-amz-json-1.1",
                              "x-amzn-errortype": "ResourceLimitExceeded",
                          },
                          body: JSON.stringify({
                              __type: "ResourceLimitExceeded",
                              Message:
                                  "The account-level service limit 'ml.m5.xlarge for spot training job usage' is 0 Instances.",
                          }),
                      }
                    : undefined,
        };
        const error = failed(
            await (
                await deployed("trigger-training")
            )({ skipDataPrep: true }, { awsRequestId: "no-spot-quota" }),
        );
        assert.match(
            error,
            /spot training on ml\.m5\.xlarge is used up .*\{"spot": false\} \(npx bootboots train --no-spot\), or ask for a higher "ml\.m5\.xlarge for spot training job usage" quota/,
        );
    });

    it("tuning, as deployed: one CreateHyperParameterTuningJob within the API's constraints, the same the source sends, and a retry starts nothing new", async () => {
        const tuning = tuningStandIn();
        proxy.options = { inject: (request) => tuning.inject(request) };
        const event = {
            skipDataPrep: true,
            datasetId: reference.result.datasetId,
            epochs: 20,
            tune: { maxJobs: 12, parallelJobs: 3 },
        };
        const trigger = await deployed("trigger-training");
        const first = await trigger(event, { awsRequestId: "tune-request" });
        assert.equal(first.success, true, JSON.stringify(first));
        assert.match(first.tuningJobName, /^bootboots-[0-9a-f]{22}$/);
        assert.equal(first.tuningJobName.length, 32);
        assert.deepEqual(tuning.refused, []);
        const request = tuning.created.get(first.tuningJobName);
        const config = request.HyperParameterTuningJobConfig;
        assert.equal(config.Strategy, "Bayesian");
        assert.deepEqual(config.HyperParameterTuningJobObjective, {
            Type: "Maximize",
            MetricName: "validation:macro_f1",
        });
        assert.deepEqual(config.ResourceLimits, { MaxNumberOfTrainingJobs: 12, MaxParallelTrainingJobs: 3 });
        assert.equal(config.TrainingJobEarlyStoppingType, "Auto");
        assert.deepEqual(config.ParameterRanges, {
            ContinuousParameterRanges: [
                { Name: "learning_rate", MinValue: "0.00001", MaxValue: "0.01", ScalingType: "Logarithmic" },
                { Name: "dropout_rate", MinValue: "0.1", MaxValue: "0.6", ScalingType: "Linear" },
            ],
            CategoricalParameterRanges: [
                { Name: "train_only_top_layer", Values: ["true", "false"] },
                { Name: "batch_size", Values: ["8", "16", "32"] },
            ],
        });
        const definition = request.TrainingJobDefinition;
        assert.equal(definition.StaticHyperParameters.epochs, "20");
        assert.equal(definition.EnableNetworkIsolation, true);
        assert.deepEqual(definition.AlgorithmSpecification.MetricDefinitions, METRIC_DEFINITIONS);
        assert.equal(
            definition.CheckpointConfig.S3Uri,
            `s3://${WORLD.modelBucket}/checkpoints/${first.tuningJobName}/`,
        );
        assert.deepEqual(
            definition.InputDataConfig.map((c: any) => c.ChannelName),
            ["training", "validation", "test", "manifest", "code", "base_weights"],
        );

        const retry = await (await deployed("trigger-training"))(event, { awsRequestId: "tune-request" });
        assert.equal(retry.tuningJobName, first.tuningJobName);
        assert.equal(retry.alreadyStarted, true);
        assert.equal(tuning.created.size, 1, "a retry starts nothing new");

        // The TypeScript source computes the same request.
        const env = { ...fn("trigger-training").inputs.environment.variables, AWS_REGION: "eu-west-2" };
        const sourceClients = {
            s3: new S3Client(clientConfig(proxy.endpoint)),
            sagemaker: new SageMakerClient(clientConfig(proxy.endpoint)),
            lambda: new LambdaClient(clientConfig(invoke.endpoint, 1)),
        };
        const fromSource = await triggerTraining(sourceClients, readEnv(TRIGGER_ENV, env), event, "tune-source");
        const sourceName = (fromSource as { tuningJobName: string }).tuningJobName;
        const same = (name: string, id: string) =>
            JSON.parse(JSON.stringify(tuning.created.get(name)).split(name).join("<job>").split(id).join("<request>"));
        assert.deepEqual(same(first.tuningJobName, "tune-request"), same(sourceName, "tune-source"));
    });

    it("refuses a bad tune object by the field's full name, and starts nothing", async () => {
        const tuning = tuningStandIn();
        proxy.options = { inject: (request) => tuning.inject(request) };
        const trigger = await deployed("trigger-training");
        const cases: [unknown, RegExp][] = [
            [{ maxJobs: 1 }, /^Invalid "tune\.maxJobs": 1\. It must be an integer from 2 to 100\.$/],
            [{ parallelJobs: 11 }, /^Invalid "tune\.parallelJobs": 11\. It must be an integer from 1 to 10\.$/],
            [
                { maxJobs: 4, parallelJobs: 5 },
                /^Invalid "tune\.parallelJobs": 5\. It must be at most "tune\.maxJobs" \(4\)\.$/,
            ],
            [
                { jobs: 3 },
                /^Unknown field "tune\.jobs" in the trigger event\. Allowed fields: tune\.maxJobs, tune\.parallelJobs\.$/,
            ],
            ["lots", /^Invalid "tune": "lots"\. It must be an object/],
        ];
        for (const [tune, message] of cases) {
            assert.match(
                failed(await trigger({ tune }, { awsRequestId: `bad-tune-${JSON.stringify(tune)}` })),
                message,
            );
        }
        assert.equal(tuning.created.size, 0);
    });

    it("retries data prep when Lambda answers 429, and runs it once", async () => {
        invoke.throttleNext = 2;
        const before = invoke.invocations.length;
        const result = await (await deployed("trigger-training"))({ epochs: 3 }, { awsRequestId: "throttled-invoke" });
        assert.equal(result.success, true, JSON.stringify(result));
        assert.equal(invoke.throttled, 2);
        assert.equal(invoke.invocations.length - before, 1);
    });
});
