#!/usr/bin/env node
// The `bootboots` command. It runs the CLI compiled by `npm ci` (the prepare script writes
// dist/) when that is newer than every source it was built from, and otherwise compiles on
// the fly with ts-node, so an edited cli/ or lib/ never runs stale.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..");
const compiled = path.join(root, "dist", "cli", "main.js");

function newestSource(dir) {
    let newest = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
        else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(file).mtimeMs);
    }
    return newest;
}

function isFresh() {
    if (!fs.existsSync(compiled)) return false;
    const built = fs.statSync(compiled).mtimeMs;
    return ["cli", "lib", "training"].every((dir) => newestSource(path.join(root, dir)) <= built);
}

// Node 22 or 24 is what the project supports (README, "Node.js"); on an older Node the command
// still runs with the SDK version locked here, so the SDK's notice is not repeated on every command.
if (Number(process.versions.node.split(".")[0]) < 22)
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const fresh = isFresh();
if (!fresh) require("ts-node").register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
const { runCli } = require(fresh ? compiled : path.join(root, "cli", "main"));
// A closed pipe (`bootboots status | head -1`) ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error) => {
        if (error.code !== "EPIPE") throw error;
        process.exit(process.exitCode ?? 0);
    });
}
const io = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    interactive: process.stdout.isTTY === true,
};
runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
});
