import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { DataPrepSuccess, DatasetManifest, ManifestImage } from "../../lib/dataset";
import { REVIEW_QUEUE_KEY } from "../../lib/layout";
import type { ReviewQueue } from "../../cli/labelling/review";
import { clientConfig } from "../support/moto";
import { IMAGES_PREFIX } from "../support/seed";
import {
    CHROMIUM,
    CLASSES,
    ROOT,
    STRONG,
    cli,
    completedJob,
    ensureFixtureJobs,
    fixtureOutput,
    s3,
    serve,
    startLabelCommand,
    withEndpoint,
    world,
    useCliWorld,
} from "../support/cliWorld";

describe("the bootboots command: review and label --review", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    describe("review and label --review", () => {
        const JOB = "bootboots-reviewed-job";
        const DATASET = "20260401T080000Z-cc03";
        const FIXTURE = path.join(ROOT, ".test-output", "trained-model");
        const ddb = () => new DynamoDBClient(clientConfig(w.moto.endpoint));
        const rowName = (name: string) => `review/${name}`;
        const cat = async (name: string) =>
            (await ddb().send(new GetItemCommand({ TableName: world.table, Key: { imageName: { S: rowName(name) } } })))
                .Item?.cat?.S;
        /** The images given a wrong label (each a class the model is sure it is not), and the training one. */
        const planted = new Map<string, string>();
        let trainingImage: string;

        before(async () => {
            await ensureFixtureJobs();
            await serve(STRONG);
            withEndpoint();
            const evaluation = JSON.parse(
                fs.readFileSync(path.join(fixtureOutput("trained-model"), "evaluation.json"), "utf8"),
            );
            // The strong model's answers, on a dataset where three held-out images and one training image are mislabelled Tau.
            const sides: [string, "validation" | "test", Record<string, string>][] = [
                ["samples", "validation", evaluation.validation_labels],
                ["test-samples", "test", evaluation.test.labels],
            ];
            const images: ManifestImage[] = [];
            const put = async (split: string, label: string, name: string, body: Buffer) => {
                const key = `datasets/${DATASET}/${split}/${label}/${name}`;
                await s3().send(new PutObjectCommand({ Bucket: world.trainingBucket, Key: key, Body: body }));
                await s3().send(
                    new PutObjectCommand({
                        Bucket: world.imagesBucket,
                        Key: `${IMAGES_PREFIX}${rowName(name)}`,
                        Body: body,
                    }),
                );
                await ddb().send(
                    new PutItemCommand({
                        TableName: world.table,
                        Item: { imageName: { S: rowName(name) }, cat: { S: label } },
                    }),
                );
                images.push({
                    imageName: rowName(name),
                    sourceKey: `${IMAGES_PREFIX}${rowName(name)}`,
                    key,
                    class: label as string,
                    split: split as ManifestImage["split"],
                    repaired: false,
                    bytes: body.length,
                });
            };
            // Of Boots, Chi and Kappa, the test image the model is surest of is relabelled Tau.
            for (const className of ["Boots", "Chi", "Kappa"]) {
                const surest = Object.entries(evaluation.test.labels as Record<string, string>)
                    .filter(([, label]) => label === className)
                    .map(([name]) => ({
                        name,
                        p: evaluation.test.predictions[name][CLASSES.indexOf(className)] as number,
                    }))
                    .sort((a, b) => b.p - a.p)[0];
                assert.ok(surest.p >= 0.6, `the strong model is sure of a ${className} image`);
                planted.set(surest.name, className);
                evaluation.test.labels[surest.name] = "Tau";
            }
            for (const [folder, split, labels] of sides) {
                for (const className of CLASSES) {
                    for (const name of fs.readdirSync(path.join(FIXTURE, folder, className)).sort()) {
                        await put(
                            split,
                            labels[name],
                            name,
                            fs.readFileSync(path.join(FIXTURE, folder, className, name)),
                        );
                    }
                }
            }
            // A Wolf image labelled Tau among the training images: only the endpoint can find it.
            trainingImage = "training-Wolf-extra.jpg";
            const wolf = fs.readdirSync(path.join(FIXTURE, "samples", "Wolf")).sort()[0];
            await put("training", "Tau", trainingImage, fs.readFileSync(path.join(FIXTURE, "samples", "Wolf", wolf)));
            const manifest = { datasetId: DATASET, classes: CLASSES, images } as unknown as DatasetManifest;
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.trainingBucket,
                    Key: `datasets/${DATASET}/manifest.json`,
                    Body: JSON.stringify(manifest),
                }),
            );
            const output = path.join(w.workDir, "reviewed-output");
            fs.mkdirSync(output, { recursive: true });
            fs.writeFileSync(path.join(output, "evaluation.json"), JSON.stringify(evaluation));
            fs.copyFileSync(
                path.join(fixtureOutput("trained-model"), "decision.json"),
                path.join(output, "decision.json"),
            );
            await completedJob(JOB, output, ["evaluation.json", "decision.json"], DATASET);
        });

        const readQueue = async (): Promise<ReviewQueue> =>
            JSON.parse(
                await (
                    await s3().send(new GetObjectCommand({ Bucket: world.trainingBucket, Key: REVIEW_QUEUE_KEY }))
                ).Body!.transformToString(),
            );

        it("ranks the labels the job confidently disagrees with, from its held-out answers alone, and writes the review queue", async () => {
            const calls = w.endpoint.proxy.requests.length;
            const run = await cli("review", JOB, "--json");
            assert.equal(run.code, 0, run.err);
            assert.equal(w.endpoint.proxy.requests.length, calls, "no endpoint request");
            const printed = JSON.parse(run.out);
            const queue = await readQueue();
            assert.deepEqual(printed.items, queue.items);
            const evaluation = JSON.parse(
                fs.readFileSync(path.join(fixtureOutput("trained-model"), "evaluation.json"), "utf8"),
            );
            assert.equal(
                printed.answersRead,
                Object.keys(evaluation.validation_predictions).length + Object.keys(evaluation.test.predictions).length,
            );
            // The planted labels are there, with the class the model is sure of.
            for (const [name, truth] of planted) {
                const item = queue.items.find((i) => i.rowName === rowName(name));
                assert.deepEqual([item?.label, item?.guess, item?.source], ["Tau", truth, "test"], name);
            }
            const suspicion = queue.items.map((i) => i.confidence - i.labelProbability);
            assert.deepEqual(
                suspicion,
                [...suspicion].sort((a, b) => b - a),
                "most suspect first",
            );
            for (const item of queue.items) {
                assert.notEqual(item.guess, item.label);
                assert.ok(item.confidence >= 0.6, JSON.stringify(item));
                assert.equal(item.key, `${IMAGES_PREFIX}${item.rowName}`);
            }
            assert.equal(queue.trainingJob, JOB);
            assert.equal(queue.datasetId, DATASET);

            const words = await cli("review", JOB);
            assert.match(
                words.out,
                new RegExp(
                    `^${queue.items.length} of ${printed.answersRead} labelled images look mislabelled to ${JOB}`,
                ),
            );
            assert.match(words.out, /Next: npx bootboots label --review$/m);
        });

        it("says in one sentence that the job's dataset has expired", async () => {
            const job = "bootboots-review-expired-dataset";
            await completedJob(
                job,
                fixtureOutput("trained-model"),
                ["evaluation.json", "decision.json"],
                "20250101T000000Z-dead",
            );
            const result = await cli("review", job);
            assert.equal(result.code, 1);
            assert.match(
                result.err,
                /^error: Job bootboots-review-expired-dataset's dataset 20250101T000000Z-dead has expired \(no model used it, so S3 removed it 90 days after it was written\), so its images cannot be found: review a newer job\.\n$/,
            );
        });

        it("--score-training says what it costs, then finds a mislabelled training image through the endpoint", async () => {
            const calls = w.endpoint.proxy.requests.length;
            const run = await cli("review", JOB, "--score-training", "1", "--json");
            assert.equal(run.code, 0, run.err);
            assert.match(
                run.err,
                /Scoring 1 training images \(--score-training 1\): 1 requests to endpoint bootboots, about \$\d+\.\d{4}/,
            );
            assert.equal(w.endpoint.proxy.requests.length, calls + 1);
            const item = (await readQueue()).items.find((i) => i.source === "training");
            assert.deepEqual([item?.rowName, item?.label, item?.guess], [rowName(trainingImage), "Tau", "Wolf"]);
        });

        it("label --review keeps, changes, refuses to overwrite a change made meanwhile, undoes, and data prep uses the change", async () => {
            await cli("review", JOB);
            const queue = await readQueue();
            const [first, second, third] = queue.items;
            const name = (item: { rowName: string }) => item.rowName.slice("review/".length);
            const keyOf = (className: string) => String(CLASSES.indexOf(className) + 1);
            const label = await startLabelCommand(["--review"]);
            const { chromium } = await import("playwright-core");
            const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
            try {
                const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
                await page.goto(label.url);
                const showing = (key: string) =>
                    page.waitForFunction((k) => document.getElementById("key")?.textContent === k, key);
                await showing(first.key);
                assert.equal(await page.textContent("#heading"), "Is this label right?");
                assert.match(
                    (await page.textContent("#guesses")) ?? "",
                    new RegExp(`^Labelled ${first.label}\\. The model says: ${first.guess} \\d+%`),
                );

                await page.keyboard.press("Enter");
                await showing(second.key);
                assert.equal(await cat(name(first)), first.label, "kept");
                await page.keyboard.press(keyOf(second.guess));
                await showing(third.key);
                assert.equal(await cat(name(second)), second.guess, "changed");

                // Someone relabels the third image meanwhile: the change is refused and theirs stays.
                await ddb().send(
                    new PutItemCommand({
                        TableName: world.table,
                        Item: { imageName: { S: third.rowName }, cat: { S: "Mu" } },
                    }),
                );
                await page.keyboard.press(keyOf(third.guess));
                await page.waitForFunction(() =>
                    /meanwhile/.test(document.getElementById("message")?.textContent ?? ""),
                );
                assert.match(
                    (await page.textContent("#message")) ?? "",
                    new RegExp(
                        `Someone changed the label of ${third.key} to Mu meanwhile: their label stays\\. \\(their label: Mu\\)`,
                    ),
                );
                assert.equal(await cat(name(third)), "Mu");

                // u takes back the change of the second image, which is shown again.
                await page.keyboard.press("u");
                await showing(second.key);
                assert.match(
                    (await page.textContent("#message")) ?? "",
                    new RegExp(`Undone: ${second.key} is ${second.label} again\\.`),
                );
                assert.equal(await cat(name(second)), second.label);
                await page.keyboard.press(keyOf(second.guess));
                await showing(third.key);
                assert.match(
                    (await page.textContent("#progress")) ?? "",
                    new RegExp(`^Changed 1, kept 1, left ${queue.items.length - 2} of ${queue.items.length}$`),
                );
            } finally {
                await browser.close();
                label.stop();
            }

            // The next dataset takes the corrected label.
            const result = (await w.dataPrep({})) as DataPrepSuccess;
            assert.ok(result.success, JSON.stringify(result));
            const manifest: DatasetManifest = JSON.parse(
                await (
                    await s3().send(
                        new GetObjectCommand({
                            Bucket: world.trainingBucket,
                            Key: `datasets/${result.datasetId}/manifest.json`,
                        }),
                    )
                ).Body!.transformToString(),
            );
            const image = manifest.images.find((i) => i.imageName === second.rowName);
            assert.equal(image?.class, second.guess);
        });
    });
});
