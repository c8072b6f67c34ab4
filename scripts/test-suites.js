#!/usr/bin/env node
// The test suites of npm test, in the order their inputs allow: the training-script tests (pytest)
// export the models that the camera, job-events and CLI suites read, so those run last; every other mocha
// suite needs no model and runs alongside pytest (the machine has two cores, and pytest keeps
// about one busy). Exits with the first failure's status.
"use strict";
const { spawn } = require("child_process");
const path = require("path");

const root = path.resolve(__dirname, "..");
const mocha = path.join(root, "node_modules", ".bin", "mocha");
/** The suites that serve or compare the models pytest exports (.test-output/). */
const NEEDS_MODELS = ["tests/camera.test.ts", "tests/jobEvents.test.ts", "tests/cli/**/*.test.ts"];

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
    console.log("pytest (tests/python) and the mocha suites that need no model, side by side:");
    const ignored = NEEDS_MODELS.flatMap((glob) => ["--ignore", glob]);
    const [pytest, modelFree] = await Promise.all([
        run(path.join(root, ".venv", "bin", "python"), ["-m", "pytest", "tests/python", "-q"]),
        run(mocha, ["tests/**/*.test.ts", ...ignored], { buffered: true }),
    ]);
    console.log(`(${elapsed()}) pytest exited ${pytest}, the model-free mocha suites ${modelFree}.`);
    if (pytest !== 0 || modelFree !== 0) process.exit(pytest || modelFree);
    console.log("The mocha suites that serve pytest's models:");
    const withModels = await run(mocha, NEEDS_MODELS);
    console.log(`(${elapsed()}) the model suites exited ${withModels}.`);
    process.exit(withModels);
}

main();
