import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { runCli } from "../../cli/main";
import { COMMANDS } from "../../cli/commandTable";

const README = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

/** Every `npx bootboots …` command line of the README's shell blocks: the command and its flags. */
function readmeExamples(): { line: string; command: string; flags: string[] }[] {
    const blocks = [...README.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
    return blocks.flatMap((block) =>
        block
            .split("\n")
            .map((line) => line.replace(/\s+#.*$/, ""))
            .flatMap((line) => line.split(/&&|\|/))
            .map((part) => part.trim())
            .filter((part) => part.startsWith("npx bootboots "))
            .map((part) => {
                const words = part.split(/\s+/).slice(2);
                return {
                    line: part,
                    command: words[0],
                    flags: words.filter((w) => w.startsWith("--")).map((w) => w.split("=")[0]),
                };
            }),
    );
}

async function help(command: string): Promise<string> {
    let out = "";
    const code = await runCli([command, "--help"], { out: (t) => (out += t), err: (t) => (out += t) });
    assert.equal(code, 0, `${command} --help: ${out}`);
    return out;
}

describe("the README, against the command it documents", () => {
    it("gives only commands and flags that --help lists", async () => {
        const examples = readmeExamples();
        assert.ok(examples.length >= 30, `${examples.length} examples found`);
        const helps = new Map<string, string>();
        // The stack's names work with every command, and bootboots --help lists them once.
        let global = "";
        await runCli(["--help"], { out: (t) => (global += t), err: (t) => (global += t) });
        for (const { line, command, flags } of examples) {
            if (!helps.has(command)) helps.set(command, (await help(command)) + global);
            const text = helps.get(command)!;
            for (const flag of flags) assert.match(text, new RegExp(`(^|[\\s,])${flag}([\\s,<=]|$)`, "m"), line);
        }
        const documented = new Set(examples.map((e) => e.command));
        const missing = COMMANDS.map((c) => c.usage.split(" ")[0]).filter((c) => !documented.has(c));
        assert.deepEqual(missing, [], "every command has an example in the README");
    });

    it("is right that every command but label takes --json", async () => {
        for (const command of COMMANDS.map((c) => c.usage.split(" ")[0])) {
            assert.equal(/--json/.test(await help(command)), command !== "label", command);
        }
    });

    it("says where it deploys, what must exist and the first hour's steps within its first 80 lines", () => {
        const top = README.split("\n").slice(0, 80).join("\n");
        for (const needed of [
            "## Before you deploy",
            "aws:region",
            "eu-west-2",
            "imageName",
            "## The first hour",
            "doctor",
        ])
            assert.ok(top.includes(needed), needed);
    });
});
