import { DynamoDBClient, GetItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { runCli } from "../cli/main";
import { CameraAnswer, NO_MODEL_WARNING } from "../lib/cameraApi";
import { INFER_ENV } from "../lib/functionSettings";
import { jobModelUrl, servingRequestBody } from "../lib/serving";
import { Handler, loadDeployedHandler } from "./support/deployedLambda";
import { EndpointStandIn, MODEL_FIXTURE, sampleFiles, startEndpointStandIn } from "./support/endpointStandIn";
import { httpApiEvent } from "./support/httpApiEvent";
import { Moto, clientConfig, sharedMoto } from "./support/moto";
import { InjectedResponse, Proxy, RecordedRequest, startProxy } from "./support/proxy";
import { runStack } from "./support/pulumiMocks";
import { VISITS_TABLE, WORLD, createEventsTable, createVisitsTable, seedWorld } from "./support/seed";
import { setEnv } from "./support/env";
import { startSigV4Gateway } from "./support/sigv4Gateway";

const CLASSES = ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"];
const EVENTS_TABLE = "bootboots-events";
/** The configured model: a plain decision.json beside its archive, with a low threshold. */
const JOB_LOW = "bootboots-000000000000000000000001";
/** A newer model: its decision only inside output.tar.gz, with a threshold no image reaches. */
const JOB_HIGH = "bootboots-000000000000000000000002";
/** A job trained before thresholds: output.tar.gz without a decision. */
const JOB_OLD = "bootboots-000000000000000000000003";
const LOW_THRESHOLD = 0.02;
const HIGH_THRESHOLD = 0.999999;

/** A decision.json; with `visitWindow`, a visit rule over that many frames at the same threshold. */
function decision(threshold: number, visitWindow?: number) {
    return {
        target_class: "Boots",
        threshold,
        ...(visitWindow ? { visit_rule: { kind: "window_mean", frames: visitWindow, threshold } } : {}),
        max_false_alarm_rate: 0.01,
        validation_recall: 0.9,
        validation_false_alarm_rate: 0.0,
        test_recall: 0.85,
        test_false_alarm_rate: 0.01,
    };
}

async function outputArchive(files: Record<string, object>): Promise<Buffer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "job-output-"));
    for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), JSON.stringify(body));
    const file = path.join(dir, "output.tar.gz");
    await tar.create({ gzip: true, file, cwd: dir }, Object.keys(files));
    return fs.readFileSync(file);
}

type Answer = CameraAnswer & { success: boolean; error?: string };

/** The time a stored image's name carries (`…/2026-12-01T06-15-00.123Z-ab12.jpg`): when the gateway received it. */
function keyTime(key: string): Date {
    const [, day, hh, mm, rest] = /(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d\.\d{3}Z)/.exec(key)!;
    return new Date(`${day}T${hh}:${mm}:${rest}`);
}

