#!/usr/bin/env node
// The `bootboots` command: runs cli/main.ts through ts-node, as `pulumi` runs index.ts.
"use strict";
const path = require("path");
require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
const { runCli } = require("../cli/main");
runCli(process.argv.slice(2), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }).then((code) => {
    process.exitCode = code;
});
