import { PutObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { COMMANDS } from "../../cli/commandTable";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { DatasetManifest, ManifestImage } from "../../lib/dataset";
import { IMAGES_PREFIX } from "../support/seed";
import {
    CLASSES,
    ENDPOINT,
    MODEL_BUCKET,
    ROOT,
    Run,
    STRONG,
    cli,
    ensureDataset,
    ensureFixtureJobs,
    s3,
    sampleFiles,
    withEndpoint,
    world,
    useCliWorld,
    ensureEvaluatedDataset,
} from "../support/cliWorld";
import { readmeShows } from "../support/readmeExamples";

describe("the bootboots command: as a user runs it", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    describe("as a user runs it (bin/bootboots.js in a child process)", () => {
        const BIN = path.join(ROOT, "bin", "bootboots.js");

        before(async () => {
            await ensureDataset();
            await ensureFixtureJobs();
            await ensureEvaluatedDataset();
            withEndpoint();
        });

        /** Runs the real command with the test's environment, changed as given (undefined removes a variable). */
        function bin(args: string[], change: Record<string, string | undefined> = {}): Promise<Run> {
            const env = { ...process.env };
            for (const [key, value] of Object.entries(change)) {
                if (value === undefined) delete env[key];
                else env[key] = value;
            }
            return new Promise((resolve) => {
                const child = spawn(process.execPath, [BIN, ...args], { env });
                let out = "";
                let err = "";
                child.stdout.on("data", (chunk) => (out += chunk));
                child.stderr.on("data", (chunk) => (err += chunk));
                child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
            });
        }
        const noCredentials = {
            AWS_ACCESS_KEY_ID: undefined,
            AWS_SECRET_ACCESS_KEY: undefined,
            AWS_PROFILE: undefined,
            AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
            AWS_CONFIG_FILE: "/nonexistent/config",
        };

        it("evaluate counts an image the model rejects as failed, goes on, lists it and exits 3", async () => {
            const datasetId = "20260302T120000Z-bad0";
            const images: ManifestImage[] = [];
            const files = [
                ...sampleFiles()
                    .slice(0, 6)
                    .map((s) => ({
                        name: path.basename(s.file),
                        className: s.className,
                        body: fs.readFileSync(s.file),
                    })),
            ];
            // A JPEG header on bytes no decoder can read: the serving container answers 400.
            files.push({
                name: "cam-0011-boots.jpg",
                className: "Boots",
                body: Buffer.concat([
                    Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
                    Buffer.alloc(64, 7),
                    Buffer.from([0xff, 0xd9]),
                ]),
            });
            for (const [i, f] of files.entries()) {
                const key = `datasets/${datasetId}/test/${f.className}/${i}-${f.name}`;
                await s3().send(new PutObjectCommand({ Bucket: world.trainingBucket, Key: key, Body: f.body }));
                images.push({
                    imageName: f.name,
                    sourceKey: `${IMAGES_PREFIX}${f.name}`,
                    key,
                    class: f.className,
                    split: "test",
                    repaired: false,
                    bytes: f.body.length,
                });
            }
            const manifest = { datasetId, classes: CLASSES, images } as unknown as DatasetManifest;
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.trainingBucket,
                    Key: `datasets/${datasetId}/manifest.json`,
                    Body: JSON.stringify(manifest),
                }),
            );
            const outDir = path.join(w.workDir, "rejected");
            const run = await bin(["evaluate", "--dataset", datasetId, "--out", outDir]);
            assert.equal(run.code, 3, run.err);
            assert.match(run.out, /on 6 test images/);
            assert.match(run.out, /^Failed \(not evaluated\): 1$/m);
            assert.match(
                run.out,
                /^cam-0011-boots\.jpg\s+cam-0011-boots\.jpg: the model could not decode it as a JPEG \(the file is damaged, or only its name says JPEG\)\.$/m,
            );
            assert.match(
                run.err,
                /^error: 1 of 7 images could not be evaluated \(listed above\); the figures cover the other 6\.$/m,
            );
            const written = JSON.parse(fs.readFileSync(path.join(outDir, "evaluation.json"), "utf8"));
            assert.deepEqual(
                written.failed.map((f: { imageName: string }) => f.imageName),
                ["cam-0011-boots.jpg"],
            );
            assert.equal(written.images, 6);
        });

        it("classifies a JPEG missing its end marker: the served model repairs it", async () => {
            const intact = fs.readFileSync(sampleFiles()[0].file);
            const truncated = path.join(w.workDir, "truncated.jpg");
            fs.writeFileSync(truncated, intact.subarray(0, intact.length - 2));
            const run = await bin(["classify", truncated, sampleFiles()[0].file, "--json"]);
            assert.equal(run.code, 0, run.err);
            const [cut, whole] = JSON.parse(run.out);
            assert.equal(cut.className, whole.className, "the same answer as for the intact file");
            for (const c of CLASSES) assert.ok(Math.abs(cut.probabilities[c] - whole.probabilities[c]) < 1e-3, c);
        });

        it("deploy without the Pulumi CLI shows the model URL and the exact commands to run", async () => {
            const run = await bin(["deploy", STRONG, "--stack", "sandbox"], {
                PATH: path.dirname(process.execPath),
                BOOTBOOTS_ENDPOINT: ENDPOINT,
                BOOTBOOTS_TRAINING_BUCKET: world.trainingBucket,
            });
            assert.equal(run.code, 1);
            const url = `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`;
            assert.ok(
                run.err.includes(
                    `then run: pulumi config set modelDataUrl ${url} --stack sandbox && pulumi up --stack sandbox`,
                ),
                run.err,
            );
            readmeShows("deploy-no-pulumi", run.err);
        });

        it("says in one sentence when no region is configured, and which region it searched", async () => {
            const noRegion = await bin(["status"], {
                AWS_REGION: undefined,
                AWS_DEFAULT_REGION: undefined,
                AWS_CONFIG_FILE: "/nonexistent/config",
            });
            assert.equal(noRegion.code, 1);
            assert.equal(
                noRegion.err,
                "error: No AWS region is configured: set AWS_REGION (for example export AWS_REGION=eu-west-2) or use a profile that has a region.\n",
            );
            readmeShows("no-region", noRegion.err);
            const wrongRegion = await bin(["status"], { AWS_REGION: "us-east-1" });
            assert.equal(wrongRegion.code, 1);
            assert.match(
                wrongRegion.err,
                /^error: No BootBoots training job in region us-east-1: if the stack is in another region, set AWS_REGION to it; otherwise start one with npx bootboots train\.\n$/,
            );
            readmeShows("wrong-region", wrongRegion.err);
        });

        it("prints no SDK warning on a supported Node version, and ends quietly when its pipe closes", async () => {
            const run = await bin(["status", STRONG]);
            assert.equal(run.code, 0, run.err);
            assert.equal(run.err, "", "nothing on stderr");
            const child = spawn(process.execPath, [BIN, "compare", STRONG, "bootboots-weak-1-epoch"], {
                env: process.env,
            });
            child.stdout.destroy();
            let err = "";
            child.stderr.on("data", (chunk) => (err += chunk));
            const code = await new Promise((done) => child.on("close", done));
            assert.equal(err, "", "no EPIPE stack trace");
            assert.equal(code, 0);
        });

        it("classify without credentials says so once and stops; a file it cannot read is named with the reason", async () => {
            const files = sampleFiles()
                .slice(0, 3)
                .map((s) => s.file);
            const run = await bin(["classify", ...files], noCredentials);
            assert.equal(run.code, 1);
            assert.equal(run.err.trim().split("\n").length, 1, run.err);
            assert.match(
                run.err,
                /^error: No AWS credentials found while .*: run 'aws configure', or set AWS_PROFILE to a profile that has them\.$/m,
            );
            const unreadable = await bin(["classify", path.join(w.workDir, "no-such.jpg"), w.workDir, files[0]]);
            assert.equal(unreadable.code, 3);
            assert.match(unreadable.err, /no-such\.jpg: cannot read it \(no such file\)/);
            assert.match(unreadable.err, /cannot read it \(it is a directory\)/);
            assert.match(unreadable.out, new RegExp(`${path.basename(files[0])}: \\w+ \\d`));
        });

        it("names an unknown profile, a bucket that does not exist and where its name came from, and an endpoint it cannot reach", async () => {
            const profile = await bin(["status"], { ...noCredentials, AWS_PROFILE: "no-such-profile" });
            assert.match(
                profile.err,
                /^error: The AWS profile 'no-such-profile' \(from AWS_PROFILE\) is not in ~\/\.aws\/config or ~\/\.aws\/credentials: check its name with 'aws configure list-profiles'\.$/m,
            );
            readmeShows("profile", profile.err);
            const bucket = await bin(["evaluate", "--training-bucket", "no-such-bucket-123"]);
            assert.equal(bucket.code, 1);
            assert.match(
                bucket.err,
                /^error: Bucket no-such-bucket-123 \(from --training-bucket\) does not exist in this account and region/m,
            );
            readmeShows("missing-bucket", bucket.err);
            const refused = await bin(["status"], { AWS_ENDPOINT_URL_SAGEMAKER: "http://127.0.0.1:9" });
            assert.equal(refused.code, 1);
            assert.match(
                refused.err,
                /^error: Could not connect while listing training jobs \(ECONNREFUSED\): check the endpoint \(.*AWS_ENDPOINT_URL_SAGEMAKER=http:\/\/127\.0\.0\.1:9.*\) and your network\.$/m,
            );
        });

        it("train echoes the hyperparameters it sent, and refuses training flags with --dry-run", async () => {
            const run = await bin(["train", "--skip-data-prep", "--epochs", "7"]);
            assert.equal(run.code, 0, run.err);
            assert.match(
                run.out,
                /^Hyperparameters sent: epochs=7 learning_rate=0\.0001 batch_size=16 .*class_weights=\{.*target_class=Boots max_false_alarm_rate=0\.01$/m,
            );
            const dry = await bin(["train", "--dry-run", "--epochs", "5"]);
            assert.equal(dry.code, 2);
            assert.equal(
                dry.err,
                "error: --dry-run only counts the images data prep would use, so --epochs would do nothing: leave it out.\n",
            );
            readmeShows("dry-run-epochs", dry.err);
        });

        it("train --async prints the name the job will have, and status waits for it to appear", async () => {
            const run = await bin(["train", "--async", "--skip-data-prep", "--json"]);
            assert.equal(run.code, 0, run.err);
            const accepted = JSON.parse(run.out);
            assert.match(accepted.trainingJobName, /^bootboots-[0-9a-f]{24}$/);
            const status = await bin(["status", accepted.trainingJobName, "--interval", "1", "--json"]);
            assert.equal(status.code, 0, status.err);
            assert.equal(JSON.parse(status.out).trainingJobName, accepted.trainingJobName);
        });

        it("has --json, --version, one-line usage errors, examples and the inherited options in every help", async () => {
            for (const args of [
                ["status", "--json"],
                ["deploy", STRONG, "--no-up", "--json"],
                ["evaluate", "--dataset", "20260301T120000Z-e7a1", "--json"],
            ]) {
                const run = await bin(args);
                assert.equal(run.code, 0, `${args.join(" ")}: ${run.err}`);
                assert.doesNotThrow(() => JSON.parse(run.out), `${args.join(" ")} prints JSON`);
            }
            const version = await bin(["--version"]);
            assert.equal(
                version.out.trim(),
                JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
            );
            const usage = await bin(["status", "--bogus"]);
            assert.equal(usage.code, 2);
            assert.equal(usage.err, "error: unknown option '--bogus'\n(see 'bootboots status --help')\n");
            readmeShows("unknown-option", usage.err);
            const help = await bin(["--help"]);
            assert.match(help.out, /Examples:\n {2}\$ npx bootboots train/);
            assert.match(
                help.out,
                /Exit codes: 0 success, 1 failure .*, 2 usage error, 3 done but some images failed\./,
            );
            // The stack's names are listed once, in bootboots --help; a command's help points there.
            assert.match(help.out, /--stack <name>[\s\S]*--training-bucket <name>[\s\S]*--camera-api <url>/);
            const statusHelp = await bin(["status", "--help"]);
            assert.doesNotMatch(statusHelp.out, /--training-bucket <name>|Global Options/);
            assert.match(
                statusHelp.out,
                /The stack's names \(--stack, --training-bucket, …\) work with every command: bootboots --help lists them\./,
            );
        });

        it("starts in well under a second from the compiled CLI", async () => {
            assert.ok(
                fs.existsSync(path.join(ROOT, "dist", "cli", "main.js")),
                "npm test builds dist/ (the prepare script does on npm ci)",
            );
            const started = Date.now();
            const run = await bin(["--help"]);
            const seconds = (Date.now() - started) / 1000;
            assert.equal(run.code, 0);
            assert.ok(seconds < 1.0, `bootboots --help took ${seconds} s`);
        });
    });

    it("shows each default once in every command's help", async () => {
        for (const spec of COMMANDS) {
            const command = spec.usage.split(" ")[0];
            const run = await cli(command, "--help");
            for (const line of run.out.split("\n"))
                assert.ok((line.match(/\(default/g) ?? []).length <= 1, `${command}: ${line}`);
        }
    });

    it("has --help with examples for every command, and runs as npx bootboots", async () => {
        for (const command of ["train", "tune", "status", "compare", "deploy", "classify", "evaluate"]) {
            const run = await cli(command, "--help");
            assert.equal(run.code, 0, command);
            assert.match(run.out, /Examples:\n {2}\$ npx bootboots/, command);
        }
        // The defaults in the help are the contract's, not copies.
        const trainHelp = (await cli("train", "--help")).out;
        const defaults = JSON.parse(
            fs.readFileSync(path.join(ROOT, "training", "contract.json"), "utf8"),
        ).hyperparameterDefaults;
        assert.ok(trainHelp.includes(`training epochs (default ${defaults.epochs})`), trainHelp);
        assert.ok(trainHelp.includes(`images per batch (default ${defaults.batch_size})`), trainHelp);
        const help = execFileSync("npx", ["--no-install", "bootboots", "--help"], { cwd: ROOT, encoding: "utf8" });
        assert.match(help, /Usage: bootboots \[options\] \[command\]/);
    });
});
