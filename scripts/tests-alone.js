#!/usr/bin/env node
// Runs a seeded random sample of the mocha tests, each alone (mocha --grep on its full title,
// in its own process), so that a test that leans on another's state fails here. Prints the
// seed; BOOTBOOTS_ALONE_SEED repeats a sample, BOOTBOOTS_ALONE_COUNT sizes it (default 20).
"use strict";
const { execFileSync, spawnSync } = require("child_process");
const path = require("path");

const root = path.resolve(__dirname, "..");
const mocha = path.join(root, "node_modules", ".bin", "mocha");
const count = Number(process.env.BOOTBOOTS_ALONE_COUNT ?? 20);
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
    execFileSync(mocha, ["--dry-run", "--reporter", "json", "tests/**/*.test.ts"], {
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
let failed = 0;
for (const { title, file } of sample) {
    const started = Date.now();
    const run = spawnSync(mocha, [file, "--grep", `^${escape(title)}$`, "--reporter", "dot"], {
        cwd: root,
        encoding: "utf8",
    });
    const passed = /(\d+) passing/.exec(run.stdout)?.[1];
    const ok = run.status === 0 && passed === "1";
    if (!ok) failed += 1;
    console.log(`${ok ? "ok  " : "FAIL"} ${((Date.now() - started) / 1000).toFixed(1)} s  ${file}: ${title}`);
    if (!ok) console.log(run.stdout.slice(-3000), run.stderr.slice(-2000));
}
console.log(`${sample.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
