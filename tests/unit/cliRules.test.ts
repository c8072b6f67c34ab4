import { modelErrorReason } from "../../lib/serving";
import { strict as assert } from "assert";
import { CliError, NotFoundError, explainAwsError } from "../../cli/errors";
import { nearCopyLine } from "../../cli/format";
import { escapeHtml, jobReportHtml, thresholdCurve } from "../../cli/report/jobReport";
import { suspectLabels } from "../../cli/labelling/review";
import { rankScore, rankTopClasses } from "../../cli/labelling/queue";
import { decisionMetrics, evaluationReport } from "../../cli/report/evaluationReport";
import { StackResolver } from "../../cli/aws/stack";
import { setEnv } from "../support/env";
import { openSecretUrl } from "../../cli/browser";
import { classKeys } from "../../cli/labelling/queueSession";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const CLASSES = ["Boots", "Chi", "NoCat"];

describe("the CLI's rules", () => {
    describe("rankScore", () => {
        const counts = { Boots: 10, Chi: 5, NoCat: 20 };

        it("adds the margin uncertainty, the rarity of the top class and the target bonus", () => {
            // Top Chi 0.5, second Boots 0.4: uncertainty 0.9; Chi has 5 of at most 20 labels: rarity 0.75 × 0.5.
            assert.deepEqual(rankScore([0.4, 0.5, 0.1], CLASSES, counts, "Boots"), {
                score: 1.275,
                top3: [
                    { className: "Chi", probability: 0.5 },
                    { className: "Boots", probability: 0.4 },
                    { className: "NoCat", probability: 0.1 },
                ],
            });
            // A sure Boots: uncertainty 0.1, rarity 0.5 × 0.5, target bonus 0.5.
            assert.equal(rankScore([0.95, 0.05, 0], CLASSES, counts, "Boots").score, 0.85);
            // A sure NoCat, the most labelled class: no bonus at all.
            assert.equal(rankScore([0, 0.05, 0.95], CLASSES, counts, "Boots").score, 0.1);
        });

        it("gives the same score from the top classes alone, as the camera API stores them", () => {
            const full = rankScore([0.4, 0.5, 0.1], CLASSES, counts, "Boots");
            assert.deepEqual(rankTopClasses(full.top3.slice(0, 2), CLASSES, counts, "Boots").score, full.score);
        });
    });

    describe("evaluationReport and decisionMetrics", () => {
        const p = (trueClass: string, predictedClass: string, act?: boolean) => ({
            imageName: `${trueClass}-${predictedClass}`,
            trueClass,
            predictedClass,
            confidence: 0.9,
            act,
        });
        const predictions = [
            p("Boots", "Boots", true),
            p("Boots", "Chi", false),
            p("Chi", "Chi", false),
            p("NoCat", "Boots", true),
            p("NoCat", "NoCat", false),
        ];

        it("counts the confusion matrix by true row and predicted column, precision, recall and the wrong images", () => {
            const report = evaluationReport(CLASSES, predictions);
            assert.deepEqual(report.confusionMatrix, [
                [1, 1, 0],
                [0, 1, 0],
                [1, 0, 1],
            ]);
            assert.equal(report.accuracy, 3 / 5);
            assert.deepEqual(report.perClass.Boots, { precision: 0.5, recall: 0.5, support: 2 });
            assert.deepEqual(report.perClass.Chi, { precision: 0.5, recall: 1, support: 1 });
            assert.deepEqual(
                report.wrong.map((w) => w.imageName),
                ["Boots-Chi", "NoCat-Boots"],
            );
            assert.deepEqual(evaluationReport(CLASSES, []).accuracy, 0);
        });

        it("gives the decision's recall on the target and its false-alarm rate on the others", () => {
            assert.deepEqual(decisionMetrics({ target_class: "Boots", threshold: 0.6 }, predictions), {
                targetClass: "Boots",
                threshold: 0.6,
                targets: 2,
                targetsActedOn: 1,
                recall: 0.5,
                others: 3,
                falseAlarms: 1,
                falseAlarmRate: 1 / 3,
            });
        });
    });

    describe("StackResolver", () => {
        it("takes a name from its flag, else its variable, else the stack output, and runs pulumi at most once", async () => {
            let reads = 0;
            const outputs = async () => (
                reads++,
                { trainingBucketName: "from-output", modelBucketName: "models", endpointName: "" }
            );
            const restore = setEnv({ BOOTBOOTS_MODEL_BUCKET: "from-env" });
            try {
                const resolver = new StackResolver({ trainingBucket: "from-flag" }, outputs);
                assert.equal(await resolver.name("trainingBucket"), "from-flag");
                assert.equal(resolver.origin("trainingBucket"), "from --training-bucket");
                assert.equal(await resolver.name("modelBucket"), "from-env");
                assert.equal(resolver.origin("modelBucket"), "from BOOTBOOTS_MODEL_BUCKET");
                assert.equal(reads, 0, "no pulumi when a flag or variable gives the name");
                const fromStack = new StackResolver({ stack: "sandbox" }, outputs);
                assert.equal(await fromStack.name("trainingBucket"), "from-output");
                assert.equal(
                    fromStack.origin("trainingBucket"),
                    "from the stack output trainingBucketName of stack sandbox",
                );
                assert.equal(await fromStack.optionalOutput("modelBucketName"), "models");
                assert.equal(reads, 1);
            } finally {
                restore();
            }
        });

        it("says what to do when the stack lacks a name: no endpoint or camera API yet is a NotFoundError", async () => {
            const resolver = new StackResolver({}, async () => ({}));
            await assert.rejects(
                resolver.name("endpoint"),
                (e: Error) => e instanceof NotFoundError && /No endpoint deployed yet/.test(e.message),
            );
            await assert.rejects(
                resolver.name("cameraApi"),
                (e: Error) => e instanceof NotFoundError && /no camera API yet/.test(e.message),
            );
            await assert.rejects(
                resolver.name("triggerFunction"),
                (e: Error) =>
                    e instanceof CliError &&
                    !(e instanceof NotFoundError) &&
                    /The stack has no output triggerTrainingFunctionName: run 'pulumi up' first, or pass --trigger-function/.test(
                        e.message,
                    ),
            );
        });
    });

    describe("explainAwsError", () => {
        const explained = (error: object) =>
            explainAwsError(
                Object.assign(new Error((error as { message?: string }).message ?? ""), error),
                "listing training jobs",
            ).message;

        it("turns the SDK's errors into one sentence saying what to check", () => {
            assert.match(explained({ message: "Region is missing" }), /^No AWS region is configured: set AWS_REGION/);
            assert.match(
                explained({
                    name: "ProfileNotFound",
                    message: "Profile garden could not be found in shared credentials file",
                }),
                /^The AWS profile 'garden' \(from AWS_PROFILE\) is not in ~\/\.aws\/config/,
            );
            assert.match(
                explained({
                    name: "CredentialsProviderError",
                    message: "Could not load credentials from any providers",
                }),
                /^No AWS credentials found while listing training jobs: run 'aws configure'/,
            );
            assert.match(
                explained({ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }),
                /^Could not connect while listing training jobs \(ECONNREFUSED\): check the endpoint/,
            );
            assert.match(
                explained({ name: "AccessDeniedException", message: "not authorized" }),
                /^Access denied while listing training jobs \(not authorized\): check that your AWS credentials/,
            );
            assert.match(
                explained({ name: "ResourceNotFoundException", message: "Function not found" }),
                /^Not found while listing training jobs \(Function not found\): check the stack/,
            );
            assert.equal(
                explained({ name: "ThrottlingException", message: "Rate exceeded" }),
                "listing training jobs failed: ThrottlingException: Rate exceeded",
            );
        });
    });
});

