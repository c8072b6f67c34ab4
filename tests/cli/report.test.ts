import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { DatasetManifest, ManifestImage } from "../../lib/dataset";
import {
    CHROMIUM,
    CLASSES,
    ROOT,
    cli,
    completedJob,
    ensureFixtureJobs,
    fixtureOutput,
    s3,
    world,
    useCliWorld,
} from "../support/cliWorld";

/** The README's picture of a report, taken from this test's run. */
const SCREENSHOT = path.join(ROOT, "docs", "report.png");

describe("the bootboots command: report", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    describe("report", () => {
        const OLDER = "bootboots-report-older-job";
        const NEWER = "bootboots-report-newer-job";
        const evaluationOf = (fixture: string) =>
            JSON.parse(fs.readFileSync(path.join(fixtureOutput(fixture), "evaluation.json"), "utf8"));
        const testSamples = path.join(ROOT, ".test-output", "trained-model", "test-samples");
        /** The weak model's mistakes on the shared test images, as the report should rank them. */
        const weakMistakes = () => {
            const test = evaluationOf("weak-model").test;
            return Object.keys(test.predictions).filter((name) => {
                const p: number[] = test.predictions[name];
                return CLASSES[p.indexOf(Math.max(...p))] !== test.labels[name];
            });
        };
        let missingImage: string;

        /** A dataset whose test images are the fixture's, with `training` images per class; one test image left unstored. */
        async function dataset(id: string, training: number, leaveOut?: string): Promise<void> {
            const images: ManifestImage[] = [];
            for (const className of CLASSES) {
                for (const name of fs.readdirSync(path.join(testSamples, className)).sort()) {
                    const key = `datasets/${id}/test/${className}/${name}`;
                    const body = fs.readFileSync(path.join(testSamples, className, name));
                    if (name !== leaveOut)
                        await s3().send(new PutObjectCommand({ Bucket: world.trainingBucket, Key: key, Body: body }));
                    images.push({
                        imageName: name,
                        sourceKey: `catcam-training/${name}`,
                        key,
                        class: className,
                        split: "test",
                        repaired: false,
                        bytes: body.length,
                    });
                }
            }
            const classDistribution = Object.fromEntries(
                CLASSES.map((c, i) => [
                    c,
                    { available: training + i * 3 + 9, training: training + i * 3, validation: 6, test: 3 },
                ]),
            );
            const manifest = {
                datasetId: id,
                classes: CLASSES,
                images,
                classDistribution,
            } as unknown as DatasetManifest;
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.trainingBucket,
                    Key: `datasets/${id}/manifest.json`,
                    Body: JSON.stringify(manifest),
                }),
            );
        }

        before(async () => {
            await ensureFixtureJobs();
            missingImage = weakMistakes()[0];
            await dataset("20260310T090000Z-aa01", 20);
            await dataset("20260320T090000Z-bb02", 45, missingImage);
            // The older job is the strong model, the newer the weak one: a report that has mistakes to show.
            const files = ["evaluation.json", "decision.json"];
            await completedJob(OLDER, fixtureOutput("trained-model"), files, "20260310T090000Z-aa01");
            await new Promise((resolve) => setTimeout(resolve, 1100));
            await completedJob(NEWER, fixtureOutput("weak-model"), files, "20260320T090000Z-bb02");
        });

        it("writes one self-contained file that loads nothing, logs no error and shows the job's figures and mistakes", async () => {
            const file = path.join(w.workDir, "report.html");
            const run = await cli("report", NEWER, "--out", file, "--no-open");
            assert.equal(run.code, 0, run.err);
            const mistakes = weakMistakes();
            assert.ok(mistakes.length > 1, "the weak model makes mistakes");
            assert.match(
                run.out,
                new RegExp(
                    `^Report: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(\\d+ KB; ${Math.min(60, mistakes.length)} of ${mistakes.length} mistakes shown; \\d+ job\\(s\\) in the history`,
                ),
            );
            const html = fs.readFileSync(file, "utf8");
            assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/i, "no script and no outside address");

            const { chromium } = await import("playwright-core");
            const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
            try {
                const page = await browser.newPage({ viewport: { width: 1000, height: 1500 } });
                const problems: string[] = [];
                const requests: string[] = [];
                page.on("console", (message) => {
                    if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
                });
                page.on("pageerror", (error) => problems.push(error.message));
                page.on("request", (request) => requests.push(request.url()));
                await page.goto(`file://${file}`);
                await page.waitForLoadState("load");

                assert.deepEqual(problems, []);
                assert.deepEqual(
                    requests.filter((url) => url !== `file://${file}` && !url.startsWith("data:")),
                    [],
                    "no request leaves the file",
                );
                // The heat map: a cell per pair of classes, each showing its count.
                const test = evaluationOf("weak-model").test;
                assert.equal(await page.locator("#confusion rect.cell").count(), CLASSES.length ** 2);
                const counts = await page.locator("#confusion rect.cell title").allTextContents();
                assert.deepEqual(
                    counts.map((t) => Number(t.split(": ").pop())),
                    test.confusion_matrix.flat(),
                );
                // Per class: precision, recall and F1 with intervals, and support.
                const rows = await page.locator("#per-class tr").allInnerTexts();
                assert.equal(rows.length, CLASSES.length + 1);
                const boots = test.per_class.Boots;
                assert.ok(
                    rows[1].includes(
                        `${boots.recall.toFixed(3)} (${boots.recall_interval[0].toFixed(2)}–${boots.recall_interval[1].toFixed(2)})`,
                    ),
                    rows[1],
                );
                assert.match(rows[1], new RegExp(`\\s${boots.support}$`));
                // The threshold curves, on validation (where it was chosen) and test, each with the threshold and the limit.
                for (const side of ["validation", "test"])
                    for (const part of ["recall-curve", "false-alarm-curve", "chosen-threshold", "false-alarm-limit"])
                        assert.equal(await page.locator(`#threshold-${side} .${part}`).count(), 1, `${side} ${part}`);
                // Per visit: the promise in words, the three rules side by side, and the curves on validation and test.
                const promise = await page.locator("p.promise").allInnerTexts();
                const weakVisits = evaluationOf("weak-model").visits.test;
                assert.deepEqual(
                    promise[0]
                        .match(/misted: (\d+) of (\d+)/)!
                        .slice(1)
                        .map(Number),
                    weakVisits.visit.false_alarm_counts,
                );
                assert.match(promise[1], /^Boots's visits misted: \d+ of 3 /);
                const ruleRows = await page.locator("#visit-rules tr").allInnerTexts();
                assert.equal(ruleRows.length, 4);
                for (const [i, rule] of (["visit", "frame", "firmware"] as const).entries())
                    assert.ok(ruleRows[i + 1].includes(`${weakVisits[rule].recall_counts[0]} of 3`), ruleRows[i + 1]);
                for (const side of ["validation", "test"])
                    for (const part of ["recall-curve", "false-alarm-curve", "chosen-threshold"])
                        assert.equal(
                            await page.locator(`#visits-${side} .${part}`).count(),
                            1,
                            `visits ${side} ${part}`,
                        );
                // F1 against training images: each class at each of the two jobs.
                const points = await page.locator("circle.job-point title").allTextContents();
                for (const [jobName, base] of [
                    [OLDER, 20],
                    [NEWER, 45],
                ] as const)
                    assert.ok(
                        points.includes(
                            `${jobName}, Boots: ${base} training images, F1 ${evaluationOf(jobName === OLDER ? "trained-model" : "weak-model").test.per_class.Boots.f1.toFixed(3)}`,
                        ),
                        points.join("\n"),
                    );
                // The mistakes: pictures read from the dataset, the one not stored said so.
                assert.equal(await page.locator("figure.wrong").count(), Math.min(60, mistakes.length));
                const pictures = await page
                    .locator("figure.wrong img")
                    .evaluateAll((images) => images.map((i) => (i as HTMLImageElement).naturalWidth));
                assert.equal(pictures.length, Math.min(60, mistakes.length) - 1);
                assert.ok(pictures.every((width) => width > 0));
                assert.equal(
                    await page.locator("figure.wrong", { hasText: missingImage }).locator(".missing").count(),
                    1,
                );
            } finally {
                await browser.close();
            }
        });

        it("makes the README's screenshot: the whole report of a model that works (test accuracy at least 0.9)", async () => {
            const strong = evaluationOf("trained-model").test;
            assert.ok(strong.accuracy >= 0.9, `the demo model's test accuracy is ${strong.accuracy}`);
            const file = path.join(w.workDir, "strong-report.html");
            const run = await cli("report", OLDER, "--out", file, "--no-open");
            assert.equal(run.code, 0, run.err);
            const { chromium } = await import("playwright-core");
            const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
            try {
                const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
                await page.goto(`file://${file}`);
                await page.waitForLoadState("load");
                assert.match(
                    (await page.textContent("body")) ?? "",
                    new RegExp(`accuracy ${strong.accuracy.toFixed(3)}`),
                );
                await page.screenshot({ path: SCREENSHOT, fullPage: true });
            } finally {
                await browser.close();
            }
        });

        it("says in one sentence that the job's dataset has expired, and reports the figures without its pictures", async () => {
            const job = "bootboots-report-expired-dataset";
            await completedJob(
                job,
                fixtureOutput("trained-model"),
                ["evaluation.json", "decision.json"],
                "20250101T000000Z-dead",
            );
            const out = path.join(w.workDir, "expired.html");
            const result = await cli("report", job, "--no-open", "--out", out);
            assert.equal(result.code, 0, result.err);
            assert.match(
                result.out,
                /; dataset 20250101T000000Z-dead has expired \(no model used it, so S3 removed it 90 days after it was written\), so no pictures or training counts\)\.\n$/,
            );
            assert.ok(fs.existsSync(out));
        });

        it("refuses a job trained before the test split, and one that does not exist, in one sentence", async () => {
            const legacy = await cli(
                "report",
                "bootboots-legacy-no-test",
                "--no-open",
                "--out",
                path.join(w.workDir, "x.html"),
            );
            assert.equal(legacy.code, 1);
            assert.match(
                legacy.err,
                /^error: Job bootboots-legacy-no-test has no held-out test evaluation \(it was trained before the test split\): train a new job, then report on it\.\n$/,
            );
            const missing = await cli("report", "bootboots-nope", "--no-open");
            assert.notEqual(missing.code, 0);
            assert.match(missing.err, /^error: No training job named bootboots-nope/);
            assert.ok(!fs.existsSync(path.join(w.workDir, "x.html")));
        });
    });
});
