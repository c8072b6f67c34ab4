import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface StubPulumi {
    /** Prepend to PATH. */
    readonly binDir: string;
    /** The argument lists it was called with, one per call. */
    calls(): string[][];
    setOutputs(outputs: Record<string, unknown>): void;
    /** Make `stack output` fail as pulumi does when no stack is selected. */
    setNoStack(noStack: boolean): void;
}

/**
 * A `pulumi` executable for tests: answers `stack output --json` from a file, records
 * every call (`config set`, `up`, ...) and can fail like pulumi without a selected stack.
 */
export function installStubPulumi(): StubPulumi {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stub-pulumi-"));
    const outputsFile = path.join(dir, "outputs.json");
    const callsFile = path.join(dir, "calls.jsonl");
    const noStackFile = path.join(dir, "no-stack");
    fs.writeFileSync(outputsFile, "{}");
    const script = `#!${process.execPath}
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(callsFile)}, JSON.stringify(args) + "\\n");
const stackGiven = args.length >= 2 && args[args.length - 2] === "--stack" && /^[\\w.-]+$/.test(args[args.length - 1]);
const command = stackGiven ? args.slice(0, -2) : args;
if (args.join(" ") === "version") {
    process.stdout.write("v3.200.0\\n");
    process.exit(0);
}
const known =
    command.join(" ") === "stack output --json" ||
    command.join(" ") === "up" ||
    (command.length === 4 && command.slice(0, 3).join(" ") === "config set modelDataUrl" && /^s3:\\/\\/[a-z0-9.-]+\\/\\S+\\.tar\\.gz$/.test(command[3]));
if (!known) {
    process.stderr.write("stub pulumi: not a call the bootboots CLI makes: " + JSON.stringify(args) + "\\n");
    process.exit(2);
}
if (args[0] === "stack" && args[1] === "output") {
    if (fs.existsSync(${JSON.stringify(noStackFile)})) {
        process.stderr.write("error: no stack selected; please use \`pulumi stack select\` to choose one\\n");
        process.exit(255);
    }
    process.stdout.write(fs.readFileSync(${JSON.stringify(outputsFile)}, "utf8"));
}
`;
    fs.writeFileSync(path.join(dir, "pulumi"), script, { mode: 0o755 });
    return {
        binDir: dir,
        calls: () =>
            fs.existsSync(callsFile)
                ? fs
                      .readFileSync(callsFile, "utf8")
                      .trim()
                      .split("\n")
                      .filter(Boolean)
                      .map((l) => JSON.parse(l))
                : [],
        setOutputs: (outputs) => fs.writeFileSync(outputsFile, JSON.stringify(outputs)),
        setNoStack: (noStack) =>
            noStack ? fs.writeFileSync(noStackFile, "") : fs.rmSync(noStackFile, { force: true }),
    };
}
