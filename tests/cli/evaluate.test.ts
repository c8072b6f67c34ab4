import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    CLASSES,
    EVALUATED_DATASET,
    cli,
    ensureEvaluatedDataset,
    sampleFiles,
    withEndpoint,
    withoutEndpoint,
    useCliWorld,
} from "../support/cliWorld";

describe("the bootboots command: evaluate", function () {
    this.timeout(300_000);
    const w = useCliWorld();
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

        const outDir = path.join(w.workDir, "report");
        const run = await cli("evaluate", "--dataset", datasetId, "--concurrency", "3", "--out", outDir);
        assert.equal(run.code, 0, run.err);
        const report = JSON.parse(fs.readFileSync(path.join(outDir, "evaluation.json"), "utf8"));

        // By hand, from the answers: rows are the true class, columns the predicted one.
        const expected = CLASSES.map(() => CLASSES.map(() => 0));
        samples.forEach((s, i) => (expected[CLASSES.indexOf(s.className)][CLASSES.indexOf(answers[i].className)] += 1));
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
        process.env.AWS_ENDPOINT_URL_S3 = w.proxy.endpoint;
        w.proxy.options = {
            inject: (request) =>
                request.url.includes("manifest.json")
                    ? {
                          status: 403,
                          body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                      }
                    : undefined,
        };
        const run = await cli("evaluate", "--dataset", "20200101T000000Z-0000");
        w.proxy.options = {};
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
