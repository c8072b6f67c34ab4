#!/usr/bin/env node
// npm run test:mutants: applies a handful of targeted mutants to the source, one at a time, and
// shows that a named test fails for each (the mutant is "caught"). The source is restored after
// each, also on Ctrl-C. Exits 1 when a mutant survives. Not part of npm test: it takes minutes.
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const mocha = path.join(root, "node_modules", ".bin", "mocha");

/** Each mutant: one exact, unique piece of source replaced, and the test that must then fail. */
const MUTANTS = [
    {
        name: "an environment variable dropped from a function (the trigger's TRAINING_BUCKET)",
        file: "components/trainingPipeline.ts",
        from: "trainingBucket: args.trainingBucketName,\n                    modelBucket: args.modelBucketName,\n                    dataPrepFunction",
        to: "modelBucket: args.modelBucketName,\n                    dataPrepFunction",
        test: ["tests/trigger.test.ts", "runs end to end as deployed"],
    },
    {
        name: "the metric definitions sent empty",
        file: "handlers/trigger/trainingJob.ts",
        from: "MetricDefinitions: settings.metricDefinitions.map((m) => ({ Name: m.Name, Regex: m.Regex })),",
        to: "MetricDefinitions: [],",
        test: ["tests/unit/triggerRules.test.ts", "builds the job request"],
    },
    {
        name: "the gate that never finds a model worse",
        file: "lib/comparison.ts",
        from: "    return worse;\n}",
        to: "    return [];\n}",
        test: ["tests/unit/comparison.test.ts", "marks a clearly better model as significantly better"],
    },
    {
        name: "the decision acting above the threshold only (>= turned into >)",
        file: "lib/jobOutput.ts",
        from: "act: probability >= decision.threshold,",
        to: "act: probability > decision.threshold,",
        test: ["tests/unit/cameraRules.test.ts", "acts at or above the answering model's threshold"],
    },
    {
        name: "the written-dataset check skipped",
        file: "handlers/dataPrep/prepareDataset.ts",
        from: "    if (problems.length > 0) {\n        throw userFacingError(\n            `Dataset ${manifest.datasetId} does not match its manifest",
        to: "    if (problems.length < 0) {\n        throw userFacingError(\n            `Dataset ${manifest.datasetId} does not match its manifest",
        test: ["tests/reliability.test.ts", "does not mark latest a dataset whose objects do not match its manifest"],
    },
];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let restore = () => undefined;
process.on("SIGINT", () => {
    restore();
    process.exit(130);
});

/** Runs one test by title: its pass and fail counts and exit status. */
function runTest([suite, title]) {
    const run = spawnSync(mocha, [suite, "--grep", escape(title), "--reporter", "dot"], {
        cwd: root,
        encoding: "utf8",
    });
    const passing = Number(/(\d+) passing/.exec(run.stdout)?.[1] ?? 0);
    const failing = Number(/(\d+) failing/.exec(run.stdout)?.[1] ?? 0);
    if (passing + failing === 0) throw new Error(`no test matched "${title}" in ${suite}`);
    return { passed: run.status === 0 && failing === 0, failing };
}

/** Runs the mutant's test on the mutated source: true when the test fails (the mutant is caught). */
function caught({ file, from, to, test }) {
    const source = path.join(root, file);
    const original = fs.readFileSync(source, "utf8");
    const occurrences = original.split(from).length - 1;
    if (occurrences !== 1) throw new Error(`${file}: the text to mutate occurs ${occurrences} times, not once`);
    restore = () => fs.writeFileSync(source, original);
    fs.writeFileSync(source, original.replace(from, to));
    try {
        return runTest(test).failing > 0;
    } finally {
        restore();
        restore = () => undefined;
    }
}

// A mutant counts as caught only by a test that passes on today's source.
for (const mutant of MUTANTS) {
    if (!runTest(mutant.test).passed) {
        console.log(`${mutant.test[0]}: "${mutant.test[1]}" fails on today's source; fix it before judging mutants.`);
        process.exit(1);
    }
}
const survivors = [];
for (const mutant of MUTANTS) {
    const started = Date.now();
    const ok = caught(mutant);
    if (!ok) survivors.push(mutant.name);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
        `${ok ? "caught  " : "SURVIVED"} ${seconds.padStart(5)} s  ${mutant.name}  (by ${mutant.test[0]}: ${mutant.test[1]})`,
    );
}
console.log(
    survivors.length === 0
        ? `All ${MUTANTS.length} mutants were caught.`
        : `${survivors.length} of ${MUTANTS.length} mutants survived: ${survivors.join("; ")}.`,
);
process.exit(survivors.length === 0 ? 0 : 1);
