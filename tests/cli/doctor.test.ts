import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { strict as assert } from "assert";
import { clientConfig } from "../support/moto";
import { cli, useCliWorld, world } from "../support/cliWorld";
import { readmeShows } from "../support/readmeExamples";

describe("the bootboots command: doctor", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    const dynamodb = () => new DynamoDBClient(clientConfig(w.moto.endpoint));
    /** The report's lines as `✓ check` / `⚠ check` / `✗ check` / `– check`, in order. */
    const verdicts = (out: string) =>
        out
            .split("\n")
            .filter((l) => /^[✓⚠✗–] /.test(l))
            .map((l) => l.split(":")[0]);
    const nextLines = (out: string) => out.split("\n").filter((l) => l.startsWith("Next:"));

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

    it("in an empty account names the missing bucket and the missing table at once, each with its command; exit 1", async () => {
        const run = await cli("doctor", "--images-bucket", "absent-images", "--catadata-table", "absent-table");
        assert.equal(run.code, 1);
        assert.deepEqual(verdicts(run.out), [
            "✓ Pulumi CLI",
            "✓ AWS",
            "✓ region",
            "✗ images bucket",
            "✗ catadata table",
            "– stack",
            "– classes",
            "– labels",
            "– balance",
            "– model",
            "– camera API",
        ]);
        assert.match(
            run.out,
            /^✓ AWS: account 123456789012 as arn:aws:sts::123456789012:\S+, region eu-west-2 \(from AWS_REGION\)$/m,
        );
        assert.match(run.out, /^✗ images bucket: s3:\/\/absent-images does not exist$/m);
        assert.match(run.out, /^✗ catadata table: absent-table does not exist in eu-west-2$/m);
        assert.match(run.out, /^– stack: not checked: it needs images bucket and catadata table$/m);
        // The next step once: the first thing to fix.
        assert.deepEqual(nextLines(run.out), ["Next: create it: aws s3 mb s3://absent-images --region eu-west-2"]);
        assert.equal(run.err, "error: Not ready: images bucket, catadata table.\n");
        readmeShows("doctor-empty", run.out);
    });

    it("proves AWS access with an authenticated call: keys that only look right fail there", async () => {
        process.env.AWS_ENDPOINT_URL_STS = w.proxy.endpoint;
        w.proxy.options = {
            inject: (request) =>
                request.body.toString().includes("Action=GetCallerIdentity")
                    ? {
                          status: 403,
                          headers: { "content-type": "text/xml" },
                          body: "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>",
                      }
                    : undefined,
        };
        try {
            const run = await cli("doctor");
            assert.equal(run.code, 1);
            assert.match(
                run.out,
                /^✗ AWS: AWS refused or could not be reached \(InvalidClientTokenId: The security token included in the request is invalid\.\)$/m,
            );
            assert.match(run.out, /^– images bucket: not checked: it needs AWS$/m);
            assert.deepEqual(nextLines(run.out), [
                "Next: configure AWS access: install the AWS CLI (https://aws.amazon.com/cli/), then aws configure, or export AWS_PROFILE=<profile> and AWS_REGION=<region>",
            ]);
        } finally {
            delete process.env.AWS_ENDPOINT_URL_STS;
            w.proxy.options = {};
        }
    });

    it("without the Pulumi CLI says so with the install link, and still checks the bucket and table", async () => {
        const path = process.env.PATH;
        process.env.PATH = "/nonexistent";
        try {
            const run = await cli("doctor");
            assert.equal(run.code, 1);
            assert.match(
                run.out,
                /^✗ Pulumi CLI: the Pulumi CLI is not installed or not on PATH \(https:\/\/www\.pulumi\.com\/docs\/iac\/download-install\/\)$/m,
            );
            assert.deepEqual(verdicts(run.out).slice(0, 6), [
                "✗ Pulumi CLI",
                "✓ AWS",
                "✓ region",
                "✓ images bucket",
                "✓ catadata table",
                "– stack",
            ]);
            assert.deepEqual(nextLines(run.out), [
                "Next: install the Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/",
            ]);
        } finally {
            process.env.PATH = path;
        }
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

    it("with too few labels names each class that lacks them and how many more, and each cat under a third of the largest", async () => {
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
            /^⚠ balance: Chi has 2, under a third of Boots's 10: label about 2 more Chi; Kappa has 3, .*; Mu has 0, under a third of Boots's 10: label about 4 more Mu; .*$/m,
        );
        assert.deepEqual(nextLines(run.out), [
            "Next: label 1 more Chi, 2 more Kappa from other visits, 3 more Mu, about 39 more of any cat (npx bootboots suggest, then npx bootboots label)",
        ]);
    });

    it("says train when everything is ready, exits 0, names labels of unknown classes, and gives the same report as JSON", async () => {
        w.stub.setOutputs(Object.fromEntries(Object.entries(w.outputs).filter(([, v]) => v !== undefined)));
        const run = await cli("doctor");
        assert.equal(run.code, 0, run.err);
        assert.deepEqual(verdicts(run.out), [
            "✓ Pulumi CLI",
            "✓ AWS",
            "✓ region",
            "✓ images bucket",
            "✓ catadata table",
            "✓ stack",
            "⚠ classes",
            "✓ labels",
            "✓ balance",
            "⚠ model",
            "✓ camera API",
        ]);
        assert.match(
            run.out,
            /^⚠ classes: 1 label names a class not in classes: Garfield \(1\); add it \(pulumi config set classes Boots,Chi,Kappa,Mu,NoCat,Tau,Wolf,Garfield\) or relabel it$/m,
        );
        assert.match(run.out, /^⚠ model: no model is serving yet$/m);
        assert.deepEqual(nextLines(run.out), [
            "Next: npx bootboots train, then npx bootboots status --watch, then npx bootboots deploy (10–20 minutes)",
        ]);
        assert.equal(run.err, "");
        const json = await cli("doctor", "--json");
        assert.equal(json.code, 0);
        const report = JSON.parse(json.out);
        assert.equal(report.ready, true);
        assert.match(report.nextStep, /^npx bootboots train/);
        const symbol = { ok: "✓", warn: "⚠", fail: "✗", skipped: "–" } as Record<string, string>;
        assert.deepEqual(
            report.checks.map((c: { check: string; status: string }) => `${symbol[c.status]} ${c.check}`),
            verdicts(run.out),
        );
        assert.equal(report.checks[3].message, `s3://${world.imagesBucket} exists (images under catcam-training/)`);
    });

    it("says pulumi up when the stack has no outputs, and the region to use when the CLI's differs from the stack's", async () => {
        w.stub.setOutputs({});
        const none = await cli("doctor", "--json");
        assert.equal(none.code, 1);
        assert.equal(JSON.parse(none.out).nextStep, "deploy the stack: pulumi up (it prints the camera API's address)");
        w.stub.setOutputs({
            ...Object.fromEntries(Object.entries(w.outputs).filter(([, v]) => v !== undefined)),
            region: "us-east-1",
        });
        const elsewhere = await cli("doctor");
        assert.equal(elsewhere.code, 1);
        assert.match(
            elsewhere.out,
            /^✗ region: the CLI's region is eu-west-2 \(from AWS_REGION\), the stack's us-east-1$/m,
        );
        assert.deepEqual(nextLines(elsewhere.out), ["Next: export AWS_REGION=us-east-1"]);
        w.stub.setOutputs(Object.fromEntries(Object.entries(w.outputs).filter(([, v]) => v !== undefined)));
    });

    it("--iam-policy prints the CLI user's least-privilege policy, made from every command's declared actions", async () => {
        const run = await cli("doctor", "--iam-policy");
        assert.equal(run.code, 0, run.err);
        const policy = JSON.parse(run.out);
        const actions = policy.Statement.flatMap((s: { Action: string[] }) => s.Action);
        assert.ok(actions.includes("sagemaker:UpdateModelPackage"), "deploy approves the version it deploys");
        for (const s of policy.Statement) assert.ok(s.Resource.length > 0, s.Sid);
        const byAction = (action: string) =>
            policy.Statement.filter((s: { Action: string[] }) => s.Action.includes(action)).flatMap(
                (s: { Resource: string[] }) => s.Resource,
            );
        assert.deepEqual(byAction("lambda:InvokeFunction"), [
            "arn:aws:lambda:eu-west-2:123456789012:function:bootboots-data-prep-a1b2c3d",
            "arn:aws:lambda:eu-west-2:123456789012:function:bootboots-trigger-training-a1b2c3d",
        ]);
        assert.deepEqual(byAction("s3:PutObject").sort(), [
            `arn:aws:s3:::${world.imagesBucket}/catcam-training/*`,
            `arn:aws:s3:::${world.trainingBucket}/*`,
        ]);
        assert.deepEqual(byAction("execute-api:Invoke"), [
            "arn:aws:execute-api:eu-west-2:123456789012:a1b2c3d4e5/$default/POST/infer",
        ]);
        // Only List* and pricing take no resource.
        for (const s of policy.Statement.filter((x: { Resource: string[] }) => x.Resource.includes("*")))
            for (const action of s.Action) assert.match(action, /^(sagemaker:List|pricing:GetProducts)/);
    });
});
