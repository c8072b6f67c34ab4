import { strict as assert } from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { lambdaZip } from "./support/deployedLambda";
import { setEnv } from "./support/env";
import { MockResource, StackRun, runStack } from "./support/pulumiMocks";

const JOB = "bootboots-0123456789abcdef01234567";
const MODEL_URL = `s3://bootboots-models-123456789012/training-output/${JOB}/output/model.tar.gz`;
const OLD_MODEL_URL = "s3://bootboots-models-123456789012/training-output/bootboots-old/output/model.tar.gz";
const ROUTE_ARN = "arn:aws:execute-api:eu-west-2:123456789012:a1b2c3d4e5/$default/POST/infer";

type Statement = { Sid: string; Effect: string; Action: string[]; Resource: string | string[]; Condition?: unknown };
const statements = (policy: MockResource): Statement[] => JSON.parse(policy.inputs.policy).Statement;

/**
 * S3 as the program's deploy-time check reads it: the decision.json of MODEL_URL's job, and
 * nothing else (404 NoSuchKey), on 127.0.0.1.
 */
async function fakeS3(): Promise<{ server: http.Server; requests: string[] }> {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        if (req.url!.split("?")[0] === `/bootboots-models-123456789012/training-output/${JOB}/output/decision.json`) {
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ target_class: "Boots", threshold: 0.7, max_false_alarm_rate: 0.01 }));
        } else {
            res.writeHead(404, { "content-type": "application/xml" });
            res.end("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>");
        }
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    return { server, requests };
}

