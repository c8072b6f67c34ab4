import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
    CreateModelPackageCommand,
    CreateModelPackageGroupCommand,
    DescribeModelPackageCommand,
} from "@aws-sdk/client-sagemaker";
import {
    EVALUATED_DATASET,
    LEGACY,
    MODEL_BUCKET,
    STRONG,
    WEAK,
    cli,
    completedJob,
    ensureEvaluatedDataset,
    ensureFixtureJobs,
    fixtureOutput,
    s3,
    sagemaker,
    sampleFiles,
    serve,
    withEndpoint,
    useCliWorld,
} from "../support/cliWorld";
import { readmeShows } from "../support/readmeExamples";

describe("the bootboots command: compare, the promotion gate and the decision", function () {
    this.timeout(300_000);
    const w = useCliWorld();
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
        // Each job's promise per visit leads, in the words a user holds.
        const lines = run.out.split("\n");
        assert.match(lines[0], /^candidate: Visits of your own cats or of no cat misted: \d+ of 18 \(\d/);
        assert.match(lines[1], /^candidate: Boots's visits misted: \d+ of 3 \(/);
        assert.match(lines[2], /^baseline: Visits of your own cats or of no cat misted: \d+ of 18 \(/);
        readmeShows("compare-visits", run.out);
        assert.ok(
            run.out.includes(
                `Candidate ${STRONG} against baseline ${WEAK}, on the ${testImages()} test images (21 visits) common to both`,
            ),
            run.out,
        );
        assert.match(run.out, /^Boots visits acted on\s+\S+\s+\S+\s+\S+\s+\S+ to \S+\s+(yes|no)$/m);
        assert.match(run.out, /resamples of those visits, each with all its frames/);
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
        const calls = w.stub.calls().length;
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
            w.stub
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
        assert.deepEqual(w.stub.calls().at(-1)?.slice(0, 4), [
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

    it("reads a job's plain evaluation.json and decision.json, and an older job's output.tar.gz, alike", async () => {
        const plainOnly = "bootboots-plain-output-only";
        await completedJob(plainOnly, fixtureOutput("trained-model"), ["evaluation.json"]);
        const output = `training-output/${plainOnly}/output/`;
        await s3().send(new DeleteObjectCommand({ Bucket: MODEL_BUCKET, Key: `${output}output.tar.gz` }));
        for (const file of ["evaluation.json", "decision.json"]) {
            await s3().send(
                new PutObjectCommand({
                    Bucket: MODEL_BUCKET,
                    Key: `${output}${file}`,
                    Body: fs.readFileSync(path.join(fixtureOutput("trained-model"), file)),
                }),
            );
        }
        const plain = JSON.parse((await cli("compare", plainOnly, WEAK, "--json")).out);
        const archived = JSON.parse((await cli("compare", STRONG, WEAK, "--json")).out);
        assert.deepEqual(
            { ...plain, candidate: undefined },
            { ...archived, candidate: undefined },
            "the same figures from the plain files as from the archive",
        );
        assert.equal(plain.commonImages, testImages());
    });

    it("deploy marks the version it deploys Approved and one the gate refuses Rejected, with the reason; status shows it", async () => {
        const sm = sagemaker();
        await sm
            .send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: "bootboots" }))
            .catch(() => undefined);
        const versions: Record<string, string> = {};
        for (const job of [STRONG, WEAK]) {
            const created = await sm.send(
                new CreateModelPackageCommand({
                    ModelPackageGroupName: "bootboots",
                    ModelApprovalStatus: "PendingManualApproval",
                    InferenceSpecification: {
                        Containers: [
                            {
                                Image: "inference",
                                ModelDataUrl: `s3://${MODEL_BUCKET}/training-output/${job}/output/model.tar.gz`,
                            },
                        ],
                        SupportedContentTypes: ["application/json"],
                        SupportedResponseMIMETypes: ["application/json"],
                    },
                }),
            );
            versions[job] = created.ModelPackageArn!;
            // What the job-events function leaves beside the model when it registers a version.
            await s3().send(
                new PutObjectCommand({
                    Bucket: MODEL_BUCKET,
                    Key: `training-output/${job}/output/model-package.json`,
                    Body: JSON.stringify({ modelPackageArn: created.ModelPackageArn }),
                }),
            );
        }
        const approval = async (job: string) =>
            sm.send(new DescribeModelPackageCommand({ ModelPackageName: versions[job] }));

        await serve(STRONG);
        const refused = await cli("deploy", WEAK, "--no-up");
        assert.equal(refused.code, 1);
        const rejected = await approval(WEAK);
        assert.equal(rejected.ModelApprovalStatus, "Rejected");
        assert.match(
            rejected.ApprovalDescription!,
            new RegExp(
                `^Refused by the promotion gate: ${WEAK} is significantly worse than the serving model ${STRONG} on macro-F1`,
            ),
        );

        await serve(WEAK);
        const deployed = await cli("deploy", STRONG, "--no-up");
        assert.equal(deployed.code, 0, deployed.err);
        assert.equal((await approval(STRONG)).ModelApprovalStatus, "Approved");
        assert.match(deployed.out, new RegExp(`^Model registry: version \\d+ of ${STRONG} marked Approved\\.$`, "m"));

        const status = await cli("status", STRONG);
        assert.equal(status.code, 0, status.err);
        // The promise per visit, then the three rules side by side on the test visits.
        assert.match(
            status.out,
            /^Visits of your own cats or of no cat misted: \d+ of 18 \(.*\)\.\nBoots's visits misted: \d+ of 3 /m,
        );
        assert.match(status.out, /^visit rule \(the model's\)\s+\d+ of 3 /m);
        assert.match(status.out, /^one frame at the per-frame threshold\s+\d+ of 3 /m);
        assert.match(status.out, /^the firmware's \(most likely, ≥ 0\.80\)\s+\d+ of 3 /m);
        assert.match(
            status.out,
            /^Model registry: bootboots version \d+, Approved \(Deployed with bootboots deploy\.\)\.$/m,
        );
        assert.equal(JSON.parse((await cli("status", STRONG, "--json")).out).modelRegistry.approval, "Approved");
    });
});