describe("the camera API as deployed (its __index.js with HTTP API 2.0 events, against moto and the TF Serving stand-in)", function () {
    this.timeout(300_000);
    let moto: Moto;
    let standIn: EndpointStandIn;
    /** In front of moto: S3 and DynamoDB, recorded, with failures injected after inference. */
    let aws: Proxy;
    /** In front of the stand-in: InvokeEndpoint, recorded, throttled or refused at will. */
    let runtime: Proxy;
    let infer: Handler;
    let s3: S3Client;
    let dynamodb: DynamoDBClient;
    let boots: Buffer;
    const logs: string[] = [];
    const originalLog = console.log;

    const post = async (
        body: Buffer | undefined,
        headers: Record<string, string> = { "Content-Type": "image/jpeg" },
        rawQueryString?: string,
        handler = infer,
    ) => {
        const event = httpApiEvent({ body, headers, rawQueryString });
        const result = await handler(event);
        assert.equal(result.headers["content-type"], "application/json");
        return {
            status: result.statusCode as number,
            answer: JSON.parse(result.body) as Answer,
            requestId: (event.requestContext as { requestId: string }).requestId,
        };
    };
    const storedKeys = async () =>
        (
            (await s3.send(new ListObjectsV2Command({ Bucket: WORLD.imagesBucket, Prefix: "catcam-training/" })))
                .Contents ?? []
        )
            .map((o) => o.Key!)
            .sort();
    const rows = async () =>
        ((await dynamodb.send(new ScanCommand({ TableName: WORLD.table }))).Items ?? []).map((i) => unmarshall(i));
    const events = async () =>
        ((await dynamodb.send(new ScanCommand({ TableName: EVENTS_TABLE }))).Items ?? []).map((i) => unmarshall(i));
    const invocations = () => runtime.requests.filter((r) => r.url.includes("/invocations")).length;

    /** The infer function as deployed, in a new Lambda environment: nothing read or kept yet. */
    async function freshHandler(extraEnv: Record<string, string> = {}): Promise<Handler> {
        const stack = await runStack({ modelDataUrl: jobModelUrl(WORLD.modelBucket, JOB_LOW) });
        const fn = stack.one("aws:lambda/function:Function", "camera-infer");
        return loadDeployedHandler(fn, {
            AWS_ENDPOINT_URL: aws.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: runtime.endpoint,
            AWS_REGION: "eu-west-2",
            ...extraEnv,
        });
    }

    before(async () => {
        moto = await sharedMoto();
        const direct = await seedWorld(moto.endpoint, [], clientConfig);
        s3 = direct.s3;
        dynamodb = direct.dynamodb;
        await createEventsTable(dynamodb, EVENTS_TABLE);
        await createVisitsTable(dynamodb);
        const put = (key: string, body: Buffer | string) =>
            s3.send(new PutObjectCommand({ Bucket: WORLD.modelBucket, Key: key, Body: body }));
        await put(`training-output/${JOB_LOW}/output/decision.json`, JSON.stringify(decision(LOW_THRESHOLD, 1)));
        await put(
            `training-output/${JOB_HIGH}/output/output.tar.gz`,
            await outputArchive({ "decision.json": decision(HIGH_THRESHOLD), "evaluation.json": { accuracy: 0.9 } }),
        );
        await put(
            `training-output/${JOB_OLD}/output/output.tar.gz`,
            await outputArchive({ "evaluation.json": { accuracy: 0.7 } }),
        );

        standIn = await startEndpointStandIn("bootboots", JOB_LOW);
        runtime = await startProxy(standIn.endpoint);
        // DynamoDB writes one at a time, as the service applies each conditional write atomically.
        aws = await startProxy(moto.endpoint, {}, (request) =>
            /^DynamoDB_20120810\.(PutItem|UpdateItem|DeleteItem)$/.test(String(request.headers["x-amz-target"])),
        );
        infer = await freshHandler();
        console.log = (...args: unknown[]) => logs.push(args.join(" "));
        // The Boots sample the model is surest of: its argmax is Boots.
        const scored = [];
        for (const sample of sampleFiles(CLASSES).filter((s) => s.className === "Boots")) {
            const { answer } = await post(fs.readFileSync(sample.file));
            scored.push({ file: sample.file, p: answer.predictions!.Boots, top: answer.mostLikelyCat!.name });
        }
        const surest = scored.sort((a, b) => b.p - a.p)[0];
        assert.equal(surest.top, "Boots", `the fixture model calls no Boots sample Boots: ${JSON.stringify(scored)}`);
        boots = fs.readFileSync(surest.file);
    });

    after(() => {
        console.log = originalLog;
        standIn?.stop();
        assert.deepEqual(
            [...(standIn?.proxy.invalid ?? []), ...(runtime?.invalid ?? [])],
            [],
            "every InvokeEndpoint was a valid one",
        );
    });

    beforeEach(async () => {
        aws.options = {};
        runtime.options = {};
        logs.length = 0;
        await standIn.setVariant(JOB_LOW);
    });

    it("answers a JPEG in full: mostLikelyCat as the firmware reads it, the decision at the model's own threshold, every class, the model, the stored image", async () => {
        const before = invocations();
        const { status, answer, requestId } = await post(boots, {
            "Content-Type": "image/jpeg",
            "X-Bootboots-Camera": "garden-1",
        });
        assert.equal(status, 200, JSON.stringify(answer));
        assert.equal(answer.success, true);
        assert.equal(answer.mode, "inference");
        assert.deepEqual(Object.keys(answer.predictions!), CLASSES);
        const p = answer.predictions!;
        assert.ok(Math.abs(Object.values(p).reduce((a, b) => a + b, 0) - 1) < 1e-4);
        assert.deepEqual(answer.mostLikelyCat, { name: "Boots", confidence: p.Boots, index: 0 });
        // The first frame of camera garden-1: a visit of one frame, on which the visit rule acted.
        const at = keyTime(answer.image.key);
        assert.deepEqual(answer.decision, {
            targetClass: "Boots",
            probability: p.Boots,
            rule: "visit",
            score: p.Boots,
            threshold: LOW_THRESHOLD,
            act: true,
            window: 1,
            frameThreshold: LOW_THRESHOLD,
            maxFalseAlarmRate: 0.01,
            visit: { id: `garden-1@${at.toISOString()}`, frames: 1, startedAt: at.toISOString(), actedAt: 1 },
        });
        assert.deepEqual(answer.model, {
            trainingJobName: JOB_LOW,
            modelDataUrl: jobModelUrl(WORLD.modelBucket, JOB_LOW),
            variantName: JOB_LOW,
        });
        assert.equal(answer.requestId, requestId);
        assert.equal(answer.notStored, undefined);
        assert.equal(answer.warnings, undefined);
        assert.match(answer.image.key, /^catcam-training\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-[0-9a-f]{4}\.jpg$/);
        assert.equal(answer.image.bucket, WORLD.imagesBucket);

        // What it sent the endpoint is what the source computes, one request, base64 JSON within 1.37× the JPEG.
        assert.equal(invocations() - before, 1);
        const sent = runtime.requests[runtime.requests.length - 1];
        assert.equal(sent.body.toString(), servingRequestBody(boots));
        assert.equal(sent.headers["content-type"], "application/json");
        assert.ok(sent.body.length <= 1.37 * boots.length, `${sent.body.length} bytes for a ${boots.length}-byte JPEG`);

        const object = await s3.send(new GetObjectCommand({ Bucket: WORLD.imagesBucket, Key: answer.image.key }));
        assert.equal(object.ContentType, "image/jpeg");
        assert.deepEqual(Buffer.from(await object.Body!.transformToByteArray()), boots);
        const fileName = answer.image.key.slice("catcam-training/".length);
        const row = unmarshall(
            (await dynamodb.send(new GetItemCommand({ TableName: WORLD.table, Key: { imageName: { S: fileName } } })))
                .Item!,
        );
        assert.deepEqual(Object.keys(row).sort(), [
            "camera",
            "createdAt",
            "imageName",
            "modelDataUrl",
            "source",
            "top3",
        ]);
        assert.equal(row.source, "camera");
        assert.equal(row.camera, "garden-1");
        assert.equal(row.modelDataUrl, answer.model!.modelDataUrl);
        assert.deepEqual(row.top3.map((t: { className: string }) => t.className)[0], "Boots");
        assert.equal(row.top3.length, 3);
        assert.equal(row.top3[0].probability, p.Boots);

        // It acted, so the events table has it.
        const event = (await events()).find((e) => e.imageKey === answer.image.key)!;
        assert.deepEqual(
            {
                camera: event.camera,
                probability: event.probability,
                threshold: event.threshold,
                trainingJobName: event.trainingJobName,
                day: event.day,
                rule: event.rule,
                visit: event.visit,
                visitFrame: event.visitFrame,
            },
            {
                camera: "garden-1",
                probability: p.Boots,
                threshold: LOW_THRESHOLD,
                trainingJobName: JOB_LOW,
                day: row.createdAt.slice(0, 10),
                rule: "visit",
                visit: answer.decision!.visit!.id,
                visitFrame: 1,
            },
        );
        assert.equal(event.expiresAt, Math.floor(Date.parse(row.createdAt) / 1000) + 365 * 86400);
    });

    it("does not act when the answering model's threshold is above the image's Boots probability, though its argmax is Boots", async () => {
        await standIn.setVariant(JOB_HIGH);
        const eventsBefore = (await events()).length;
        const { status, answer } = await post(boots);
        assert.equal(status, 200);
        assert.equal(answer.mostLikelyCat!.name, "Boots");
        assert.equal(answer.mostLikelyCat!.index, 0);
        assert.ok(
            answer.mostLikelyCat!.confidence >= 0.5 || answer.mostLikelyCat!.confidence > answer.predictions!.Chi,
        );
        // A model trained before visits: the frame alone decides, at its per-frame threshold, and the answer says so.
        const { visit, ...frameDecision } = answer.decision!;
        assert.deepEqual(frameDecision, {
            targetClass: "Boots",
            probability: answer.predictions!.Boots,
            rule: "frame",
            score: answer.predictions!.Boots,
            threshold: HIGH_THRESHOLD,
            act: false,
            frameThreshold: HIGH_THRESHOLD,
            maxFalseAlarmRate: 0.01,
        });
        assert.match(visit!.id, /^garden-cam@/, "the camera named by the session of the role that signed");
        assert.deepEqual(answer.warnings, [
            "The model has no visit rule (it was trained before visits): this frame was judged alone, at its per-frame threshold.",
        ]);
        assert.equal(answer.model!.trainingJobName, JOB_HIGH);
        assert.equal((await events()).length, eventsBefore, "no event when the decision does not act");
    });

    it("applies each model's own threshold while an update moves traffic from one variant to the next", async () => {
        const sequence = [JOB_LOW, JOB_HIGH, JOB_LOW, JOB_HIGH, JOB_HIGH, JOB_LOW];
        const container = await freshHandler();
        const first = aws.requests.length;
        for (const variant of sequence) {
            await standIn.setVariant(variant);
            const { answer } = await post(boots, undefined, undefined, container);
            assert.equal(answer.model!.variantName, variant);
            assert.equal(answer.decision!.threshold, variant === JOB_LOW ? LOW_THRESHOLD : HIGH_THRESHOLD);
            assert.equal(answer.decision!.act, variant === JOB_LOW);
        }
        // Each model's decision was read once, then kept: the low one's plain file, the high one from its output.tar.gz.
        const reads = aws.requests
            .slice(first)
            .filter((r) => r.method === "GET" && r.url.includes("/training-output/"))
            .map((r) => r.url.split("?")[0]);
        assert.deepEqual(reads, [
            `/${WORLD.modelBucket}/training-output/${JOB_LOW}/output/decision.json`,
            `/${WORLD.modelBucket}/training-output/${JOB_HIGH}/output/decision.json`,
            `/${WORLD.modelBucket}/training-output/${JOB_HIGH}/output/output.tar.gz`,
        ]);
    });

    it("gives no decision for a model without decision.json, or a variant it cannot place, and says why", async () => {
        await standIn.setVariant(JOB_OLD);
        const old = await post(boots);
        assert.equal(old.status, 200);
        assert.equal(old.answer.decision, undefined);
        assert.equal(old.answer.mostLikelyCat!.name, "Boots");
        assert.equal(old.answer.model!.trainingJobName, JOB_OLD);
        assert.match(
            old.answer.warnings![0],
            new RegExp(`^No decision: model ${JOB_OLD} has no decision\\.json .*no threshold to act on\\.$`),
        );
        assert.ok((await storedKeys()).includes(old.answer.image.key), "the image is stored all the same");

        await standIn.setVariant("model-0123456789abcdef");
        const unknown = await post(boots);
        assert.equal(unknown.answer.decision, undefined);
        assert.deepEqual(unknown.answer.model, {
            trainingJobName: null,
            modelDataUrl: null,
            variantName: "model-0123456789abcdef",
        });
    });

    it("before any model is deployed, keeps every image and its row for labelling and says so, as a 200 the firmware ignores", async () => {
        const stack = await runStack({});
        const fn = stack.one("aws:lambda/function:Function", "camera-infer");
        const noModel = await loadDeployedHandler(fn, {
            AWS_ENDPOINT_URL: aws.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: runtime.endpoint,
            AWS_REGION: "eu-west-2",
        });
        const before = invocations();
        const { status, answer } = await post(boots, { "Content-Type": "image/jpeg" }, undefined, noModel);
        assert.equal(status, 200);
        assert.equal(answer.success, true);
        assert.equal(answer.mostLikelyCat, undefined, "no winner: the firmware logs it and does nothing");
        assert.equal(answer.decision, undefined);
        assert.deepEqual(answer.warnings, [NO_MODEL_WARNING]);
        assert.equal(invocations(), before, "no endpoint is asked");
        assert.ok((await storedKeys()).includes(answer.image.key));
        const row = (await rows()).find((r) => `catcam-training/${r.imageName}` === answer.image.key)!;
        assert.equal(row.cat, undefined, "a row without cat: labelling material");
        assert.equal(row.source, "camera");
        assert.equal(row.camera, "garden-cam");
        assert.deepEqual(await noModel({ keepWarm: true }), { keepWarm: true, skipped: "no model is deployed yet" });
    });

    it("in ?mode=training stores the image and its row for labelling and asks the endpoint nothing", async () => {
        const before = invocations();
        const { status, answer } = await post(
            boots,
            { "Content-Type": "image/jpeg", "x-bootboots-camera": "porch" },
            "mode=training",
        );
        assert.equal(status, 200);
        assert.deepEqual(Object.keys(answer).sort(), ["image", "mode", "requestId", "success"]);
        assert.equal(answer.mode, "training");
        assert.equal(invocations(), before);
        const fileName = answer.image.key.slice("catcam-training/".length);
        const row = (await rows()).find((r) => r.imageName === fileName)!;
        assert.deepEqual(Object.keys(row).sort(), ["camera", "createdAt", "imageName", "source"]);
        assert.ok((await storedKeys()).includes(answer.image.key));
    });

    it("refuses an empty body, a body that is no JPEG or not base64, one too large, a bad camera name or mode, each with one sentence and nothing stored or sent", async () => {
        const [keysBefore, rowsBefore, calls] = [await storedKeys(), (await rows()).length, invocations()];
        const awsRequests = aws.requests.length;
        const random = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 251));
        // A JPEG start and an APP0 segment, then the end: no frame header, so no image.
        const noFrame = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, 0xff, 0xd9]);
        const cases: [Buffer | undefined, Record<string, string>, string | undefined, number, RegExp][] = [
            [undefined, { "Content-Type": "image/jpeg" }, undefined, 400, /no body/],
            [
                Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
                { "Content-Type": "image/jpeg" },
                undefined,
                400,
                /not a JPEG/,
            ],
            [Buffer.from("just some text"), { "Content-Type": "image/jpeg" }, undefined, 400, /not a JPEG/],
            [noFrame, { "Content-Type": "image/jpeg" }, undefined, 400, /lacks the FF D8 start or a frame header/],
            [
                Buffer.from("<!doctype html><script>alert(1)</script>"),
                { "Content-Type": "text/html" },
                undefined,
                415,
                /Content-Type image\/jpeg, not "text\/html"/,
            ],
            [random, { "Content-Type": "image/jpeg" }, undefined, 400, /not a JPEG/],
            [
                Buffer.concat([boots.subarray(0, 3), Buffer.alloc(3_000_000)]),
                { "Content-Type": "image/jpeg" },
                undefined,
                413,
                /over the 3\.00 MB the endpoint accepts/,
            ],
            [
                boots,
                { "Content-Type": "image/jpeg", "x-bootboots-camera": "garden cam; drop table" },
                undefined,
                400,
                /x-bootboots-camera header/,
            ],
            [boots, { "Content-Type": "image/jpeg" }, "mode=shell", 400, /Unknown mode "shell"/],
        ];
        for (const [body, headers, query, status, message] of cases) {
            const result = await post(body, headers, query);
            assert.equal(result.status, status, `${message}: ${JSON.stringify(result.answer)}`);
            assert.deepEqual(Object.keys(result.answer), ["success", "error"]);
            assert.equal(result.answer.success, false);
            assert.match(result.answer.error!, message);
            assert.match(result.answer.error!, /^[A-Z].*\.$/);
        }
        // What the gateway would never send, but a forged event can: base64 that is not base64.
        const forged = httpApiEvent({ body: boots, headers: { "Content-Type": "image/jpeg" } });
        const notBase64 = await infer({ ...forged, body: "/9j/!!!!" });
        assert.equal(notBase64.statusCode, 400);
        assert.deepEqual(JSON.parse(notBase64.body), {
            success: false,
            error: "The request body is not valid base64, so no image could be read from it.",
        });
        assert.deepEqual(await storedKeys(), keysBefore);
        assert.equal((await rows()).length, rowsBefore);
        assert.equal(invocations(), calls);
        assert.equal(aws.requests.length - awsRequests, 0, "a refused request reaches no AWS service");
    });

    it("accepts a JPEG cut off before its end marker, and stores it repaired, as data prep does", async () => {
        const cut = boots.subarray(0, boots.length - 2);
        const { status, answer } = await post(cut);
        assert.equal(status, 200, JSON.stringify(answer));
        const object = await s3.send(new GetObjectCommand({ Bucket: WORLD.imagesBucket, Key: answer.image.key }));
        assert.deepEqual(Buffer.from(await object.Body!.transformToByteArray()), boots);
    });

    it("never writes over an image: a name already taken gets a new one, and the old object stays", async () => {
        const taken: InjectedResponse = {
            status: 412,
            body: "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>",
        };
        let refused = 0;
        aws.options = {
            inject: (r) => {
                const image = r.method === "PUT" && r.url.startsWith(`/${WORLD.imagesBucket}/catcam-training/`);
                if (!image) return undefined;
                assert.equal(r.headers["if-none-match"], "*", "every image write asks for a new object");
                return refused++ === 0 ? taken : undefined;
            },
        };
        const { status, answer } = await post(boots);
        assert.equal(status, 200, JSON.stringify(answer));
        assert.equal(answer.notStored, undefined);
        const puts = aws.requests.filter((r) => r.method === "PUT" && r.url.includes("/catcam-training/")).slice(-2);
        assert.notEqual(puts[0].url, puts[1].url, "the second try has another name");
        assert.equal(puts[1].url.split("?")[0], `/${WORLD.imagesBucket}/${answer.image.key}`);
        const row = (await rows()).find((r) => `catcam-training/${r.imageName}` === answer.image.key);
        assert.ok(row, "the row names the image as stored");
    });

    it("always answers the camera: a write failing at once, during inference or after it is named in notStored", async () => {
        const noBucket: InjectedResponse = {
            status: 404,
            body: "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>bootboots-images-123456789012-eu-west-2</BucketName></Error>",
        };
        const ddbDown: InjectedResponse = {
            status: 400,
            headers: { "content-type": "application/x-amz-json-1.0" },
            body: JSON.stringify({
                __type: "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                message: "Requested resource not found",
            }),
        };
        const isImage = (r: RecordedRequest) => r.method === "PUT" && r.url.startsWith(`/${WORLD.imagesBucket}/`);
        const isPutItem = (r: RecordedRequest, table: string) =>
            String(r.headers["x-amz-target"]).endsWith(".PutItem") && r.body.toString().includes(`"${table}"`);
        // The endpoint answers slowly, so that the image's write has failed long before.
        runtime.options = { latencyMs: 300 };
        const cases: [string, (r: RecordedRequest) => InjectedResponse | undefined, string[]][] = [
            ["the images bucket is gone", (r) => (isImage(r) ? noBucket : undefined), ["image"]],
            ["the row fails", (r) => (isPutItem(r, WORLD.table) ? ddbDown : undefined), ["row"]],
            ["the event fails", (r) => (isPutItem(r, EVENTS_TABLE) ? ddbDown : undefined), ["event"]],
            [
                "everything fails",
                (r) => (isImage(r) ? noBucket : r.method === "POST" ? ddbDown : undefined),
                ["event", "image", "row", "visit"],
            ],
        ];
        for (const [what, inject, notStored] of cases) {
            aws.options = { inject };
            const { status, answer } = await post(boots);
            assert.equal(status, 200, `${what}: ${JSON.stringify(answer)}`);
            assert.equal(answer.decision!.act, true, what);
            assert.deepEqual([...(answer.notStored ?? [])].sort(), notStored, what);
            assert.doesNotMatch(
                JSON.stringify(answer),
                /NoSuchBucket|specified bucket|Requested resource/,
                `${what}: AWS's words go to the log only`,
            );
        }
        // And with the endpoint failing too: the camera gets a 503 in our words, never a crash.
        aws.options = { inject: (r) => (isImage(r) ? noBucket : undefined) };
        runtime.options = {
            inject: (r) =>
                r.url.includes("/invocations")
                    ? {
                          status: 400,
                          headers: { "x-amzn-ErrorType": "ValidationError", "content-type": "application/json" },
                          body: '{"message":"Endpoint bootboots of account 123456789012 not found."}',
                      }
                    : undefined,
        };
        const failed = await post(boots);
        assert.equal(failed.status, 503);
        assert.match(
            failed.answer.error!,
            /^No answer: endpoint bootboots refused the request \(HTTP 400\): is a model deployed and in service\?; the image was not stored either, try again\.$/,
        );
    });

    it("retries a throttled or not-ready endpoint with back-off, and answers", async () => {
        const throttled: InjectedResponse = {
            status: 400,
            headers: { "content-type": "application/json", "x-amzn-ErrorType": "ThrottlingException" },
            body: '{"message":"Rate exceeded"}',
        };
        const notReady: InjectedResponse = {
            status: 429,
            headers: { "content-type": "application/json", "x-amzn-ErrorType": "ModelNotReadyException" },
            body: '{"Message":"Model is not ready"}',
        };
        const start = invocations();
        runtime.options = {
            inject: (r) =>
                r.url.includes("/invocations")
                    ? [throttled, notReady, undefined][invocations() - start - 1]
                    : undefined,
        };
        const began = Date.now();
        const { status, answer } = await post(boots);
        assert.equal(status, 200, JSON.stringify(answer));
        assert.equal(invocations() - start, 3);
        assert.ok(Date.now() - began >= 600, "backed off 200 ms, then 400 ms");
        assert.equal(answer.decision!.act, true);
        assert.deepEqual(
            logs.filter((l) => l.includes('"retry"')).map((l) => JSON.parse(l).error),
            ["ThrottlingException", "ModelNotReadyException"],
        );
    });

    it("answers 503 with one sentence and no decision when the endpoint keeps failing past the deadline, or refuses, and keeps the image for labelling", async () => {
        const busy: InjectedResponse = {
            status: 503,
            headers: { "content-type": "application/json", "x-amzn-ErrorType": "ServiceUnavailable" },
            body: '{"message":"busy"}',
        };
        const quick = await freshHandler({ [INFER_ENV.inferenceDeadlineMs.name]: "1500" });
        const keysBefore = await storedKeys();
        runtime.options = { inject: (r) => (r.url.includes("/invocations") ? busy : undefined) };
        const start = invocations();
        const slow = await post(boots, undefined, undefined, quick);
        assert.equal(slow.status, 503);
        assert.deepEqual(Object.keys(slow.answer), ["success", "error"]);
        assert.match(
            slow.answer.error!,
            /^No answer: endpoint bootboots did not answer within 2 s \(\d attempts\); the image was kept for labelling as catcam-training\/\S+\.jpg, try again\.$/,
        );
        assert.ok(invocations() - start >= 3, "retried within the deadline");

        const missing: InjectedResponse = {
            status: 400,
            headers: { "content-type": "application/json", "x-amzn-ErrorType": "ValidationError" },
            body: '{"message":"Endpoint bootboots of account 123456789012 not found."}',
        };
        runtime.options = { inject: (r) => (r.url.includes("/invocations") ? missing : undefined) };
        const before = invocations();
        const refused = await post(boots);
        assert.equal(refused.status, 503);
        assert.match(
            refused.answer.error!,
            /^No answer: endpoint bootboots refused the request \(HTTP 400\): is a model deployed and in service\?; the image was kept/,
        );
        assert.ok(
            !refused.answer.error!.includes("123456789012"),
            "AWS's words, with the account id, go to the log only",
        );
        assert.ok(logs.some((l) => l.includes("Endpoint bootboots of account 123456789012 not found")));
        assert.equal(invocations() - before, 1, "a refusal is not retried");
        // Both images are kept, without a row: no prediction to store.
        const kept = /as (catcam-training\/\S+\.jpg)/;
        assert.deepEqual(
            await storedKeys(),
            [...keysBefore, kept.exec(slow.answer.error!)![1], kept.exec(refused.answer.error!)![1]].sort(),
        );
    });

    it("still answers the decision when storing the image or the event fails after inference, and says and logs what was not stored", async () => {
        const s3Error: InjectedResponse = {
            status: 500,
            body: "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
        };
        const ddbError: InjectedResponse = {
            status: 500,
            headers: { "content-type": "application/x-amz-json-1.0" },
            body: JSON.stringify({
                __type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
                message: "Internal server error",
            }),
        };
        aws.options = {
            inject: (r) => {
                if (r.method === "PUT" && r.url.startsWith(`/${WORLD.imagesBucket}/`)) return s3Error;
                if (String(r.headers["x-amz-target"]).endsWith(".PutItem") && r.body.toString().includes(EVENTS_TABLE))
                    return ddbError;
                return undefined;
            },
        };
        const { status, answer } = await post(boots);
        assert.equal(status, 200);
        assert.equal(answer.decision!.act, true);
        assert.deepEqual([...answer.notStored!].sort(), ["event", "image"]);
        assert.match(
            answer.warnings!.join(" "),
            /Not stored: (image, event|event, image) \(the answer stands; see the function's log\)\./,
        );
        assert.ok(!(await storedKeys()).includes(answer.image.key));
        const line = JSON.parse(logs.find((l) => l.includes(answer.requestId))!);
        assert.deepEqual([...line.notStored].sort(), ["event", "image"]);
        assert.ok(
            line.errors.some((e: string) => /^image: InternalError/.test(e)),
            line.errors.join("; "),
        );
        assert.ok(
            line.errors.some((e: string) => /^event: InternalServerError/.test(e)),
            line.errors.join("; "),
        );
        // The row went in: the image's prediction waits for labelling, though its file is missing.
        assert.ok((await rows()).some((r) => `catcam-training/${r.imageName}` === answer.image.key));
    });

    describe("per visit", () => {
        /** A frame of `camera` received at `timeEpoch`, answered by the handler given. */
        const frameAt = async (body: Buffer, camera: string, timeEpoch: number, handler = infer) => {
            const event = httpApiEvent({
                body,
                headers: { "Content-Type": "image/jpeg", "X-Bootboots-Camera": camera },
                timeEpoch,
            });
            const result = await handler(event);
            return { status: result.statusCode as number, answer: JSON.parse(result.body) as Answer };
        };
        const visitState = async (camera: string) =>
            unmarshall(
                (
                    await dynamodb.send(
                        new GetItemCommand({
                            TableName: VISITS_TABLE,
                            Key: { camera: { S: camera } },
                            ConsistentRead: true,
                        }),
                    )
                ).Item!,
            );

        it("keeps one visit per camera: frames within visitGapMinutes join it, two at once lose neither, a gap starts the next", async () => {
            const start = Date.UTC(2026, 11, 2, 7, 0, 0);
            // The visit's first frame, then four of one camera at once: each write is conditional, so every one is counted.
            const first = await frameAt(boots, "porch", start);
            const together = [
                first,
                ...(await Promise.all([1, 2, 3, 4].map((i) => frameAt(boots, "porch", start + i * 1000)))),
            ];
            for (const { status } of together) assert.equal(status, 200);
            const state = await visitState("porch");
            assert.equal(state.frames, 5);
            assert.equal(state.version, 5);
            assert.equal(state.visit, `porch@${new Date(start).toISOString()}`);
            assert.deepEqual(together.map((f) => f.answer.decision!.visit!.frames).sort(), [1, 2, 3, 4, 5]);
            // Nine minutes later it goes on; eleven minutes after that a new visit starts.
            const goesOn = await frameAt(boots, "porch", start + 9 * 60_000);
            assert.equal(goesOn.answer.decision!.visit!.frames, 6);
            assert.equal(goesOn.answer.decision!.visit!.actedAt, 1);
            const next = await frameAt(boots, "porch", start + 20 * 60_000 + 1);
            assert.deepEqual(next.answer.decision!.visit, {
                id: `porch@${new Date(start + 20 * 60_000 + 1).toISOString()}`,
                frames: 1,
                startedAt: new Date(start + 20 * 60_000 + 1).toISOString(),
                actedAt: 1,
            });
            // Another camera at the same time is its own visit; its state expires a day after the visit could go on.
            await frameAt(boots, "shed", start + 9 * 60_000);
            const shed = await visitState("shed");
            assert.equal(shed.frames, 1);
            assert.equal(shed.expiresAt, Math.floor((start + 9 * 60_000) / 1000) + 600 + 86_400);
        });

        it("judges the frame alone, says so and names the visit in notStored when the visit cannot be recorded", async () => {
            const down: InjectedResponse = {
                status: 500,
                headers: { "content-type": "application/x-amz-json-1.0" },
                body: JSON.stringify({
                    __type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    message: "boom",
                }),
            };
            aws.options = { inject: (r) => (r.body.toString().includes(`"${VISITS_TABLE}"`) ? down : undefined) };
            const { status, answer } = await frameAt(boots, "porch", Date.UTC(2026, 11, 2, 9, 0, 0));
            assert.equal(status, 200);
            assert.equal(answer.decision!.act, true);
            assert.equal(answer.decision!.visit!.frames, 1);
            assert.deepEqual(answer.notStored, ["visit"]);
            assert.ok(
                answer.warnings!.includes(
                    "The visit could not be recorded (see the function's log): this frame was judged alone.",
                ),
            );
            assert.doesNotMatch(JSON.stringify(answer), /boom|InternalServerError/);
        });

        it("acts at the frame the job measured: every test visit replayed in order acts where acted_at.visit says", async () => {
            const fixture = path.join(MODEL_FIXTURE, "output");
            const evaluation = JSON.parse(fs.readFileSync(path.join(fixture, "evaluation.json"), "utf8"));
            const measured = JSON.parse(fs.readFileSync(path.join(fixture, "decision.json"), "utf8"));
            assert.ok(measured.visit_rule, "the fixture model has a visit rule");
            const job = "bootboots-000000000000000000000004";
            await s3.send(
                new PutObjectCommand({
                    Bucket: WORLD.modelBucket,
                    Key: `training-output/${job}/output/decision.json`,
                    Body: JSON.stringify(measured),
                }),
            );
            // The endpoint answers each test frame with the model's own test probabilities, as the job recorded them.
            const answerOf = new Map<string, number[]>();
            const bodyOf = new Map<string, Buffer>();
            for (const [name, className] of Object.entries(evaluation.test.labels as Record<string, string>)) {
                const jpeg = fs.readFileSync(path.join(MODEL_FIXTURE, "test-samples", className, name));
                bodyOf.set(name, jpeg);
                answerOf.set(servingRequestBody(jpeg), evaluation.test.predictions[name]);
            }
            runtime.options = {
                inject: (r) => {
                    const probabilities = answerOf.get(r.body.toString());
                    if (!r.url.includes("/invocations") || !probabilities) return undefined;
                    return {
                        status: 200,
                        headers: { "content-type": "application/json", "x-amzn-invoked-production-variant": job },
                        body: JSON.stringify({ predictions: [probabilities] }),
                    };
                },
            };
            const replayed = await freshHandler();
            const visits = evaluation.test_visits as {
                visit: string;
                frames: string[];
                acted_at: { visit: number | null };
            }[];
            let acted = 0;
            for (const [index, visit] of visits.entries()) {
                // Each visit from a camera of its own, its frames 30 s apart in capture order.
                const start = Date.UTC(2026, 11, 3, 8, 0, 0);
                const acts: boolean[] = [];
                for (const [frame, name] of visit.frames.entries()) {
                    const { answer } = await frameAt(
                        bodyOf.get(name)!,
                        `replay-${index}`,
                        start + frame * 30_000,
                        replayed,
                    );
                    assert.equal(answer.decision!.rule, "visit", JSON.stringify(answer));
                    assert.equal(answer.model!.trainingJobName, job);
                    acts.push(answer.decision!.act);
                }
                const first = acts.indexOf(true);
                assert.equal(first === -1 ? null : first, visit.acted_at.visit, `${visit.visit}: ${acts}`);
                if (first !== -1) acted += 1;
            }
            assert.equal(visits.length, 21);
            assert.ok(acted > 0, "some test visit was acted on");
        });
    });

    it("keeps the endpoint warm on the schedule's event with one small image, and stores nothing", async () => {
        const [keysBefore, before] = [await storedKeys(), invocations()];
        const result = (await infer({ keepWarm: true })) as {
            keepWarm: boolean;
            variantName: string;
            decision: boolean;
        };
        assert.deepEqual(
            { keepWarm: result.keepWarm, variantName: result.variantName, decision: result.decision },
            { keepWarm: true, variantName: JOB_LOW, decision: true },
        );
        assert.equal(invocations() - before, 1);
        assert.ok(runtime.requests[runtime.requests.length - 1].body.length < 1000);
        assert.deepEqual(await storedKeys(), keysBefore);
    });

    describe("bootboots infer and events", () => {
        const credentials = {
            accessKeyId: "testing",
            secretAccessKey: "testing",
            sessionToken: "camera-session-token",
            region: "eu-west-2",
            service: "execute-api",
        };
        let gateway: Awaited<ReturnType<typeof startSigV4Gateway>>;
        let restoreEnv: () => void;
        const cli = async (...args: string[]) => {
            let out = "";
            let err = "";
            const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t) });
            return { code, out, err };
        };

        before(async () => {
            gateway = await startSigV4Gateway((event) => infer(event), credentials);
            restoreEnv = setEnv({
                AWS_SESSION_TOKEN: credentials.sessionToken,
                BOOTBOOTS_CAMERA_API_URL: gateway.url,
                BOOTBOOTS_EVENTS_TABLE: EVENTS_TABLE,
                AWS_ENDPOINT_URL_DYNAMODB: moto.endpoint,
            });
        });

        after(async () => {
            await gateway?.close();
            restoreEnv?.();
        });

        it("infer signs each JPEG for execute-api as the camera does, and prints what the camera reads", async () => {
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "infer-")), "boots.jpg");
            fs.writeFileSync(file, boots);
            const before = gateway.seen.length;
            const run = await cli("infer", file, "--camera", "garden-1");
            assert.equal(run.code, 0, run.err);
            const seen = gateway.seen.slice(before);
            assert.equal(seen.length, 1);
            assert.equal(seen[0].refused, undefined, "the signature holds");
            assert.equal(seen[0].headers["content-type"], "image/jpeg");
            assert.equal(seen[0].headers["x-bootboots-camera"], "garden-1");
            assert.match(
                String(seen[0].headers.authorization),
                /Credential=testing\/\d{8}\/eu-west-2\/execute-api\/aws4_request/,
            );
            assert.match(
                run.out,
                new RegExp(
                    `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: Boots \\d+\\.\\d% \\(index 0\\); Boots → ACT \\(\\d\\.\\d{3} ≥ threshold 0\\.020 of ${JOB_LOW}\\); image catcam-training\\/\\S+\\.jpg\\n$`,
                ),
            );

            const training = JSON.parse((await cli("infer", file, "--training", "--json")).out);
            assert.equal(training[0].answer.mode, "training");
            assert.equal(gateway.seen.at(-1)!.url, "/infer?mode=training");
            assert.equal(gateway.seen.at(-1)!.refused, undefined);
        });

        it("infer says in one sentence what to attach when the signature or the permission is refused, and names a refused image", async () => {
            const restoreSecret = setEnv({ AWS_SECRET_ACCESS_KEY: "not-the-secret" });
            try {
                const run = await cli("infer", sampleFiles(CLASSES)[0].file);
                assert.equal(run.code, 1);
                assert.equal(run.out, "");
                assert.match(
                    run.err,
                    /^error: The camera API refused the request \(403: The request signature we calculated does not match the signature you provided\.\): your credentials need execute-api:Invoke on the route; attach the stack output cameraInvokePolicyArn to your user or role\.\n$/,
                );
            } finally {
                restoreSecret();
            }
            const text = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "infer-")), "notes.jpg");
            fs.writeFileSync(text, "not a picture");
            const mixed = await cli("infer", text, sampleFiles(CLASSES)[0].file);
            assert.equal(mixed.code, 3);
            assert.match(
                mixed.err,
                /error: \S+notes\.jpg: The body is not a JPEG \(it lacks the FF D8 start or a frame header\): send the camera's JPEG as it was taken\. \(400\)/,
            );
            assert.match(mixed.err, /1 of 2 images got no answer\./);
        });

        it("events lists the decisions that acted, newest first, within --since and --limit", async () => {
            const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "infer-")), "boots.jpg");
            fs.writeFileSync(file, boots);
            const sent = JSON.parse((await cli("infer", file, file, "--camera", "porch", "--json")).out) as {
                answer: CameraAnswer;
            }[];
            const keys = sent.map((s) => s.answer.image.key);
            const listed = JSON.parse((await cli("events", "--since", "1h", "--limit", "2", "--json")).out) as {
                imageKey: string;
                camera: string;
                at: string;
            }[];
            assert.deepEqual(
                listed.map((e) => e.imageKey),
                [...keys].reverse(),
                "the two just sent, newest first",
            );
            assert.ok(listed.every((e) => e.camera === "porch"));
            const table = await cli("events", "--since", "1h", "--limit", "1");
            assert.equal(table.code, 0, table.err);
            assert.match(table.out, /^time \(UTC\)\s+camera\s+class\s+probability\s+threshold\s+model\s+image$/m);
            assert.match(
                table.out,
                new RegExp(
                    `porch\\s+Boots\\s+\\d\\.\\d{3}\\s+0\\.020\\s+${JOB_LOW}\\s+${keys[1].replace(/\./g, "\\.")}`,
                ),
            );
            assert.match(table.out, /^1 event since .* \(--limit 1; more exist\)\.$/m);
            const bad = await cli("events", "--since", "last tuesday");
            assert.equal(bad.code, 2);
            assert.match(
                bad.err,
                /^error: --since "last tuesday" is neither a duration \(7d, 24h, 30m\) nor a date \(2026-12-01\)\.\n$/,
            );
        });
    });
});
