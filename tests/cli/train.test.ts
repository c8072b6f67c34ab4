import {
    CloudWatchLogsClient,
    CreateLogGroupCommand,
    CreateLogStreamCommand,
    PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeTrainingJobCommand } from "@aws-sdk/client-sagemaker";
import { CreateQueueCommand, SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as tar from "tar";
import { runCli } from "../../cli/main";
import { MODEL_FIXTURE } from "../support/endpointStandIn";
import { clientConfig } from "../support/moto";
import {
    CLASSES,
    MODEL_BUCKET,
    cli,
    ensureDataset,
    jobCount,
    s3,
    sagemaker,
    world,
    useCliWorld,
} from "../support/cliWorld";
import { readmeShows } from "../support/readmeExamples";

describe("the bootboots command: train, status and deploy", function () {
    this.timeout(300_000);
    const w = useCliWorld();
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
            assert.match(run.out, new RegExp(`^${className}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+/\\d+/\\d+$`, "m"));
        // 171 labelled: gone.jpg is labelled Chi but has no object, so 170 are kept.
        assert.match(run.out, /^Chi\s+21\s+\d+\s+\d+\s+\d+\s+\d+\/\d+\/\d+$/m);
        const [, kept, validation, test] = /^total\s+171\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\/\d+\/\d+$/m.exec(run.out)!;
        assert.equal(Number(kept) + Number(validation) + Number(test), 170);
        assert.ok(Number(test) > 0, "a held-out test set");
        assert.match(
            run.out,
            /Console: https:\/\/eu-west-2\.console\.aws\.amazon\.com\/sagemaker\/home\?region=eu-west-2#\/jobs\/bootboots-/,
        );
        assert.ok(run.out.includes(`Next: npx bootboots status ${jobName} --watch`));
        readmeShows("train", run.out);
        const job = await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
        assert.equal(job.HyperParameters?.epochs, "5");
        assert.equal(job.HyperParameters?.batch_size, "8");
        assert.ok(
            w.stub.calls().every((call) => call.join(" ") === "stack output --json"),
            "only read the outputs",
        );
    });

    it("--skip-data-prep --no-spot trains on the latest dataset, on demand", async () => {
        const run = await cli("train", "--skip-data-prep", "--no-spot");
        assert.equal(run.code, 0, run.err);
        const name = /Training job (bootboots-[0-9a-f]+)/.exec(run.out)![1];
        const job = await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: name }));
        assert.equal(job.EnableManagedSpotTraining, false);
        assert.match(
            run.out,
            /^total\s+171\s+\d+\s+\d+\s+\d+\s+\d+\/\d+\/\d+$/m,
            "counts read back from the dataset's manifest",
        );
    });

    /** Every object under datasets/ in the training bucket, with its ETag. */
    const datasetObjects = async () =>
        (
            await s3().send(new ListObjectsV2Command({ Bucket: world.trainingBucket, Prefix: "datasets/" }))
        ).Contents?.map((o) => `${o.Key} ${o.ETag}`) ?? [];

    it("--dry-run prints the counts and the skipped images by reason, and writes nothing", async () => {
        const jobs = await jobCount();
        const objects = await datasetObjects();
        assert.ok(objects.length > 0, "the suite's dataset is there to be left alone");
        const run = await cli("train", "--dry-run");
        assert.equal(run.code, 0, run.err);
        assert.match(run.out, /Dry run: nothing was written/);
        assert.match(run.out, /^NoCat\s+60\s+\d+\s+\d+\s+\d+\s+\d+\/\d+\/\d+$/m);
        assert.match(run.out, /Skipped: 2/);
        assert.match(run.out, /unknown class "Garfield": 1 \(garfield\.jpg\)/);
        assert.match(run.out, /missing object: 1 \(gone\.jpg\)/);
        assert.equal(await jobCount(), jobs);
        assert.deepEqual(await datasetObjects(), objects, "no dataset object written, changed or removed");
    });

    it("--async returns once the invocation is accepted", async () => {
        const run = await cli("train", "--async", "--skip-data-prep");
        assert.equal(run.code, 0, run.err);
        assert.match(run.out, /asynchronous invocation of .* accepted, request invoke-\d+\)/);
        const [, name] = /The job will be (bootboots-[0-9a-f]{24}) once data prep is done\./.exec(run.out)!;
        assert.ok(run.out.includes(`Next: npx bootboots status ${name} --watch`));
    });

    it("refuses a bad flag before invoking anything", async () => {
        const invocations = w.invoke.invocations.length;
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
        assert.equal(w.invoke.invocations.length, invocations);
    });

    it("says so when no stack is selected", async () => {
        w.stub.setNoStack(true);
        const run = await cli("train");
        w.stub.setNoStack(false);
        assert.equal(run.code, 1);
        assert.match(run.err, /No Pulumi stack selected: run 'pulumi stack select sandbox' or pass --stack/);
    });

    it("takes names from environment variables without asking pulumi, and names a function that does not exist", async () => {
        const calls = w.stub.calls().length;
        process.env.BOOTBOOTS_TRIGGER_FUNCTION = "no-such-function";
        const run = await cli("train");
        delete process.env.BOOTBOOTS_TRIGGER_FUNCTION;
        assert.equal(run.code, 1);
        assert.match(run.err, /Not found while invoking no-such-function/);
        assert.equal(w.stub.calls().length, calls, "pulumi was not needed");
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
            w.proxy.options = {
                inject: (request) =>
                    request.headers["x-amz-target"] === "SageMaker.DescribeTrainingJob" && answered++ < times
                        ? inProgress(name)
                        : undefined,
            };
        };
        afterEach(() => (w.proxy.options = {}));

        it("status shows the newest job with its times, billing and final metrics", async () => {
            const run = await cli("status");
            assert.equal(run.code, 0, run.err);
            assert.match(run.out, /^Job bootboots-[0-9a-f]+: Completed \(Completed\)$/m);
            assert.match(run.out, /created \S+, started \S+, ended \S+/);
            assert.match(run.out, /elapsed \d+ s, training/);
            assert.match(run.out, /train:progress\s+100/);
        });

        it("status counts the events no retry could process, and shows the last retraining check in one line", async () => {
            const queueUrl = String(w.outputs.failedEventsQueueUrl);
            const sqs = new SQSClient(clientConfig(w.moto.endpoint));
            await sqs.send(new CreateQueueCommand({ QueueName: queueUrl.split("/").pop()! }));
            const none = await cli("status");
            assert.match(none.out, /^Failed events: none \(every asynchronous event of the stack was processed\)\.$/m);
            await sqs.send(
                new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ requestContext: {} }) }),
            );
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.trainingBucket,
                    Key: "retrain/last-check.json",
                    Body: JSON.stringify({
                        checkedAt: "2026-12-02T03:00:00.000Z",
                        action: "waiting",
                        newLabels: 12,
                        minNewLabels: 50,
                        countedAgainst: "20261130T120000Z-cafe",
                        reason: "job bootboots-0123 is still running; the next check counts again",
                    }),
                }),
            );
            const run = await cli("status");
            assert.equal(run.code, 0, run.err);
            assert.match(
                run.out,
                new RegExp(
                    `^Failed events: 1 that no retry could process, kept 14 days in ${queueUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} `,
                    "m",
                ),
            );
            assert.match(
                run.out,
                /^Scheduled retraining, last check: 2026-12-02T03:00:00\.000Z: 12 new labels not in dataset 20261130T120000Z-cafe, 50 needed: nothing started \(job bootboots-0123 is still running; the next check counts again\)\.$/m,
            );
            const json = JSON.parse((await cli("status", "--json")).out);
            assert.deepEqual(json.failedEvents, { queueUrl, count: 1 });
        });

        it("status --watch shows elapsed time and each epoch's figures while training: a line per epoch piped, in place on a terminal", async () => {
            const logs = new CloudWatchLogsClient(clientConfig(w.moto.endpoint));
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
            const archive = path.join(w.workDir, "output.tar.gz");
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
            const leak = report.near_copies;
            assert.ok(
                run.out.includes(
                    `${leak.with_near_copy} of ${leak.test_images} test images have a near-copy in training`,
                ),
                run.out,
            );
            assert.ok(run.out.includes(`Deploy it: npx bootboots deploy ${jobName}`));
        });

        it("status names a job that does not exist", async () => {
            const run = await cli("status", "bootboots-nope");
            assert.equal(run.code, 1);
            assert.match(run.err, /No training job named bootboots-nope/);
        });

        it("deploy refuses a job that is still running, and sets nothing", async () => {
            const calls = w.stub.calls().length;
            runningUntilDescribed(jobName, 1);
            const run = await cli("deploy", jobName);
            assert.equal(run.code, 1);
            assert.match(
                run.err,
                /is InProgress \(Training\); nothing was deployed: wait for it with npx bootboots status .* --watch/,
            );
            assert.ok(
                w.stub
                    .calls()
                    .slice(calls)
                    .every((c) => c[0] !== "config"),
            );
        });

        it("deploy --no-up sets modelDataUrl to the completed job's model and prints pulumi up", async () => {
            const run = await cli("deploy", jobName, "--no-up", "--stack", "sandbox");
            assert.equal(run.code, 0, run.err);
            const url = `s3://${MODEL_BUCKET}/training-output/${jobName}/output/model.tar.gz`;
            assert.deepEqual(w.stub.calls().at(-1), ["config", "set", "modelDataUrl", url, "--stack", "sandbox"]);
            assert.match(run.out, /Next: pulumi up --stack sandbox/);
            // The stack has no endpoint yet: the gate has nothing to compare with, and says so.
            assert.match(run.out, /^No model is serving yet: nothing to compare with\.$/m);
        });

        it("deploy runs pulumi up after setting the model", async () => {
            const run = await cli("deploy", jobName);
            assert.equal(run.code, 0, run.err);
            assert.deepEqual(
                w.stub
                    .calls()
                    .slice(-2)
                    .map((c) => c[0]),
                ["config", "up"],
            );
        });
    });
});
