import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CLASSES, cli, sampleFiles, withEndpoint, withoutEndpoint, useCliWorld } from "../support/cliWorld";

describe("the bootboots command: classify", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    it("says no endpoint is deployed yet when the stack has none", async () => {
        withoutEndpoint();
        const run = await cli("classify", sampleFiles()[0].file);
        assert.equal(run.code, 1);
        assert.match(run.err, /No endpoint deployed yet: train a model .* then deploy it/);
    });

    it("classifies JPEGs with the real model, and names a PNG and an oversized file while the others still run", async () => {
        withEndpoint();
        const [boots, chi] = [
            sampleFiles().find((s) => s.className === "Boots")!,
            sampleFiles().find((s) => s.className === "Chi")!,
        ];
        const png = path.join(w.workDir, "cat.png");
        fs.writeFileSync(png, Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"));
        const huge = path.join(w.workDir, "huge.jpg");
        fs.writeFileSync(
            huge,
            Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(3_200_000, 7), Buffer.from([0xff, 0xd9])]),
        );

        const run = await cli("classify", boots.file, png, huge, chi.file);
        assert.equal(run.code, 3, "a failed file makes the exit code 3: done, but some images failed");
        assert.match(
            run.out,
            new RegExp(`${boots.file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: (${CLASSES.join("|")}) \\d+\\.\\d%`),
        );
        assert.ok(run.out.includes(`${chi.file}: `));
        assert.match(run.err, /^error: \S+cat\.png is not a JPEG/m);
        assert.match(run.err, /^error: \S+huge\.jpg makes a 4\.3 MB request, over the endpoint's 4\.0 MB limit/m);
        assert.match(run.err, /2 of 4 files could not be classified/);

        const json = await cli("classify", boots.file, "--json", "--threshold", "0.9999");
        assert.equal(json.code, 0, json.err);
        const [answer] = JSON.parse(json.out);
        const sum = Object.values(answer.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-4);
        assert.deepEqual(Object.keys(answer.probabilities), CLASSES);
        assert.equal(answer.confidence, Math.max(...(Object.values(answer.probabilities) as number[])));
        assert.equal(answer.uncertain, answer.confidence < 0.9999);
    });

    it("marks answers below the threshold as uncertain", async () => {
        withEndpoint();
        const file = sampleFiles()[0].file;
        const [{ confidence }] = JSON.parse((await cli("classify", file, "--json")).out);
        const above = await cli("classify", file, "--threshold", String((confidence + 1) / 2));
        assert.equal(above.code, 0, above.err);
        assert.match(above.out, /\(uncertain: below \d+\.\d%\)$/m);
        const below = await cli("classify", file, "--threshold", String(confidence / 2));
        assert.equal(below.code, 0, below.err);
        const answer = below.out.split("\n").find((line) => line.startsWith(`${file}: `));
        assert.ok(answer, below.out);
        assert.doesNotMatch(answer, /uncertain/);
    });
});
