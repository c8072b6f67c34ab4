import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
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
        invoke = await startInvokeServer({});
        jobEvents = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "job-events"), {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER: proxy.endpoint,
            AWS_ENDPOINT_URL_SNS: proxy.endpoint,
        });
        await messages();
    });

    after(async () => {
        await proxy?.close();
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
        assert.equal(
            message.body,
            [
                `Training job ${CANDIDATE} completed.`,
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
        await assert.rejects(
            jobEvents(trainingEvent(name, "Completed")),
            /Not done for bootboots-sns-down: notify \(InternalError\w*\); the retry completes it\./,
        );
        assert.equal(refused, 5, "the SDK's five attempts");
        proxy.options = {};
        assert.equal((await packages()).length, before + 1);
        const retried = (await jobEvents(trainingEvent(name, "Completed"))) as Record<string, string>;
        assert.equal(retried.notified, "sent");
        assert.match(retried.registered, /^already: /);
        assert.equal((await packages()).length, before + 1);
        assert.equal((await messages()).length, 1);
    });

    it("the scheduled check starts nothing below retrainMinNewLabels, and invokes the trigger once there are enough", async () => {
        const datasetId = "20261130T120000Z-cafe";
        const labels = seedLabels(SMALL_SEED);
        // The serving job's dataset, holding all but 10 of today's labels (one of them labelled otherwise since).
        const manifest = (held: number) =>
            ({
                datasetId,
                images: labels.slice(0, held).map((l, i) => ({
                    imageName: l.imageName,
                    class: i === 0 ? (l.cat === "Boots" ? "Chi" : "Boots") : l.cat,
                })),
            }) as unknown as DatasetManifest;
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
                                S3Uri: `s3://${WORLD.trainingBucket}/datasets/${datasetId}/training/`,
                            },
                        },
                    },
                ],
                OutputDataConfig: { S3OutputPath: `s3://${WORLD.modelBucket}/training-output/` },
                ResourceConfig: { InstanceType: "ml.m5.xlarge", InstanceCount: 1, VolumeSizeInGB: 30 },
                StoppingCondition: { MaxRuntimeInSeconds: 3600 },
            }),
        );
        const trigger = String(stack.outputs.triggerTrainingFunctionName);
        const invoked: unknown[] = [];
        await invoke.close();
        invoke = await startInvokeServer({ [trigger]: async (event) => (invoked.push(event), {}) });
        const check = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "retrain-check"), {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ENDPOINT_URL_LAMBDA: invoke.endpoint,
        });
        const put = (m: DatasetManifest) =>
            s3().send(
                new PutObjectCommand({
                    Bucket: WORLD.trainingBucket,
                    Key: `datasets/${datasetId}/manifest.json`,
                    Body: JSON.stringify(m),
                }),
            );

        await put(manifest(labels.length - 10));
        const waiting = (await check({})) as Record<string, unknown>;
        assert.deepEqual(
            { ...waiting, checkedAt: undefined },
            { checkedAt: undefined, newLabels: 11, minNewLabels: 30, servingDataset: datasetId, action: "waiting" },
        );
        assert.deepEqual(await readJson(WORLD.trainingBucket, "retrain/last-check.json"), waiting);
        assert.equal(invoke.invocations.length, 0, "nothing started");

        await put(manifest(labels.length - 40));
        const started = (await check({})) as Record<string, unknown>;
        assert.equal(started.action, "started");
        assert.equal(started.newLabels, 41);
        await new Promise((done) => setTimeout(done, 200));
        assert.equal(invoke.invocations.length, 1);
        assert.equal(started.requestId, "invoke-1", "the asynchronous invocation's request id, which names the job");
        assert.deepEqual(invoked, [{}], "the trigger's default payload");
        assert.deepEqual(await readJson(WORLD.trainingBucket, "retrain/last-check.json"), started);
    });
});
