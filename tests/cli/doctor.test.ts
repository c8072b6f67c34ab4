import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { strict as assert } from "assert";
import { clientConfig } from "../support/moto";
import { cli, moto, outputs, stub, useCliWorld, world } from "../support/cliWorld";

describe("the bootboots command: doctor", function () {
    this.timeout(300_000);
    useCliWorld();
    const dynamodb = () => new DynamoDBClient(clientConfig(moto.endpoint));
    /** The report's lines as `✓ check` / `✗ check`, in order. */
    const verdicts = (out: string) =>
        out
            .split("\n")
            .filter((l) => /^[✓✗] /.test(l))
            .map((l) => l.split(":")[0]);

    before(async () => {
        // A table keyed otherwise, and one with too few labels (over the world's images).
        await dynamodb().send(
            new CreateTableCommand({
                TableName: "keyed-by-id",
                AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
                KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
                BillingMode: "PAY_PER_REQUEST",
            }),
        );
        await dynamodb().send(
            new CreateTableCommand({
                TableName: "few-labels",
                AttributeDefinitions: [{ AttributeName: "imageName", AttributeType: "S" }],
                KeySchema: [{ AttributeName: "imageName", KeyType: "HASH" }],
                BillingMode: "PAY_PER_REQUEST",
            }),
        );
        const few = { Boots: 10, Chi: 2, Kappa: 3, Mu: 0, NoCat: 12, Tau: 3, Wolf: 3 };
        for (const [cat, count] of Object.entries(few)) {
            for (let i = 0; i < count; i++) {
                await dynamodb().send(
                    new PutItemCommand({
                        TableName: "few-labels",
                        // Kappa's three are frames of one visit (one hour); the rest each a visit of its own.
                        Item: {
                            imageName: {
                                S:
                                    cat === "Kappa"
                                        ? `2026-03-01T10:0${i}:00.000Z.jpg`
                                        : `${cat.toLowerCase()}-${i}.jpg`,
                            },
                            cat: { S: cat },
                        },
                    }),
                );
            }
        }
    });

    it("in an empty account names the missing bucket, then the missing table, and the command that creates each; exit 1", async () => {
        const noBucket = await cli("doctor", "--images-bucket", "absent-images", "--catadata-table", "absent-table");
        assert.equal(noBucket.code, 1);
        assert.deepEqual(verdicts(noBucket.out), ["✓ AWS", "✓ stack", "✗ images bucket"]);
        assert.match(noBucket.out, /^✓ AWS: region eu-west-2 \(from AWS_REGION\), keys from the environment$/m);
        assert.match(noBucket.out, /^✗ images bucket: s3:\/\/absent-images does not exist$/m);
        assert.match(noBucket.out, /^Next: create it: aws s3 mb s3:\/\/absent-images --region eu-west-2$/m);
        assert.equal(
            noBucket.err,
            "error: Not ready: images bucket. Next: create it: aws s3 mb s3://absent-images --region eu-west-2.\n",
        );
        const noTable = await cli("doctor", "--catadata-table", "absent-table");
        assert.equal(noTable.code, 1);
        assert.deepEqual(verdicts(noTable.out), ["✓ AWS", "✓ stack", "✓ images bucket", "✗ catadata table"]);
        assert.match(noTable.out, /^✗ catadata table: absent-table does not exist in eu-west-2$/m);
        assert.ok(
            noTable.out.includes(
                "Next: create it: aws dynamodb create-table --table-name absent-table --region eu-west-2 --attribute-definitions AttributeName=imageName,AttributeType=S --key-schema AttributeName=imageName,KeyType=HASH --billing-mode PAY_PER_REQUEST\n",
            ),
            noTable.out,
        );
    });

    it("names a table keyed otherwise than imageName, and says to make one that is", async () => {
        const run = await cli("doctor", "--catadata-table", "keyed-by-id");
        assert.equal(run.code, 1);
        assert.match(run.out, /^✗ catadata table: the table keyed-by-id is keyed by id, not imageName \(type S\)$/m);
        assert.match(
            run.out,
            /^Next: create a table keyed by imageName and set catadataTableName to it: aws dynamodb create-table --table-name keyed-by-id-labels .*&& pulumi config set catadataTableName keyed-by-id-labels && pulumi up$/m,
        );
    });

    it("with too few labels names each class that lacks them and how many more, then the labelling commands", async () => {
        const run = await cli("doctor", "--catadata-table", "few-labels");
        assert.equal(run.code, 1);
        // Boots 7, Chi 1, Kappa 1, NoCat 9, Tau 1, Wolf 1 to training: 20; Chi, Kappa and Mu then add one each,
        // and the other 27 of the 50 need about 27 / 0.7 = 39 more labels.
        assert.match(
            run.out,
            /^✗ labels: Boots 10, Chi 2, Kappa 3 \(1 visit\), Mu 0, NoCat 12, Tau 3, Wolf 3: the first job needs 50 training images and every class on every side \(labels from 3 visits each\), about 20 training images now$/m,
        );
        assert.match(
            run.out,
            /^Next: label 1 more Chi, 2 more Kappa from other visits, 3 more Mu, about 39 more of any cat \(npx bootboots suggest, then npx bootboots label\)$/m,
        );
    });

    it("says train when everything is ready, exits 0, and gives the same report as JSON", async () => {
        stub.setOutputs(Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)));
        const run = await cli("doctor");
        assert.equal(run.code, 0, run.err);
        assert.deepEqual(verdicts(run.out), [
            "✓ AWS",
            "✓ stack",
            "✓ images bucket",
            "✓ catadata table",
            "✓ labels",
            "✗ model",
            "✓ camera API",
            "✓ unlabelled images",
        ]);
        assert.match(run.out, /^✗ model: no model is serving yet$/m);
        assert.match(
            run.out,
            /^Next: npx bootboots train, then npx bootboots status --watch, then npx bootboots deploy/m,
        );
        assert.equal(run.err, "");
        const json = await cli("doctor", "--json");
        assert.equal(json.code, 0);
        const report = JSON.parse(json.out);
        assert.equal(report.ready, true);
        assert.match(report.nextStep, /^npx bootboots train/);
        assert.deepEqual(
            report.checks.map((c: { check: string; ok: boolean }) => `${c.ok ? "✓" : "✗"} ${c.check}`),
            verdicts(run.out),
        );
        assert.equal(report.checks[2].message, `s3://${world.imagesBucket} exists (images under catcam-training/)`);
    });

    it("says pulumi up when the stack has no outputs, and the region to use when the CLI's differs from the stack's", async () => {
        stub.setOutputs({});
        const none = await cli("doctor", "--json");
        assert.equal(none.code, 1);
        assert.equal(JSON.parse(none.out).nextStep, "deploy the stack: pulumi up");
        stub.setOutputs({
            ...Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)),
            region: "us-east-1",
        });
        const elsewhere = await cli("doctor");
        assert.equal(elsewhere.code, 1);
        assert.match(
            elsewhere.out,
            /^✗ AWS: the CLI's region is eu-west-2 \(from AWS_REGION\), the stack's us-east-1$/m,
        );
        assert.match(elsewhere.out, /^Next: export AWS_REGION=us-east-1$/m);
        stub.setOutputs(Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)));
    });
});
