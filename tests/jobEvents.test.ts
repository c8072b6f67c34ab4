import {
    DeleteObjectCommand,
    GetObjectCommand,
    GetObjectTaggingCommand,
    PutObjectCommand,
    PutObjectTaggingCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { jobVisitPromise } from "../lib/visitPromise";
import {
    CreateModelPackageGroupCommand,
    CreateTrainingJobCommand,
    DescribeModelPackageCommand,
    ListModelPackagesCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { compareModels, verdict } from "../lib/comparison";
import { DatasetManifest } from "../lib/dataset";
import { Handler, loadDeployedHandler } from "./support/deployedLambda";
import { InvokeServer, startInvokeServer } from "./support/lambdaInvokeServer";
import { Moto, clientConfig, sharedMoto } from "./support/moto";
import { Proxy, startProxy } from "./support/proxy";
import { StackRun, runStack } from "./support/pulumiMocks";
import { SMALL_SEED, WORLD, seedLabels, seedWorld } from "./support/seed";
import { checkModelFixture } from "./support/endpointStandIn";
import { tuningStandIn } from "./support/tuningStandIn";
import { trainingJobName } from "../lib/triggerEvent";

const ROOT = path.join(__dirname, "..");
const FIXTURE = (name: string) => path.join(ROOT, ".test-output", name, "output");
/** The model serving now: the pytest suite's weak model, as the job the stack's modelDataUrl names. */
const SERVING = "bootboots-abc";
const CANDIDATE = "bootboots-strong-candidate";
const CONFIG = {
    modelDataUrl: `s3://${WORLD.modelBucket}/training-output/${SERVING}/output/model.tar.gz`,
    adoptExistingBuckets: "true",
    trainingNetworkIsolation: "false",
    notificationEmail: "cats@example.com",
    retrainSchedule: "rate(1 day)",
    retrainMinNewLabels: "30",
};
const json = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));

/** An EventBridge event as SageMaker sends it for a training job that ended. */
function trainingEvent(name: string, status: string, extra: Record<string, unknown> = {}) {
    return {
        version: "0",
        id: `event-${name}-${status}`,
        "detail-type": "SageMaker Training Job State Change",
        source: "aws.sagemaker",
        account: "123456789012",
        time: "2026-12-01T10:00:00Z",
        region: "eu-west-2",
        resources: [`arn:aws:sagemaker:eu-west-2:123456789012:training-job/${name}`],
        detail: {
            TrainingJobName: name,
            TrainingJobArn: `arn:aws:sagemaker:eu-west-2:123456789012:training-job/${name}`,
            TrainingJobStatus: status,
            SecondaryStatus: status,
            ModelArtifacts: {
                S3ModelArtifacts: `s3://${WORLD.modelBucket}/training-output/${name}/output/model.tar.gz`,
            },
            Tags: { "bootboots:stack": "sandbox", "bootboots:datasetId": "20261201T090000Z-ab12" },
            ...extra,
        },
    };
}

