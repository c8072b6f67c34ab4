#!/usr/bin/env node
// Runs a seeded random sample of the mocha tests, each alone, two at a time (scripts/alone.js),
// and prints the seed: BOOTBOOTS_ALONE_SEED repeats a sample, BOOTBOOTS_ALONE_COUNT sizes it
// (default 20). With test files as arguments (node scripts/tests-alone.js tests/trigger.test.ts),
// every test of those files runs alone. npm test runs its sample through scripts/test-suites.js.
"use strict";
const { aloneCount, aloneSeed, runAllAlone, sampleTests } = require("./alone");

async function main() {
    const files = process.argv.slice(2);
    const seed = aloneSeed();
    const { sample, total } = sampleTests(
        files.length ? files : ["tests/**/*.test.ts"],
        files.length ? Infinity : aloneCount(),
        seed,
    );
    console.log(
        `Running ${sample.length} of ${total} tests, each alone (seed ${seed}; BOOTBOOTS_ALONE_SEED=${seed} repeats it).`,
    );
    const failed = await runAllAlone(sample, 2);
    console.log(`${sample.length - failed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}

main();