describe("the report and the review, as rules", () => {
    it("draws the threshold curve as recall and false-alarm rate at each score", () => {
        const scores = [
            { probability: 0.9, isTarget: true },
            { probability: 0.6, isTarget: true },
            { probability: 0.7, isTarget: false },
            { probability: 0.1, isTarget: false },
        ];
        assert.deepEqual(
            thresholdCurve(scores).map((p) => [p.threshold, p.recall, p.falseAlarmRate]),
            [
                [0, 1, 1],
                [0.1, 1, 1],
                [0.6, 1, 0.5],
                [0.7, 0.5, 0.5],
                [0.9, 0.5, 0],
                [1, 0, 0],
            ],
        );
    });

    it("escapes every name it shows, and lets nothing load from outside the file", () => {
        assert.equal(escapeHtml(`<img src=x onerror="a()">&'`), "&lt;img src=x onerror=&quot;a()&quot;&gt;&amp;&#39;");
        const html = jobReportHtml({
            job: "bootboots-x",
            classes: ["Boots", "<b>Chi</b>"],
            confusionMatrix: [
                [3, 1],
                [0, 4],
            ],
            perClass: {
                Boots: { precision: 1, recall: 0.75, f1: 0.857, support: 4 },
                "<b>Chi</b>": { precision: 0.8, recall: 1, f1: 0.889, support: 4 },
            },
            accuracy: 0.875,
            macroF1: 0.873,
            targetScores: { test: [] },
            history: [],
            wrong: [
                {
                    name: "<script>x</script>.jpg",
                    label: "Boots",
                    top3: [{ className: "<b>Chi</b>", probability: 0.9 }],
                },
            ],
            wrongTotal: 1,
            generatedAt: "2026-12-01T00:00:00.000Z",
        });
        assert.doesNotMatch(html, /<script|<b>Chi/);
        assert.match(html, /content="default-src 'none'; img-src data:; style-src 'sha256-[A-Za-z0-9+/=]+'"/);
    });

    it("lists the labels the model confidently disagrees with, most suspect first", () => {
        const classes = ["Boots", "Chi", "NoCat"];
        const answer = (key: string, label: string, probabilities: number[]) => ({
            key,
            rowName: key,
            label,
            probabilities,
            source: "test" as const,
        });
        const items = suspectLabels(
            [
                answer("agrees.jpg", "Boots", [0.9, 0.05, 0.05]),
                answer("unsure.jpg", "Boots", [0.3, 0.55, 0.15]),
                answer("wrong.jpg", "Boots", [0.02, 0.95, 0.03]),
                answer("doubt.jpg", "NoCat", [0.7, 0.0, 0.3]),
            ],
            classes,
        );
        assert.deepEqual(
            items.map((i) => [i.key, i.guess, i.confidence, i.labelProbability]),
            [
                ["wrong.jpg", "Chi", 0.95, 0.02],
                ["doubt.jpg", "Boots", 0.7, 0.3],
            ],
        );
        assert.deepEqual(
            items[0].top3.map((t) => t.className),
            ["Chi", "NoCat", "Boots"],
        );
        assert.deepEqual(
            suspectLabels([answer("unsure.jpg", "Boots", [0.3, 0.55, 0.15])], classes, 0.5).map((i) => i.key),
            ["unsure.jpg"],
        );
    });
});

