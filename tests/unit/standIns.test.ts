import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { startInvokeServer } from "../support/lambdaInvokeServer";
import { installStubPulumi } from "../support/stubPulumi";

describe("the stand-ins, as strict as what they stand for", () => {
    it("the pulumi stub answers only the calls the CLI makes, each with an optional --stack", () => {
        const stub = installStubPulumi();
        const pulumi = (...args: string[]) => spawnSync(path.join(stub.binDir, "pulumi"), args, { encoding: "utf8" });
        const url = "s3://bootboots-models-123456789012/training-output/bootboots-abc/output/model.tar.gz";
        for (const args of [
            ["stack", "output", "--json"],
            ["stack", "output", "--json", "--stack", "sandbox"],
            ["config", "set", "modelDataUrl", url],
            ["config", "set", "modelDataUrl", url, "--stack", "sandbox"],
            ["up"],
            ["up", "--stack", "sandbox"],
        ]) {
            assert.equal(pulumi(...args).status, 0, args.join(" "));
        }
        for (const args of [
            ["stack", "output"],
            ["config", "set", "modelDataUrl"],
            ["config", "set", "modelDataUrl", "https://example.com/m.tar.gz"],
            ["config", "set", "endpointName", "x"],
            ["up", "--yes", "--skip-preview"],
            ["destroy"],
            ["up", "--stack"],
        ]) {
            const run = pulumi(...args);
            assert.equal(run.status, 2, args.join(" "));
            assert.match(run.stderr, /^stub pulumi: not a call the bootboots CLI makes/);
        }
        assert.equal(stub.calls().length, 13, "every call is recorded, refused or not");
    });

    it("the Lambda invoke stand-in reports what an asynchronous invocation threw", async () => {
        const server = await startInvokeServer({
            broken: async () => {
                throw new Error("data prep exploded");
            },
        });
        const errors: string[] = [];
        const original = console.error;
        console.error = (text: string) => errors.push(text);
        try {
            const response = await fetch(`${server.endpoint}/2015-03-31/functions/broken/invocations`, {
                method: "POST",
                headers: { "x-amz-invocation-type": "Event" },
                body: "{}",
            });
            assert.equal(response.status, 202);
            for (let i = 0; i < 50 && server.asyncErrors.length === 0; i++)
                await new Promise((done) => setTimeout(done, 10));
            assert.deepEqual(server.asyncErrors, [
                { functionName: "broken", requestId: "invoke-1", error: "Error: data prep exploded" },
            ]);
            assert.match(
                errors.join("\n"),
                /asynchronous invocation invoke-1 of broken failed: Error: data prep exploded/,
            );
        } finally {
            console.error = original;
            await server.close();
        }
    });
});
