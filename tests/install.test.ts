import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.join(__dirname, "..");

describe("a production install (npm ci --omit=dev on a fresh copy of the project)", function () {
    this.timeout(600_000);

    it("installs without the dev dependencies, compiles the CLI, and leaves a working bootboots", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootboots-prod-"));
        // The tracked files as they are in this working tree: what a clone of it would hold.
        const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
            .split("\0")
            .filter(Boolean);
        for (const file of files) {
            if (!fs.existsSync(path.join(ROOT, file))) continue;
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
        }
        execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], {
            cwd: dir,
            stdio: "pipe",
        });
        assert.ok(!fs.existsSync(path.join(dir, "node_modules", "mocha")), "no dev dependency is installed");
        assert.ok(fs.existsSync(path.join(dir, "dist", "cli", "main.js")), "prepare compiled the CLI");
        const help = execFileSync(process.execPath, [path.join(dir, "bin", "bootboots.js"), "--help"], {
            encoding: "utf8",
        });
        assert.match(help, /^Usage: bootboots \[options\] \[command\]/);
        assert.match(help, /infer \[options\] <images\.\.\.>/);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
