import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { stripVTControlCharacters } from "util";

/**
 * The README's example outputs, and the check that a test's real output shows them.
 *
 * An output block in the README is a fenced block without a language, preceded by
 * `<!-- output: <id> [<id> …] -->`. With one id the whole block is that example; with several,
 * the block is a transcript whose `$ ` lines start one example each, in the ids' order. A test
 * that runs the command calls `readmeShows(id, output)`, so the README cannot show what the
 * product does not print.
 */

export const README_PATH = path.join(__dirname, "..", "..", "README.md");

const MARKER = /<!-- output: ([\w\s-]+?) -->\n```\n([\s\S]*?)```/g;

/** Every example of the README by id: its expected lines (without the `$ ` command lines). */
export function readmeOutputExamples(readme = fs.readFileSync(README_PATH, "utf8")): Map<string, string[]> {
    const examples = new Map<string, string[]>();
    for (const [, idList, body] of readme.matchAll(MARKER)) {
        const ids = idList.trim().split(/\s+/);
        const segments = splitTranscript(body.replace(/\n$/, "").split("\n"), ids.length);
        assert.equal(segments.length, ids.length, `README output block ${idList}: one $ line per id`);
        ids.forEach((id, i) => {
            assert.ok(!examples.has(id), `README output id ${id} is used twice`);
            examples.set(id, segments[i]);
        });
    }
    return examples;
}

/** A block's lines in `count` examples: the whole block, or one per `$ ` line. */
function splitTranscript(lines: string[], count: number): string[][] {
    if (count === 1 && !lines[0]?.startsWith("$ ")) return [lines];
    const segments: string[][] = [];
    for (const line of lines) {
        if (line.startsWith("$ ")) segments.push([]);
        else segments[segments.length - 1]?.push(line);
    }
    return segments;
}

/** One README line as a pattern: `…` stands for any text within the line. */
function linePattern(line: string): RegExp {
    const parts = line.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${parts.join(".*")}$`);
}

/** The output without colour codes and trailing spaces, as lines. */
function outputLines(output: string): string[] {
    return stripVTControlCharacters(output)
        .split("\n")
        .map((line) => line.trimEnd());
}

/**
 * Asserts that the README's example `id` shows this output: each of its lines matches a line of
 * the output, in order (the README may leave lines out; a line of only `…` marks where).
 */
export function readmeShows(id: string, output: string, readme?: string): void {
    const expected = readmeOutputExamples(readme).get(id);
    assert.ok(expected, `the README has no output example '${id}'`);
    const actual = outputLines(output);
    let at = 0;
    for (const line of expected.filter((l) => l.trim() !== "…")) {
        const pattern = linePattern(line);
        while (at < actual.length && !pattern.test(actual[at])) at++;
        assert.ok(
            at < actual.length,
            `README example '${id}' shows a line the output lacks:\n  ${line}\noutput:\n${output}`,
        );
        at++;
    }
}