describe("the leak count, in words", () => {
    const measure = "cosine similarity of the trained model's pooled features";
    it("says how many test images have a near-copy in training, and names the closest pair", () => {
        const closest = [
            { test: "2026-02-21T15:30:33.123Z.jpg", training: "2026-02-21T15:31:03.123Z.jpg", similarity: 0.99312 },
        ];
        assert.equal(
            nearCopyLine({ min_similarity: 0.95, measure, test_images: 118, with_near_copy: 3, closest }),
            `3 of 118 test images have a near-copy in training (${measure} ≥ 0.95); closest: 2026-02-21T15:30:33.123Z.jpg and 2026-02-21T15:31:03.123Z.jpg (0.993).`,
        );
        assert.equal(
            nearCopyLine({ min_similarity: 0.95, measure, test_images: 118, with_near_copy: 1, closest }).slice(0, 55),
            "1 of 118 test images has a near-copy in training (cosin",
        );
        assert.equal(
            nearCopyLine({
                min_similarity: 0.95,
                measure,
                test_images: 40,
                with_near_copy: 0,
                closest: [{ ...closest[0], similarity: 0.61 }],
            }),
            `0 of 40 test images have a near-copy in training (${measure} ≥ 0.95).`,
        );
    });
});

describe("the endpoint's refusals, in words", () => {
    it("turns TF Serving's text for an image it cannot decode into one sentence, and keeps any other reason short", () => {
        assert.equal(
            modelErrorReason(
                'Received client error (400) from primary with message "{ "error": "Invalid JPEG data or crop window, data size 1024" }"',
            ),
            "the model could not decode it as a JPEG (the file is damaged, or only its name says JPEG)",
        );
        assert.equal(modelErrorReason("out of memory\nstack"), "the model refused it (out of memory)");
        assert.match(modelErrorReason("x".repeat(500)), /^the model refused it \(x{200}…\)$/);
    });
});

describe("the label page's address, kept off the command line", () => {
    it("opens the page through a launcher file only this user may read, so the token is never in a process's arguments", async () => {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-opener-"));
        const seen = path.join(bin, "seen");
        // The desktop's opener, as a script that writes down what it was given.
        for (const opener of ["xdg-open", "open"])
            fs.writeFileSync(path.join(bin, opener), `#!/bin/sh\nprintf '%s' "$*" > '${seen}'\n`, { mode: 0o755 });
        const restore = setEnv({ PATH: `${bin}${path.delimiter}${process.env.PATH}` });
        try {
            const url = "http://127.0.0.1:41234/?token=0123456789abcdef0123456789abcdef";
            const file = openSecretUrl(url);
            for (let i = 0; i < 100 && !fs.existsSync(seen); i++) await new Promise((done) => setTimeout(done, 20));
            const args = fs.readFileSync(seen, "utf8");
            assert.equal(args, file, "the opener is given the file");
            assert.ok(!args.includes("0123456789abcdef"), "and never the token");
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
            assert.match(
                fs.readFileSync(file, "utf8"),
                /<meta http-equiv="refresh" content="0; url=http:\/\/127\.0\.0\.1:41234\/\?token=0123456789abcdef0123456789abcdef">/,
            );
        } finally {
            restore();
        }
    });

    it("gives each class a key: 1-9, then the letters the page's own keys leave", () => {
        const many = Array.from({ length: 14 }, (_, i) => `Cat${i}`);
        assert.deepEqual(classKeys(many), ["1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e"]);
        assert.ok(!classKeys(Array.from({ length: 30 }, (_, i) => `C${i}`)).some((k) => ["m", "s", "u"].includes(k)));
    });
});
