// Running mocha tests each alone (mocha --grep on its full title, in its own process), so that a
// test that leans on another's state fails: the sample of them, and the runner. Used by
// scripts/tests-alone.js and scripts/test-suites.js.
"use strict";
const { execFileSync, spawn } = require("child_process");
const path = require("path");

const root = path.resolve(__dirname, "..");
const mocha = path.join(root, "node_modules", ".bin", "mocha");

/** mulberry32: a small seeded generator, so that a seed names one sample. */
function random(state) {
    return () => {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** A seeded random sample of `count` tests of the files (every test when count is Infinity), and how many there are. */
function sampleTests(files, count, seed) {
    const listing = JSON.parse(
        execFileSync(mocha, ["--dry-run", "--reporter", "json", ...files], {
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
    return { sample, total: tests.length };
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One test alone: mocha on its file, with --grep matching its full title and nothing else; true when it passed. */
function runAlone({ title, file }, log) {
    return new Promise((resolve) => {
        const started = Date.now();
        const child = spawn(mocha, [file, "--grep", `^${escape(title)}$`, "--reporter", "dot"], { cwd: root });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("close", (status) => {
            const ok = status === 0 && /(\d+) passing/.exec(stdout)?.[1] === "1";
            log(`${ok ? "ok  " : "FAIL"} ${((Date.now() - started) / 1000).toFixed(1)} s  ${file}: ${title}`);
            if (!ok) log(`${stdout.slice(-3000)}\n${stderr.slice(-2000)}`);
            resolve(ok);
        });
    });
}

/**
 * Runs the tests alone, `workers` at a time (each is a process with its own moto and stand-ins),
 * saying each result through `log`: how many failed.
 */
async function runAllAlone(tests, workers, log = console.log) {
    const queue = [...tests];
    let failed = 0;
    const worker = async () => {
        for (let test = queue.shift(); test; test = queue.shift()) if (!(await runAlone(test, log))) failed += 1;
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return failed;
}

/** The sample's seed: BOOTBOOTS_ALONE_SEED repeats one, else a new one. */
const aloneSeed = () => Number(process.env.BOOTBOOTS_ALONE_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** The sample's size: BOOTBOOTS_ALONE_COUNT, default 20. */
const aloneCount = () => Number(process.env.BOOTBOOTS_ALONE_COUNT ?? 20);

module.exports = { sampleTests, runAllAlone, aloneSeed, aloneCount };