describe("the camera API (Pulumi mocks)", function () {
    this.timeout(120_000);
    let plain: StackRun;
    let withModel: StackRun;
    /** Every camera setting away from its default, serving a model without a decision. */
    let tuned: StackRun;
    let s3: { server: http.Server; requests: string[] };
    const warnings: string[] = [];
    let restoreEnv: () => void;
    const originalWarn = console.warn;

    before(async () => {
        s3 = await fakeS3();
        restoreEnv = setEnv({
            AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`,
            AWS_ACCESS_KEY_ID: "testing",
            AWS_SECRET_ACCESS_KEY: "testing",
        });
        console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
        plain = await runStack({});
        withModel = await runStack({ modelDataUrl: MODEL_URL });
        tuned = await runStack({
            // A model without a decision.json, for the deploy-time warning.
            modelDataUrl: OLD_MODEL_URL,
            cameraRateLimit: "2",
            cameraBurstLimit: "4",
            cameraReservedConcurrency: "0",
            cameraRoleName: "garden-cam-iot",
            keepWarmMinutes: "5",
            eventsTableName: "garden-events",
            eventRetentionDays: "30",
        });
    });

    after(() => {
        console.warn = originalWarn;
        s3.server.close();
        restoreEnv?.();
    });

    /** The deploy-time check runs in an apply after the resources: wait for its request or warning. */
    async function settle(until: () => boolean): Promise<void> {
        for (let i = 0; i < 100 && !until(); i++) await new Promise((done) => setTimeout(done, 20));
    }

    it("exists from the first pulumi up, model or not, and exports its URL, invoke policy and events table", async () => {
        for (const stack of [plain, withModel]) {
            assert.equal(stack.ofType("bootboots:camera:CameraApi").length, 1);
            assert.equal(stack.outputs.cameraApiUrl, "https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/infer");
            assert.equal(
                stack.outputs.cameraInvokePolicyArn,
                "arn:aws:iam::123456789012:policy/bootboots-camera-invoke-a1b2c3d",
            );
            assert.equal(stack.outputs.eventsTableName, "bootboots-events");
        }
        // Without a model: no endpoint to invoke, no decision to read, and nothing to keep warm.
        const env = plain.one("aws:lambda/function:Function", "camera-infer").inputs.environment.variables;
        assert.deepEqual([env.ENDPOINT_NAME, env.MODEL_DATA_URL], ["", ""]);
        const actions = statements(plain.one("aws:iam/rolePolicy:RolePolicy", "camera-infer")).flatMap((s) => s.Action);
        for (const action of ["sagemaker:InvokeEndpoint", "s3:GetObject", "s3:ListBucket"])
            assert.ok(!actions.includes(action), action);
        const cold = await runStack({ keepWarmMinutes: "5" });
        assert.equal(
            cold.ofType("aws:cloudwatch/eventRule:EventRule").filter((r) => r.name.includes("keep-warm")).length,
            0,
        );
    });

    it("routes POST /infer with AWS_IAM authorization to the infer function, payload format 2.0, within the gateway's 30 s", () => {
        const api = withModel.one("aws:apigatewayv2/api:Api");
        assert.equal(api.inputs.protocolType, "HTTP");
        const route = withModel.one("aws:apigatewayv2/route:Route");
        assert.equal(route.inputs.routeKey, "POST /infer");
        assert.equal(route.inputs.authorizationType, "AWS_IAM");
        const integration = withModel.one("aws:apigatewayv2/integration:Integration");
        assert.equal(route.inputs.target, "integrations/bootboots-camera-id");
        assert.deepEqual(
            [
                integration.inputs.integrationType,
                integration.inputs.payloadFormatVersion,
                integration.inputs.timeoutMilliseconds,
            ],
            ["AWS_PROXY", "2.0", 30000],
        );
        const fn = withModel.one("aws:lambda/function:Function", "camera-infer");
        assert.equal(integration.inputs.integrationUri, fn.state.arn);
        assert.equal(fn.inputs.timeout, 29);
        const permission = withModel
            .ofType("aws:lambda/permission:Permission")
            .find((p) => p.inputs.principal === "apigateway.amazonaws.com")!;
        assert.equal(permission.inputs.sourceArn, "arn:aws:execute-api:eu-west-2:123456789012:a1b2c3d4e5/*/POST/infer");
    });

    it("throttles the stage at 5 requests/s with bursts of 10, logs access to a log group with a retention, and reserves the endpoint's concurrency", async () => {
        const stage = withModel.one("aws:apigatewayv2/stage:Stage");
        assert.equal(stage.inputs.name, "$default");
        assert.deepEqual(
            [
                stage.inputs.defaultRouteSettings.throttlingRateLimit,
                stage.inputs.defaultRouteSettings.throttlingBurstLimit,
            ],
            [5, 10],
        );
        const accessLogs = withModel.one("aws:cloudwatch/logGroup:LogGroup", "camera-access");
        assert.equal(stage.inputs.accessLogSettings.destinationArn, accessLogs.state.arn);
        assert.equal(accessLogs.inputs.retentionInDays, 30);
        assert.ok(JSON.parse(stage.inputs.accessLogSettings.format).requestId);
        assert.equal(
            withModel.one("aws:lambda/function:Function", "camera-infer").inputs.reservedConcurrentExecutions,
            5,
        );

        const tunedStage = tuned.one("aws:apigatewayv2/stage:Stage");
        assert.deepEqual(
            [
                tunedStage.inputs.defaultRouteSettings.throttlingRateLimit,
                tunedStage.inputs.defaultRouteSettings.throttlingBurstLimit,
            ],
            [2, 4],
        );
        assert.equal(
            tuned.one("aws:lambda/function:Function", "camera-infer").inputs.reservedConcurrentExecutions,
            -1,
            "0 means unreserved, not stopped",
        );
    });

    it("gives the camera a managed policy for exactly the route, attached to cameraRoleName when set", () => {
        const policy = withModel.one("aws:iam/policy:Policy", "camera-invoke");
        assert.deepEqual(statements(policy), [
            { Sid: "CallInfer", Effect: "Allow", Action: ["execute-api:Invoke"], Resource: ROUTE_ARN },
        ]);
        assert.equal(withModel.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0);
        const attachment = tuned.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "camera-invoke");
        assert.deepEqual(
            [attachment.inputs.role, attachment.inputs.policyArn],
            ["garden-cam-iot", "arn:aws:iam::123456789012:policy/bootboots-camera-invoke-a1b2c3d"],
        );
    });

    it("lets the infer function invoke the one endpoint, put images under the prefix, put rows and events, and read decisions: no * anywhere", () => {
        const policy = withModel.one("aws:iam/rolePolicy:RolePolicy", "camera-infer");
        const byAction = new Map<string, string[]>();
        for (const s of statements(policy)) {
            for (const action of s.Action) {
                assert.ok(!action.includes("*"), action);
                byAction.set(action, [...(byAction.get(action) ?? []), ...([] as string[]).concat(s.Resource)]);
            }
        }
        for (const resource of [...byAction.values()].flat()) assert.notEqual(resource, "*");
        assert.deepEqual([...byAction.keys()].sort(), [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            // A keep-warm request no retry completed goes to the default bus (components/failedEvents.ts).
            "events:PutEvents",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "sagemaker:InvokeEndpoint",
        ]);
        assert.deepEqual(byAction.get("sagemaker:InvokeEndpoint"), [
            "arn:aws:sagemaker:eu-west-2:123456789012:endpoint/bootboots",
        ]);
        // Only new objects, and only under the API's own names: a user's image is never written over.
        assert.deepEqual(byAction.get("s3:PutObject"), [
            "arn:aws:s3:::bootboots-images-123456789012-eu-west-2/catcam-training/????-??-??T??-??-??.???Z-????.jpg",
        ]);
        const put = statements(policy).find((s) => s.Action.includes("s3:PutObject"))!;
        assert.deepEqual(put.Condition, { Null: { "s3:if-none-match": "false" } });
        const rows = statements(policy).find((s) => s.Sid === "AddUnlabelledRows")!;
        assert.deepEqual(rows.Condition, {
            "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["????-??-??T??-??-??.???Z-????.jpg"] },
        });
        assert.deepEqual(byAction.get("dynamodb:PutItem"), [
            "arn:aws:dynamodb:eu-west-2:123456789012:table/catadata",
            "arn:aws:dynamodb:eu-west-2:123456789012:table/bootboots-events",
            "arn:aws:dynamodb:eu-west-2:123456789012:table/bootboots-camera-visits-a1b2c3d",
        ]);
        // Each camera's visit: read and written, nothing else.
        assert.deepEqual(byAction.get("dynamodb:GetItem"), [
            "arn:aws:dynamodb:eu-west-2:123456789012:table/bootboots-camera-visits-a1b2c3d",
        ]);
        assert.deepEqual(byAction.get("s3:GetObject"), [
            "arn:aws:s3:::bootboots-models-123456789012/training-output/*/output/decision.json",
            "arn:aws:s3:::bootboots-models-123456789012/training-output/*/output/output.tar.gz",
            `arn:aws:s3:::bootboots-models-123456789012/training-output/${JOB}/output/decision.json`,
            `arn:aws:s3:::bootboots-models-123456789012/training-output/${JOB}/output/output.tar.gz`,
            `arn:aws:s3:::bootboots-models-123456789012/training-output/${JOB}/output/model.tar.gz`,
        ]);
    });

    it("creates the events table on demand, with point-in-time recovery and a TTL on expiresAt, named and kept as configured", () => {
        const table = withModel.one("aws:dynamodb/table:Table", "camera-events");
        assert.equal(table.inputs.name, "bootboots-events");
        assert.equal(table.inputs.billingMode, "PAY_PER_REQUEST");
        assert.deepEqual([table.inputs.hashKey, table.inputs.rangeKey], ["day", "eventId"]);
        assert.deepEqual(table.inputs.ttl, { attributeName: "expiresAt", enabled: true });
        assert.deepEqual(table.inputs.pointInTimeRecovery, { enabled: true });
        const env = withModel.one("aws:lambda/function:Function", "camera-infer").inputs.environment.variables;
        assert.deepEqual(
            {
                EVENTS_TABLE: env.EVENTS_TABLE,
                EVENT_RETENTION_DAYS: env.EVENT_RETENTION_DAYS,
                MODEL_DATA_URL: env.MODEL_DATA_URL,
                ENDPOINT_NAME: env.ENDPOINT_NAME,
            },
            {
                EVENTS_TABLE: "bootboots-events",
                EVENT_RETENTION_DAYS: "365",
                MODEL_DATA_URL: MODEL_URL,
                ENDPOINT_NAME: "bootboots",
            },
        );
        assert.equal(tuned.one("aws:dynamodb/table:Table", "camera-events").inputs.name, "garden-events");
        assert.equal(
            tuned.one("aws:lambda/function:Function", "camera-infer").inputs.environment.variables.EVENT_RETENTION_DAYS,
            "30",
        );
    });

    it("keeps each camera's visit in a table of its own, cleared by TTL, and tells the function the gap", () => {
        const table = withModel.one("aws:dynamodb/table:Table", "camera-visits");
        assert.equal(table.inputs.name, undefined, "auto-named: destroy deletes it, since a state lasts a visit");
        assert.equal(table.inputs.hashKey, "camera");
        assert.deepEqual(table.inputs.ttl, { attributeName: "expiresAt", enabled: true });
        assert.equal(table.inputs.billingMode, "PAY_PER_REQUEST");
        assert.notEqual(table.options?.retainOnDelete, true);
        const env = withModel.one("aws:lambda/function:Function", "camera-infer").inputs.environment.variables;
        assert.deepEqual([env.VISITS_TABLE, env.VISIT_GAP_MINUTES], ["bootboots-camera-visits-a1b2c3d", "10"]);
    });

    it("keeps the events table when the stack is destroyed, protects it from deletion, and adopts it again", async () => {
        const table = withModel.one("aws:dynamodb/table:Table", "camera-events");
        assert.equal(table.inputs.deletionProtectionEnabled, true);
        assert.equal(table.options?.retainOnDelete, true, "pulumi destroy leaves the decision history");
        const adopted = await runStack({ modelDataUrl: MODEL_URL, adoptExistingBuckets: "true" });
        const read = adopted.one("aws:dynamodb/table:Table", "camera-events");
        assert.equal(read.readId, "bootboots-events", "read, not created again");
    });

    it("names the endpoint's variant after the model's job", () => {
        const config = withModel.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration");
        assert.equal(config.inputs.productionVariants[0].variantName, JOB);
    });

    it("schedules keep-warm requests through the infer function only when keepWarmMinutes is set", () => {
        assert.equal(
            withModel.ofType("aws:cloudwatch/eventRule:EventRule").filter((r) => r.name.includes("keep-warm")).length,
            0,
        );
        const warm = tuned;
        const rule = warm.one("aws:cloudwatch/eventRule:EventRule", "keep-warm");
        assert.equal(rule.inputs.scheduleExpression, "rate(5 minutes)");
        const target = warm.one("aws:cloudwatch/eventTarget:EventTarget", "keep-warm");
        assert.equal(target.inputs.arn, warm.one("aws:lambda/function:Function", "camera-infer").state.arn);
        assert.deepEqual(JSON.parse(target.inputs.input), { keepWarm: true });
        const permission = warm
            .ofType("aws:lambda/permission:Permission")
            .find((p) => p.inputs.principal === "events.amazonaws.com" && p.name.includes("keep-warm"))!;
        assert.equal(permission.inputs.sourceArn, rule.state.arn);
    });

    it("reads the model's decision at deploy time, and warns when the model has none", async () => {
        await settle(() => s3.requests.some((r) => r.includes(JOB)));
        // Found in the first place it looks: the plain decision.json.
        const reads = new Set(s3.requests.filter((r) => r.includes(JOB)));
        assert.deepEqual(
            [...reads],
            [`GET /bootboots-models-123456789012/training-output/${JOB}/output/decision.json?x-id=GetObject`],
        );
        assert.ok(!warnings.some((w) => w.includes(JOB)), warnings.join("\n"));

        const old = tuned;
        assert.equal(
            old.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs.productionVariants[0]
                .variantName,
            "bootboots-old",
        );
        await settle(() => warnings.some((w) => w.includes("bootboots-old")));
        const warning = warnings.find((w) => w.includes("bootboots-old"));
        assert.match(
            warning ?? "",
            /^warning: .*bootboots-old\/output\/model\.tar\.gz has no decision\.json .*the camera API will answer without a decision/,
        );
        // It looked in all three places before saying so.
        assert.deepEqual(
            [...new Set(s3.requests.filter((r) => r.includes("bootboots-old")).map((r) => r.split("/").pop()))],
            ["decision.json?x-id=GetObject", "output.tar.gz?x-id=GetObject", "model.tar.gz?x-id=GetObject"],
        );
    });

    it("packages the infer function small, without the AWS SDK", async () => {
        const zip = await lambdaZip(withModel.one("aws:lambda/function:Function", "camera-infer"));
        assert.ok(zip.indexJs.length < 200_000, `${zip.indexJs.length} bytes`);
        assert.ok(!zip.entries.some((e) => e.includes("@aws-sdk") || e.includes("tar")), zip.entries.join(", "));
    });
});
