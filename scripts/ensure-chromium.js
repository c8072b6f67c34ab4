#!/usr/bin/env node
// The labelling page's browser tests drive Debian's chromium (never a downloaded browser).
// Installs it with apt-get where that is possible (root, as on the CI machine), else says how.
"use strict";
const { execFileSync, execSync } = require("child_process");

const executable = process.env.CHROMIUM_PATH ?? "chromium";
const found = () => {
    try {
        execSync(`command -v ${executable}`, { stdio: "ignore", shell: "/bin/sh" });
        return true;
    } catch {
        return false;
    }
};

if (!found()) {
    if (process.getuid?.() !== 0) {
        console.error(
            "The browser tests need Debian's chromium: run 'sudo apt-get install chromium' (or set CHROMIUM_PATH), then npm test again.",
        );
        process.exit(1);
    }
    console.log("Installing Debian's chromium for the labelling page's browser tests...");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: ["ignore", "ignore", "inherit"], env });
}
