#!/usr/bin/env node
// Runs a seeded random sample of the mocha tests, each alone (mocha --grep on its full title,
// in its own process), so that a test that leans on another's state fails here. Prints the
// seed; BOOTBOOTS_ALONE_SEED repeats a sample, BOOTBOOTS_ALONE_COUNT sizes it (default 20). Two run at once.
// With test files as arguments (node scripts/tests-alone.js tests/trigger.test.ts), every test of those files runs alone.
"use strict";
const { execFileSync, spawn } = require("child_process");
const path = require("path");

const root = path.resolve(__dirname, "..");
const mocha = path.join(root, "node_modules", ".bin", "mocha");
const files = process.argv.slice(2);
const count = files.length ? Infinity : Number(process.env.BOOTBOOTS_ALONE_COUNT ?? 20);
const seed = Number(process.env.BOOTBOOTS_ALONE_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded generator, so that a seed names one sample. */
function random(state) {
    return () => {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const listing = JSON.parse(
    execFileSync(mocha, ["--dry-run", "--reporter", "json", ...(files.length ? files : ["tests/**/*.test.ts"])], {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 64 * 2 ** 20,
    }),
);
const tests = listing.tests.map((t) => ({ title: t.fullTitle, file: path.relative(root, t.file) }));
const next = random(seed);
const sample = tests
    .map((t) => ({ t, key: next() }))
    .sort((a, b) => a.key - b.key)
    .slice(0, count)
    .map((x) => x.t);
console.log(
    `Running ${sample.length} of ${tests.length} tests, each alone (seed ${seed}; BOOTBOOTS_ALONE_SEED=${seed} repeats it).`,
);

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One test alone: mocha on its file, with --grep matching its full title and nothing else. */
function runAlone({ title, file }) {
    return new Promise((resolve) => {
        const started = Date.now();
        const child = spawn(mocha, [file, "--grep", `^${escape(title)}$`, "--reporter", "dot"], { cwd: root });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("close", (status) => {
            const ok = status === 0 && /(\d+) passing/.exec(stdout)?.[1] === "1";
            console.log(`${ok ? "ok  " : "FAIL"} ${((Date.now() - started) / 1000).toFixed(1)} s  ${file}: ${title}`);
            if (!ok) console.log(stdout.slice(-3000), stderr.slice(-2000));
            resolve(ok);
        });
    });
}

// Two at a time: each is a process of its own, with its own moto and stand-ins.
async function main() {
    const queue = [...sample];
    let failed = 0;
    const worker = async () => {
        for (let test = queue.shift(); test; test = queue.shift()) if (!(await runAlone(test))) failed += 1;
    };
    await Promise.all([worker(), worker()]);
    console.log(`${sample.length - failed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}

main();