describe("after every job, as deployed: the job-events function's __index.js against moto", function () {
    this.timeout(180_000);
    let moto: Moto;
    let stack: StackRun;
    let proxy: Proxy;
    let claims: Proxy;
    let invoke: InvokeServer;
    let jobEvents: Handler;
    let queueUrl: string;
    const s3 = () => new S3Client(clientConfig(moto.endpoint));
    const sagemaker = () => new SageMakerClient(clientConfig(moto.endpoint));
    const sqs = () => new SQSClient(clientConfig(moto.endpoint));
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bootboots-job-events-"));

    /** The messages the topic delivered since the last call, as the e-mail would read them. */
    async function messages(): Promise<{ subject: string; body: string }[]> {
        const received: { subject: string; body: string }[] = [];
        for (;;) {
            const page = await sqs().send(
                new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
            );
            if (!page.Messages?.length) return received;
            for (const m of page.Messages) {
                const note = JSON.parse(m.Body!);
                received.push({ subject: note.Subject, body: note.Message });
                await sqs().send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
            }
        }
    }
    const packages = async () =>
        (await sagemaker().send(new ListModelPackagesCommand({ ModelPackageGroupName: "bootboots" })))
            .ModelPackageSummaryList ?? [];
    const readJson = async (bucket: string, key: string) =>
        JSON.parse(
            await (await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString(),
        );

    /** A job's output.tar.gz, as SageMaker uploads what train.py wrote. */
    async function jobOutput(name: string, fixture: string) {
        const archive = path.join(workDir, `${name}.tar.gz`);
        await tar.create({ gzip: true, file: archive, cwd: FIXTURE(fixture) }, ["evaluation.json", "decision.json"]);
        await s3().send(
            new PutObjectCommand({
                Bucket: WORLD.modelBucket,
                Key: `training-output/${name}/output/output.tar.gz`,
                Body: fs.readFileSync(archive),
            }),
        );
    }

    before(async () => {
        for (const fixture of ["trained-model", "weak-model"]) checkModelFixture(path.dirname(FIXTURE(fixture)));
        moto = await sharedMoto();
        await seedWorld(moto.endpoint, seedLabels(SMALL_SEED), clientConfig);
        stack = await runStack(CONFIG);
        await sagemaker().send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: "bootboots" }));
        const topicName = String(stack.outputs.notificationTopicArn).split(":").pop()!;
        const topic = await new SNSClient(clientConfig(moto.endpoint)).send(
            new CreateTopicCommand({ Name: topicName }),
        );
        assert.equal(topic.TopicArn, stack.outputs.notificationTopicArn);
        queueUrl = (await sqs().send(new CreateQueueCommand({ QueueName: "the-users-inbox" }))).QueueUrl!;
        await new SNSClient(clientConfig(moto.endpoint)).send(
            new SubscribeCommand({
                TopicArn: topic.TopicArn,
                Protocol: "sqs",
                Endpoint: `arn:aws:sqs:eu-west-2:123456789012:the-users-inbox`,
            }),
        );
        await jobOutput(SERVING, "weak-model");
        await jobOutput(CANDIDATE, "trained-model");
        // SageMaker and SNS through the proxy: it checks every SageMaker request against the service model, and can fail SNS.
        proxy = await startProxy(moto.endpoint);
        // S3's conditional writes one at a time, as S3 applies each atomically (moto's server does not lock).
        claims = await startProxy(moto.endpoint, {}, (r) => r.method === "PUT" && "if-none-match" in r.headers);
        invoke = await startInvokeServer({});
        jobEvents = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "job-events"), {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ENDPOINT_URL_S3: claims.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER: proxy.endpoint,
            AWS_ENDPOINT_URL_SNS: proxy.endpoint,
        });
        await messages();
    });

    after(async () => {
        await proxy?.close();
        await claims?.close();
        await invoke?.close();
        assert.deepEqual(proxy?.invalid ?? [], [], "every SageMaker request was one the service model accepts");
    });

    it("on a completed job stores its figures beside the model, registers a version with them, and sends one message with the verdict", async () => {
        const result = (await jobEvents(trainingEvent(CANDIDATE, "Completed"))) as Record<string, string>;
        const evaluation = json(path.join(FIXTURE("trained-model"), "evaluation.json"));
        const decision = json(path.join(FIXTURE("trained-model"), "decision.json"));
        const output = `training-output/${CANDIDATE}/output/`;
        assert.deepEqual(await readJson(WORLD.modelBucket, `${output}evaluation.json`), evaluation);
        assert.deepEqual(await readJson(WORLD.modelBucket, `${output}decision.json`), decision);
        assert.equal(result.stored, "stored");

        // The verdict is what lib/comparison.ts says of the two jobs' real evaluations.
        const weak = json(path.join(FIXTURE("weak-model"), "evaluation.json"));
        const expected = verdict(
            compareModels(
                { jobName: CANDIDATE, evaluation: { ...evaluation, decision } },
                {
                    jobName: SERVING,
                    evaluation: { ...weak, decision: json(path.join(FIXTURE("weak-model"), "decision.json")) },
                },
            ),
        );
        assert.equal(expected.word, "better", expected.sentence);
        assert.equal(result.verdict, expected.sentence);

        const [version] = await packages();
        const described = await sagemaker().send(
            new DescribeModelPackageCommand({ ModelPackageName: version.ModelPackageArn }),
        );
        assert.equal(described.ModelApprovalStatus, "PendingManualApproval");
        assert.equal(
            described.InferenceSpecification?.Containers?.[0].ModelDataUrl,
            `s3://${WORLD.modelBucket}/${output}model.tar.gz`,
        );
        assert.match(described.InferenceSpecification!.Containers![0].Image!, /tensorflow-inference:2\.19/);
        assert.equal(
            described.ModelMetrics?.ModelQuality?.Statistics?.S3Uri,
            `s3://${WORLD.modelBucket}/${output}evaluation.json`,
        );
        assert.deepEqual(described.CustomerMetadataProperties, {
            trainingJob: CANDIDATE,
            datasetId: "20261201T090000Z-ab12",
            testMacroF1: evaluation.test.macro_f1.toFixed(3),
            targetClass: "Boots",
            targetRecall: decision.test_recall.toFixed(3),
            falseAlarmRate: decision.test_false_alarm_rate.toFixed(3),
            threshold: decision.threshold.toFixed(3),
            verdict: expected.sentence,
        });

        const [message, ...more] = await messages();
        assert.deepEqual(more, []);
        assert.equal(message.subject, `BootBoots: ${CANDIDATE} completed`);
        assert.match(message.body, /\nVisits of your own cats or of no cat misted: \d+ of 18 \(/);
        assert.equal(
            message.body,
            [
                `Training job ${CANDIDATE} completed.`,
                // The promise per visit leads, in the words of lib/visitPromise.ts.
                ...jobVisitPromise(evaluation)!,
                `Test macro-F1: ${evaluation.test.macro_f1.toFixed(3)}.`,
                `Boots at threshold ${decision.threshold.toFixed(3)}: recall ${decision.test_recall.toFixed(3)}, false-alarm rate ${decision.test_false_alarm_rate.toFixed(3)} on the test set.`,
                expected.sentence,
                `To deploy it: npx bootboots deploy ${CANDIDATE}`,
            ].join("\n"),
        );
    });

    it("does nothing twice for a duplicated event: no second version, no second message", async () => {
        await jobEvents(trainingEvent(CANDIDATE, "Completed"));
        const before = (await packages()).length;
        await messages();
        const again = (await jobEvents(trainingEvent(CANDIDATE, "Completed"))) as Record<string, string>;
        assert.equal((await packages()).length, before);
        assert.deepEqual(await messages(), []);
        assert.equal(again.stored, "already");
        assert.match(again.registered, /^already: arn:aws:sagemaker:eu-west-2:123456789012:model-package\/bootboots\//);
        assert.equal(again.notified, "already");
    });

    it("tells the user why a job failed or stopped and what to do, with no evaluation and no version", async () => {
        const before = (await packages()).length;
        await messages();
        await jobEvents(
            trainingEvent("bootboots-failed-early", "Failed", {
                FailureReason: "AlgorithmError: class 'Wolf' has no images in /opt/ml/input/data/training/Wolf",
            }),
        );
        await jobEvents(trainingEvent("bootboots-stopped", "Stopped", { FailureReason: "MaxWaitTimeExceeded" }));
        const [failed, stopped, ...more] = await messages();
        assert.deepEqual(more, []);
        assert.equal(failed.subject, "BootBoots: bootboots-failed-early failed");
        assert.equal(
            failed.body,
            "Training job bootboots-failed-early failed: AlgorithmError: class 'Wolf' has no images in /opt/ml/input/data/training/Wolf\n" +
                "Fix what the reason names (label images of that class, or correct the hyperparameter), then npx bootboots train.",
        );
        assert.match(
            stopped.body,
            /^Training job bootboots-stopped stopped: MaxWaitTimeExceeded\nIf it ran out of time, give it more/,
        );
        assert.equal((await packages()).length, before);
    });

    it("registers a tuner's training job without a message, and sends one when the tuning job ends, naming its best job", async () => {
        const best = "bootboots-tuned-003-1a2b3c4d";
        await jobOutput(best, "trained-model");
        await messages();
        const before = (await packages()).length;
        const tuned = (await jobEvents(
            trainingEvent(best, "Completed", {
                TuningJobArn: "arn:aws:sagemaker:eu-west-2:123456789012:hyper-parameter-tuning-job/bootboots-tuning-1",
            }),
        )) as Record<string, unknown>;
        assert.equal(tuned.notified, undefined);
        assert.equal((await packages()).length, before + 1);
        assert.deepEqual(await messages(), []);
        await jobEvents({
            "detail-type": "SageMaker HyperParameter Tuning Job State Change",
            source: "aws.sagemaker",
            detail: {
                HyperParameterTuningJobName: "bootboots-tuning-1",
                HyperParameterTuningJobStatus: "Completed",
                BestTrainingJob: { TrainingJobName: best },
                Tags: { "bootboots:stack": "sandbox" },
            },
        });
        const [message, ...more] = await messages();
        assert.deepEqual(more, []);
        assert.equal(message.subject, "BootBoots: tuning job bootboots-tuning-1 completed");
        assert.match(
            message.body,
            new RegExp(`^Tuning job bootboots-tuning-1 completed; its best training job is ${best}\\.`),
        );
        assert.match(message.body, /is significantly better than bootboots-abc/);
        assert.match(message.body, /To deploy it: npx bootboots deploy bootboots-tuning-1$/);
    });

    it("when SNS keeps failing, registers once, fails naming the step, and a later run of the event sends the message once", async () => {
        const name = "bootboots-sns-down";
        await jobOutput(name, "trained-model");
        await messages();
        const before = (await packages()).length;
        let refused = 0;
        proxy.options = {
            inject: (request) =>
                String(request.body).includes("Action=Publish")
                    ? (refused++,
                      {
                          status: 500,
                          headers: { "content-type": "text/xml" },
                          body: "<ErrorResponse><Error><Code>InternalError</Code></Error></ErrorResponse>",
                      })
                    : undefined,
        };
        // Lambda retries a failed asynchronous invocation under the same request id.
        const invocation = { awsRequestId: "sns-down-delivery" };
        await assert.rejects(
            jobEvents(trainingEvent(name, "Completed"), invocation),
            /Not done for bootboots-sns-down: notify \(InternalError\w*\); the retry completes it\./,
        );
        assert.equal(refused, 5, "the SDK's five attempts");
        proxy.options = {};
        assert.equal((await packages()).length, before + 1);
        const retried = (await jobEvents(trainingEvent(name, "Completed"), invocation)) as Record<string, string>;
        assert.equal(retried.notified, "sent");
        assert.match(retried.registered, /^already: /);
        assert.equal((await packages()).length, before + 1);
        assert.equal((await messages()).length, 1);
    });

    it("registers and notifies once for two concurrent deliveries of one event: one claims the job, the other stands back", async () => {
        const name = "bootboots-delivered-twice";
        await jobOutput(name, "trained-model");
        await messages();
        const before = (await packages()).length;
        const [first, second] = (await Promise.all([
            jobEvents(trainingEvent(name, "Completed"), { awsRequestId: "delivery-1" }),
            jobEvents(trainingEvent(name, "Completed"), { awsRequestId: "delivery-2" }),
        ])) as Record<string, string>[];
        const [acted, stoodBack] = first.ignored ? [second, first] : [first, second];
        assert.match(acted.registered, /^arn:aws:sagemaker:/);
        assert.match(stoodBack.ignored, /^another delivery of this event \(request delivery-[12]\) is handling it$/);
        assert.equal((await packages()).length, before + 1, "one version");
        assert.equal((await messages()).length, 1, "one message");
        // CreateModelPackage carries the job's idempotency token, so a call retried after a lost answer registers nothing new.
        const created = proxy.requests.filter((r) => r.headers["x-amz-target"] === "SageMaker.CreateModelPackage");
        const token = JSON.parse(created.at(-1)!.body.toString()).ClientToken;
        assert.match(token, /^[0-9a-f]{36}$/);
        // A delivery after the first finished goes on, and finds every step done.
        const late = (await jobEvents(trainingEvent(name, "Completed"), { awsRequestId: "delivery-3" })) as Record<
            string,
            string
        >;
        assert.deepEqual([late.stored, late.notified], ["already", "already"]);
        assert.match(late.registered, /^already: /);
    });

    it("never records a failed read as a fact: it throws, registers and tells nothing, and the retry does it all once", async () => {
        const name = "bootboots-read-fails";
        await jobOutput(name, "trained-model");
        await messages();
        const before = (await packages()).length;
        const handler = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "job-events"), {
            AWS_ENDPOINT_URL: proxy.endpoint,
        });
        proxy.options = {
            inject: (request) =>
                request.method === "GET" && request.url.includes(`/training-output/${name}/output/`)
                    ? {
                          status: 503,
                          body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
                      }
                    : undefined,
        };
        const invocation = { awsRequestId: "read-fails-delivery" };
        try {
            await assert.rejects(
                handler(trainingEvent(name, "Completed"), invocation),
                /SlowDown|reduce your request rate/,
            );
        } finally {
            proxy.options = {};
        }
        assert.equal((await packages()).length, before, "no version with n/a figures");
        assert.deepEqual(await messages(), [], "no message saying it left no evaluation");
        const retried = (await handler(trainingEvent(name, "Completed"), invocation)) as Record<string, string>;
        assert.equal(retried.stored, "stored");
        assert.match(retried.registered, /^arn:aws:sagemaker:/);
        assert.equal((await packages()).length, before + 1);
        const [message] = await messages();
        assert.match(
            message.body,
            /^Training job bootboots-read-fails completed\.\nVisits of your own cats .*\n.*\nTest macro-F1: \d\.\d{3}\./,
        );
    });

    it("sends the jobs topic one message naming an event no retry could process (the failed-events function as deployed)", async () => {
        const notice = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "failed-events"), {
            AWS_ENDPOINT_URL: moto.endpoint,
        });
        await messages();
        const fn = stack.one("aws:lambda/function:Function", "job-events").state.arn;
        await notice({
            version: "0",
            "detail-type": "Lambda Function Invocation Result - Failure",
            source: "lambda",
            time: "2026-12-01T10:05:00Z",
            detail: {
                version: "1.0",
                timestamp: "2026-12-01T10:05:00.000Z",
                requestContext: {
                    requestId: "c2a6f2ae",
                    functionArn: `${fn}:$LATEST`,
                    condition: "RetriesExhausted",
                    approximateInvokeCount: 3,
                },
                requestPayload: trainingEvent("bootboots-lost", "Completed"),
                responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
                responsePayload: {
                    errorType: "Error",
                    errorMessage: "Not done for bootboots-lost: register (InternalFailure); the retry completes it.",
                },
            },
        });
        const [message, ...more] = await messages();
        assert.deepEqual(more, []);
        const queue = String(stack.outputs.failedEventsQueueUrl);
        assert.equal(
            message.subject,
            `BootBoots: ${fn.split(":").pop()} could not process the Completed event of training job bootboots-lost`.slice(
                0,
                100,
            ),
        );
        assert.equal(
            message.body.split("\n")[0],
            `${fn.split(":").pop()} could not process the Completed event of training job bootboots-lost: 3 attempts failed. ` +
                "The last error: Not done for bootboots-lost: register (InternalFailure); the retry completes it.",
        );
        assert.match(
            message.body,
            new RegExp(`kept 14 days in the queue ${queue.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
        );
    });

    it("tags for expiry the datasets nothing uses any more, never the latest or one in use, and untags one used again", async () => {
        const [unused, latest, usedAgain] = ["20261101T000000Z-0001", "20261102T000000Z-0002", "20261103T000000Z-0003"];
        const put = (key: string, body = "x") =>
            s3().send(new PutObjectCommand({ Bucket: WORLD.trainingBucket, Key: key, Body: body }));
        const tagsOf = async (key: string) =>
            (await s3().send(new GetObjectTaggingCommand({ Bucket: WORLD.trainingBucket, Key: key }))).TagSet ?? [];
        const expire = [{ Key: "bootboots:expire", Value: "unused" }];
        for (const id of [unused, latest, usedAgain]) {
            await put(`datasets/${id}/training/Boots/a.jpg`);
            await put(`datasets/${id}/manifest.json`, JSON.stringify({ datasetId: id, images: [] }));
        }
        await put("datasets/latest.json", JSON.stringify({ datasetId: latest }));
        for (const key of [`datasets/${usedAgain}/training/Boots/a.jpg`, `datasets/${usedAgain}/manifest.json`])
            await s3().send(
                new PutObjectTaggingCommand({ Bucket: WORLD.trainingBucket, Key: key, Tagging: { TagSet: expire } }),
            );
        const name = "bootboots-retention";
        await jobOutput(name, "trained-model");
        const event = trainingEvent(name, "Completed");
        (event.detail.Tags as Record<string, string>)["bootboots:datasetId"] = usedAgain;
        const result = (await jobEvents(event)) as { retention: { tagged: string[]; untagged: string[] } };
        assert.ok(result.retention.tagged.includes(unused), JSON.stringify(result.retention));
        assert.ok(!result.retention.tagged.includes(latest) && !result.retention.tagged.includes(usedAgain));
        assert.deepEqual(result.retention.untagged, [usedAgain]);
        for (const key of [`datasets/${unused}/training/Boots/a.jpg`, `datasets/${unused}/manifest.json`])
            assert.deepEqual(await tagsOf(key), expire, key);
        for (const id of [latest, usedAgain])
            for (const key of [`datasets/${id}/training/Boots/a.jpg`, `datasets/${id}/manifest.json`])
                assert.deepEqual(await tagsOf(key), [], key);
        assert.deepEqual(await tagsOf("datasets/latest.json"), [], "latest.json is never tagged");
        // The next job finds nothing more to do for them.
        const again = (await jobEvents(trainingEvent("bootboots-retention-2", "Failed"))) as Record<string, unknown>;
        assert.equal(again.retention, undefined, "only a completed job changes the registry");
    });

    describe("the scheduled retraining check, as deployed", () => {
        const servingDataset = "20261130T120000Z-cafe";
        const labels = seedLabels(SMALL_SEED);
        const tuning = tuningStandIn();
        let check: Handler;
        /** The trigger as the check meets it: one job per request id, on a new dataset of every label. */
        const trigger = { requests: [] as string[], refuse: undefined as string | undefined, newDataset: 0 };
        let s3Proxy: Proxy;
        const time = (minute: number) => `2026-12-02T03:${String(minute).padStart(2, "0")}:00Z`;
        const scheduled = (minute: number) => ({
            "detail-type": "Scheduled Event",
            source: "aws.events",
            time: time(minute),
        });

        /** A manifest holding the labels given, the first one labelled otherwise. */
        const manifest = (id: string, held: typeof labels) =>
            ({
                datasetId: id,
                images: held.map((l, i) => ({
                    imageName: l.imageName,
                    class: i === 0 ? (l.cat === "Boots" ? "Chi" : "Boots") : l.cat,
                })),
            }) as unknown as DatasetManifest;
        const putManifest = (m: DatasetManifest) =>
            s3().send(
                new PutObjectCommand({
                    Bucket: WORLD.trainingBucket,
                    Key: `datasets/${m.datasetId}/manifest.json`,
                    Body: JSON.stringify(m),
                }),
            );
        const lastCheck = () => readJson(WORLD.trainingBucket, "retrain/last-check.json");

        before(async () => {
            await sagemaker().send(
                new CreateTrainingJobCommand({
                    TrainingJobName: SERVING,
                    RoleArn: "arn:aws:iam::123456789012:role/bootboots-sagemaker",
                    AlgorithmSpecification: { TrainingImage: "image", TrainingInputMode: "File" },
                    InputDataConfig: [
                        {
                            ChannelName: "training",
                            DataSource: {
                                S3DataSource: {
                                    S3DataType: "S3Prefix",
                                    S3Uri: `s3://${WORLD.trainingBucket}/datasets/${servingDataset}/training/`,
                                },
                            },
                        },
                    ],
                    OutputDataConfig: { S3OutputPath: `s3://${WORLD.modelBucket}/training-output/` },
                    ResourceConfig: { InstanceType: "ml.m5.xlarge", InstanceCount: 1, VolumeSizeInGB: 30 },
                    StoppingCondition: { MaxRuntimeInSeconds: 3600 },
                }),
            );
            const triggerName = String(stack.outputs.triggerTrainingFunctionName);
            await invoke.close();
            invoke = await startInvokeServer({
                [triggerName]: async (event: any) => {
                    trigger.requests.push(event.requestId);
                    if (trigger.refuse) return { success: false, error: trigger.refuse };
                    const datasetId = `20261202T0300${String(trigger.newDataset).padStart(2, "0")}Z-beef`;
                    const first = trigger.requests.indexOf(event.requestId) === trigger.requests.length - 1;
                    if (first) {
                        trigger.newDataset += 1;
                        await putManifest(manifest(datasetId, labels.slice(1).concat([labels[0]])));
                    }
                    return {
                        success: true,
                        trainingJobName: trainingJobName(event.requestId),
                        datasetId,
                        alreadyStarted: !first,
                    };
                },
            });
            s3Proxy = await startProxy(moto.endpoint, { inject: (r) => tuning.inject(r) });
            check = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "retrain-check"), {
                AWS_ENDPOINT_URL: moto.endpoint,
                AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
                AWS_ENDPOINT_URL_SAGEMAKER: s3Proxy.endpoint,
                AWS_ENDPOINT_URL_LAMBDA: invoke.endpoint,
            });
        });

        after(async () => await s3Proxy?.close());

        beforeEach(async () => {
            s3Proxy.options = { inject: (r) => tuning.inject(r) };
            tuning.runningTrainingJobs = [];
            trigger.refuse = undefined;
            await s3().send(new DeleteObjectCommand({ Bucket: WORLD.trainingBucket, Key: "retrain/last-check.json" }));
        });

        it("starts nothing below retrainMinNewLabels, then one job for the batch, counted against the newest dataset trained on", async () => {
            await putManifest(manifest(servingDataset, labels.slice(0, labels.length - 10)));
            const waiting = (await check(scheduled(0))) as Record<string, unknown>;
            assert.deepEqual(
                { ...waiting, checkedAt: undefined },
                {
                    checkedAt: undefined,
                    action: "waiting",
                    newLabels: 11,
                    minNewLabels: 30,
                    countedAgainst: servingDataset,
                },
            );
            assert.deepEqual(await lastCheck(), waiting);
            assert.equal(trigger.requests.length, 0, "nothing started");

            await putManifest(manifest(servingDataset, labels.slice(0, labels.length - 40)));
            const before = trigger.requests.length;
            const started = (await check(scheduled(1))) as Record<string, unknown>;
            assert.equal(started.action, "started");
            assert.equal(started.newLabels, 41);
            assert.equal(started.requestId, "retrain-20261202T030100Z", "named after the schedule's event time");
            assert.equal(started.trainingJobName, trainingJobName("retrain-20261202T030100Z"));
            assert.deepEqual(trigger.requests.slice(before), ["retrain-20261202T030100Z"]);
            assert.deepEqual(await lastCheck(), started);

            // Three checks in a row: the labels are counted against the new job's dataset, and nothing more starts.
            for (const minute of [2, 3, 4]) {
                const next = (await check(scheduled(minute))) as Record<string, unknown>;
                assert.equal(next.action, "waiting");
                assert.equal(
                    next.countedAgainst,
                    started.datasetId,
                    "the newest of the serving and the started job's datasets",
                );
                assert.equal(next.newLabels, 1, "only the label changed since");
            }
            assert.equal(trigger.requests.length, before + 1, "one job for the batch");
        });

        it("is the same request when Lambda retries it after its record failed: one job", async () => {
            await putManifest(manifest(servingDataset, labels.slice(0, labels.length - 40)));
            const before = trigger.requests.length;
            s3Proxy.options = {
                inject: (r) =>
                    r.method === "PUT" && r.url.includes("/retrain/last-check.json")
                        ? {
                              status: 500,
                              body: "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
                          }
                        : tuning.inject(r),
            };
            await assert.rejects(check(scheduled(10)), /InternalError|internal error/);
            s3Proxy.options = { inject: (r) => tuning.inject(r) };
            const retried = (await check(scheduled(10))) as Record<string, unknown>;
            assert.equal(retried.action, "started");
            const sent = trigger.requests.slice(before);
            assert.deepEqual(
                sent,
                ["retrain-20261202T031000Z", "retrain-20261202T031000Z"],
                "the same request id twice",
            );
            assert.equal(new Set(sent.map(trainingJobName)).size, 1, "which names one job");
        });

        it("starts nothing while a BootBoots job runs, and records a refusal as a failure, not a start", async () => {
            await putManifest(manifest(servingDataset, labels.slice(0, labels.length - 40)));
            const before = trigger.requests.length;
            tuning.runningTrainingJobs = ["bootboots-0123456789abcdef01234567"];
            const busy = (await check(scheduled(20))) as Record<string, unknown>;
            assert.equal(busy.action, "waiting");
            assert.equal(
                busy.reason,
                "job bootboots-0123456789abcdef01234567 is still running; the next check counts again",
            );
            assert.equal(trigger.requests.length, before);

            tuning.runningTrainingJobs = [];
            trigger.refuse = "Data prep failed: Every class needs at least one training and one validation image.";
            const refused = (await check(scheduled(21))) as Record<string, unknown>;
            assert.equal(refused.action, "failed");
            assert.equal(refused.reason, trigger.refuse);
            assert.deepEqual(await lastCheck(), refused);
        });

        it("says in one sentence when the dataset it counts against has expired, and counts every label", async () => {
            await s3().send(
                new DeleteObjectCommand({
                    Bucket: WORLD.trainingBucket,
                    Key: `datasets/${servingDataset}/manifest.json`,
                }),
            );
            tuning.runningTrainingJobs = ["bootboots-still-running"];
            const counted = (await check(scheduled(30))) as Record<string, unknown>;
            assert.equal(counted.countedAgainst, null);
            assert.equal(counted.newLabels, labels.length);
            assert.match(
                String(counted.reason),
                new RegExp(`^job bootboots-still-running is still running|dataset ${servingDataset} has expired`),
            );
            tuning.runningTrainingJobs = [];
            await putManifest(manifest(servingDataset, labels));
        });
    });
});
