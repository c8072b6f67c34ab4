#!/usr/bin/env node
// The test suites of npm test, in the order their inputs allow, on the machine's two cores:
// - pytest (tests/python) exports the models that the camera, job-events and CLI suites read;
// - beside it run the mocha suites that need no model, then the sampled tests of those
//   suites each alone (scripts/alone.js), while pytest still trains;
// - then the suites that need the models, then the sampled tests of those, each alone.
// Prints the sample's seed (BOOTBOOTS_ALONE_SEED repeats it). Exits 1 at the first failure.
"use strict";
const { spawn } = require("child_process");
const path = require("path");
const { aloneCount, aloneSeed, runAllAlone, sampleTests } = require("./alone");

const root = path.resolve(__dirname, "..");
const mocha = path.join(root, "node_modules", ".bin", "mocha");
/** The suites that serve or compare the models pytest exports (.test-output/). */
const NEEDS_MODELS = ["tests/camera.test.ts", "tests/jobEvents.test.ts", "tests/cli/**/*.test.ts"];

/** Whether a test file is one of NEEDS_MODELS (`**` any folders, `*` any name part). */
function needsModels(file) {
    return NEEDS_MODELS.some((glob) =>
        new RegExp(
            `^${glob
                .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                .replace(/\*\*\//g, "(.*/)?")
                .replace(/\*/g, "[^/]*")}$`,
        ).test(file),
    );
}

/** Runs a command; its output is streamed, or kept and printed when it ends (so that two never interleave). */
function run(command, args, { buffered = false } = {}) {
    return new Promise((resolve) => {
        const child = spawn(command, args, { cwd: root, stdio: buffered ? ["ignore", "pipe", "pipe"] : "inherit" });
        const output = [];
        if (buffered) {
            child.stdout.on("data", (chunk) => output.push(chunk));
            child.stderr.on("data", (chunk) => output.push(chunk));
        }
        child.on("close", (status, signal) => {
            if (buffered) process.stdout.write(Buffer.concat(output));
            resolve(status ?? (signal ? 1 : 0));
        });
    });
}

async function main() {
    const started = Date.now();
    const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
    const seed = aloneSeed();
    const { sample, total } = sampleTests(["tests/**/*.test.ts"], aloneCount(), seed);
    const early = sample.filter((t) => !needsModels(t.file));
    const late = sample.filter((t) => needsModels(t.file));
    console.log(
        `Sampled ${sample.length} of ${total} mocha tests to run each alone (seed ${seed}; BOOTBOOTS_ALONE_SEED=${seed} repeats it).`,
    );
    console.log(
        "pytest (tests/python), and beside it the mocha suites that need no model, then their sampled tests alone:",
    );
    const ignored = NEEDS_MODELS.flatMap((glob) => ["--ignore", glob]);
    const earlyLines = [];
    const [pytest, [modelFree, earlyFailed]] = await Promise.all([
        run(path.join(root, ".venv", "bin", "python"), ["-m", "pytest", "tests/python", "-q"]),
        (async () => {
            const code = await run(mocha, ["tests/**/*.test.ts", ...ignored], { buffered: true });
            // Their lines wait until pytest is done, so as not to cut into its progress.
            return [code, code === 0 ? await runAllAlone(early, 1, (line) => earlyLines.push(line)) : 0];
        })(),
    ]);
    console.log(earlyLines.join("\n"));
    console.log(
        `(${elapsed()}) pytest exited ${pytest}, the model-free mocha suites ${modelFree}; ${early.length - earlyFailed} of ${early.length} of their sampled tests passed alone.`,
    );
    if (pytest !== 0 || modelFree !== 0 || earlyFailed) process.exit(1);
    console.log("The mocha suites that read pytest's models, then their sampled tests alone:");
    const withModels = await run(mocha, NEEDS_MODELS);
    if (withModels !== 0) process.exit(1);
    const lateFailed = await runAllAlone(late, 2);
    console.log(
        `(${elapsed()}) the model suites passed; ${sample.length - lateFailed} of ${sample.length} sampled tests passed alone.`,
    );
    process.exit(lateFailed ? 1 : 0);
}

main();
