import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { runCli } from "../../cli/main";
import { COMMANDS } from "../../cli/commandTable";
import { readmeOutputExamples, readmeShows } from "../support/readmeExamples";

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
        assert.ok(examples.length >= 15, `${examples.length} examples found`);
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

    it("is a user's manual of at most 450 lines, in the order a new user goes", () => {
        assert.ok(README.split("\n").length <= 450, `${README.split("\n").length} lines`);
        const headings = [...README.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
        const order = [
            /Prerequisites/,
            /Choose your cats/,
            /Create the images bucket and the catadata table/,
            /Deploy/,
            /import photos, or point the camera/,
            /Label, train, deploy/,
            /The `bootboots` command/,
            /The camera/,
            /Troubleshooting/,
            /Costs/,
            /Clean up/,
        ];
        let at = 0;
        for (const step of order) {
            while (at < headings.length && !step.test(headings[at])) at++;
            assert.ok(at < headings.length, `${step} after the headings before it: ${headings.join(" | ")}`);
        }
        const prerequisites = README.slice(README.indexOf("## 1. Prerequisites"), README.indexOf("## 2."));
        for (const link of [
            "https://nodejs.org",
            "https://www.pulumi.com/docs/iac/download-install/",
            "https://aws.amazon.com/cli/",
        ])
            assert.ok(prerequisites.includes(link), link);
        assert.match(README, /pulumi config set classes \S+NoCat/);
        assert.match(README, /pulumi config set targetClass /);
        assert.match(README, /!\[[^\]]+\]\(docs\/architecture\.svg\)/);
        for (const picture of ["docs/architecture.svg", "docs/report.png", "docs/label-page.png"])
            assert.ok(fs.existsSync(path.join(__dirname, "..", "..", picture)), picture);
    });

    it("shows only outputs a test produces: every output block is marked, and a test checks each mark", () => {
        const blocks = [...README.matchAll(/((?:<!-- output: [\w\s-]+ -->\n)?)```(\w*)\n[\s\S]*?```/g)];
        for (const [whole, marker, language] of blocks)
            assert.ok(language === "bash" || marker, `an output block without a mark:\n${whole}`);
        const examples = readmeOutputExamples();
        assert.ok(examples.size >= 10, `${examples.size} examples`);
        const testsDir = path.join(__dirname, "..");
        const sources = fs
            .readdirSync(testsDir, { recursive: true, encoding: "utf8" })
            .filter((f) => f.endsWith(".ts") && !f.startsWith("support"))
            .map((f) => fs.readFileSync(path.join(testsDir, f), "utf8"))
            .join("\n");
        const unchecked = [...examples.keys()].filter((id) => !sources.includes(`readmeShows("${id}"`));
        assert.deepEqual(unchecked, [], "each example is checked by the test that runs its command");
    });

    it("checks an example against an output line by line, in order, with … standing for any text", () => {
        const readme = "<!-- output: a -->\n```\nfirst … line\n…\nlast\n```\n";
        assert.doesNotThrow(() => readmeShows("a", "first real line\nin between\nlast\n", readme));
        assert.throws(() => readmeShows("a", "last\nfirst real line\n", readme), /shows a line the output lacks/);
        assert.throws(() => readmeShows("b", "anything", readme), /no output example 'b'/);
        const transcript = "<!-- output: x y -->\n```\n$ one\nerror: x\n$ two\nerror: y\n```\n";
        assert.doesNotThrow(() => readmeShows("y", "error: y\n", transcript));
        assert.throws(() => readmeShows("y", "error: x\n", transcript));
    });
});
