import { decisionSources } from "../../lib/jobFiles";
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gzipSync } from "zlib";
import {
    endpointBackoffMs,
    cameraDecision,
    cameraName,
    catadataRow,
    eventRow,
    isRetryableEndpointError,
    parseCameraRequest,
    readClasses,
} from "../../handlers/infer/cameraRules";
import { CameraDecision, cameraImageFileName, keepWarmSchedule } from "../../lib/cameraApi";
import { nextVisitState, windowMean } from "../../lib/visits";
import { Decision } from "../../lib/jobOutput";
import { maxJpegBytes, modelOfVariant, readPredictions, servingRequestBody, variantNameFor } from "../../lib/serving";
import { hasFrameHeader, repairJpeg } from "../../lib/jpeg";
import { readTarGzEntries } from "../../lib/tarball";

/** SOI, a baseline frame header (SOF0: 16×16, three components) and EOI: the least a decoder can size. */
const FRAME = [
    0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
];
const JPEG = Buffer.from([0xff, 0xd8, ...FRAME, 0xff, 0xd9]);
const CLASSES = ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"];
const BUCKET = "bootboots-models-123456789012";

function event(
    body: Buffer | string | undefined,
    headers: Record<string, string> = { "content-type": "image/jpeg" },
    query?: Record<string, string>,
) {
    return {
        version: "2.0",
        headers,
        ...(query ? { queryStringParameters: query } : {}),
        ...(body === undefined
            ? {}
            : typeof body === "string"
              ? { body, isBase64Encoded: false }
              : { body: body.toString("base64"), isBase64Encoded: true }),
    };
}

describe("the camera API's rules", () => {
    describe("parseCameraRequest", () => {
        const max = maxJpegBytes();

        it("takes a base64 JPEG body, the camera's name and the training mode", () => {
            assert.deepEqual(
                parseCameraRequest(
                    event(JPEG, { "content-type": "image/jpeg", "x-bootboots-camera": "garden-1.cam_A" }),
                    max,
                ),
                {
                    jpeg: JPEG,
                    mode: "inference",
                    camera: "garden-1.cam_A",
                },
            );
            assert.equal(
                (
                    parseCameraRequest(
                        event(JPEG, { "content-type": "image/jpeg; charset=binary" }, { mode: "training" }),
                        max,
                    ) as { mode: string }
                ).mode,
                "training",
            );
        });

        it("refuses, each with a status and one sentence: no body, not a JPEG, too large, a bad camera name or mode", () => {
            const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
            const cases: [ReturnType<typeof event>, number, RegExp][] = [
                [event(undefined), 400, /^The request has no body: send the camera's JPEG as the body\.$/],
                [event(Buffer.alloc(0)), 400, /no body/],
                [event(png), 400, /^The body is not a JPEG \(it lacks the FF D8 start or a frame header\)/],
                [event(Buffer.from("<html><script>alert(1)</script></html>")), 400, /not a JPEG/],
                // A start and an APP0 segment, then the end: bytes that only look like a JPEG.
                [event(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, 0xff, 0xd9])), 400, /frame header/],
                [{ ...event(JPEG), body: "/9j/!!!!" }, 400, /^The request body is not valid base64/],
                [
                    event("hello", { "content-type": "text/plain" }),
                    415,
                    /^The body must be a JPEG sent as Content-Type image\/jpeg, not "text\/plain"\.$/,
                ],
                [event(JPEG, {}), 415, /not "none"/],
                [
                    event(Buffer.concat([JPEG, Buffer.alloc(max)])),
                    413,
                    /^The JPEG is 3\.00 MB, over the 3\.00 MB the endpoint accepts once encoded/,
                ],
                [
                    event(JPEG, { "content-type": "image/jpeg", "x-bootboots-camera": "../etc/passwd" }),
                    400,
                    /x-bootboots-camera header must be 1-64/,
                ],
                [
                    event(JPEG, { "content-type": "image/jpeg", "x-bootboots-camera": "a".repeat(65) }),
                    400,
                    /x-bootboots-camera/,
                ],
                [event(JPEG, undefined, { mode: "debug" }), 400, /^Unknown mode "debug"/],
            ];
            for (const [e, status, message] of cases) {
                const refused = parseCameraRequest(e, max) as { status: number; error: string };
                assert.equal(refused.status, status, JSON.stringify(refused));
                assert.match(refused.error, message);
                assert.equal(refused.error.split(". ").length <= 2, true, refused.error);
            }
        });

        it("accepts a JPEG of exactly the largest size whose request fits under the endpoint's limit, and refuses one byte more", () => {
            const largest = Buffer.concat([JPEG.subarray(0, -2), Buffer.alloc(max - JPEG.length), JPEG.subarray(-2)]);
            assert.ok(servingRequestBody(largest).length < 4_000_000);
            assert.ok(!("error" in parseCameraRequest(event(largest), max)));
            assert.equal(
                (parseCameraRequest(event(Buffer.concat([largest, Buffer.alloc(3)])), max) as { status: number })
                    .status,
                413,
            );
            assert.ok(servingRequestBody(Buffer.alloc(max + 3)).length >= 4_000_000);
        });
    });

    it("tells a JPEG with a frame header from bytes that only start like one, and repairs a missing end marker", () => {
        assert.equal(hasFrameHeader(JPEG), true);
        // Fill bytes before a marker, and a restart marker, are walked over.
        assert.equal(hasFrameHeader(Buffer.from([0xff, 0xd8, 0xff, 0xff, ...FRAME])), true);
        assert.equal(hasFrameHeader(Buffer.from([0xff, 0xd8, 0xff, 0xd0, ...FRAME])), true);
        // A scan before any frame header, a segment whose length runs past the end, a frame header cut off.
        assert.equal(hasFrameHeader(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, ...FRAME])), false);
        assert.equal(hasFrameHeader(Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, ...FRAME])), false);
        assert.equal(hasFrameHeader(Buffer.from([0xff, 0xd8, ...FRAME.slice(0, 8)])), false);
        assert.equal(hasFrameHeader(Buffer.from([0xff, 0xd8])), false);
        const cut = JPEG.subarray(0, -2);
        assert.deepEqual(repairJpeg(cut), { jpeg: JPEG, repaired: true });
        assert.deepEqual(repairJpeg(JPEG), { jpeg: JPEG, repaired: false });
        const request = parseCameraRequest(event(cut), maxJpegBytes()) as { jpeg: Buffer };
        assert.deepEqual(request.jpeg, JPEG, "the camera's cut-off JPEG is stored repaired");
    });

    it("reads the classes in the firmware's shape, and the top three", () => {
        const { mostLikelyCat, predictions, top3 } = readClasses([0.05, 0.6, 0.1, 0.05, 0.1, 0.05, 0.05], CLASSES);
        assert.deepEqual(mostLikelyCat, { name: "Chi", confidence: 0.6, index: 1 });
        assert.equal(predictions.Chi, 0.6);
        assert.deepEqual(
            top3.map((t) => t.className),
            ["Chi", "Kappa", "NoCat"],
        );
    });

    it("acts per frame at or above a model's threshold when it has no visit rule, and decides nothing without one", () => {
        const decision = { target_class: "Boots", threshold: 0.9, max_false_alarm_rate: 0.01 } as Decision;
        assert.deepEqual(cameraDecision(decision, { Boots: 0.9 }), {
            targetClass: "Boots",
            probability: 0.9,
            rule: "frame",
            score: 0.9,
            threshold: 0.9,
            act: true,
            frameThreshold: 0.9,
            maxFalseAlarmRate: 0.01,
        });
        assert.equal(cameraDecision(decision, { Boots: 0.8999 })!.act, false);
        assert.equal(cameraDecision(undefined, { Boots: 1 }), undefined);
    });

    it("acts per visit: the mean over the visit's last frames reaches the visit rule's threshold", () => {
        const decision = {
            target_class: "Boots",
            threshold: 0.9,
            max_false_alarm_rate: 0.01,
            visit_rule: { kind: "window_mean", frames: 2, threshold: 0.7 },
        } as Decision;
        const gap = 10;
        const at = (seconds: number) => new Date(Date.UTC(2026, 11, 1, 6, 0, seconds));
        // A weak first frame as Boots walks in, then two clear ones.
        let state = nextVisitState(undefined, { camera: "garden", at: at(0), score: 0.5 }, gap);
        const first = cameraDecision(decision, { Boots: 0.5 }, state)!;
        assert.deepEqual([first.rule, first.score, first.act, first.window], ["visit", 0.5, false, 2]);
        state = nextVisitState(state, { camera: "garden", at: at(30), score: 0.85 }, gap);
        const second = cameraDecision(decision, { Boots: 0.85 }, state)!;
        assert.equal(second.score, 0.675);
        assert.equal(second.act, false, "0.85 alone would pass the per-frame 0.9 no more than the visit's 0.7");
        state = nextVisitState(state, { camera: "garden", at: at(60), score: 0.8 }, gap);
        const third = cameraDecision(decision, { Boots: 0.8 }, state)!;
        assert.deepEqual([third.score, third.act, third.threshold, third.frameThreshold], [0.825, true, 0.7, 0.9]);
        assert.deepEqual(third.visit, {
            id: "garden@2026-12-01T06:00:00.000Z",
            frames: 3,
            startedAt: at(0).toISOString(),
        });
        // Eleven minutes later the next frame starts a new visit.
        state = nextVisitState(state, { camera: "garden", at: at(60 + 11 * 60), score: 0.8 }, gap);
        assert.deepEqual([state.visit, state.frames, state.scores], ["garden@2026-12-01T06:12:00.000Z", 1, [0.8]]);
        assert.equal(state.version, 4);
        assert.equal(windowMean([0.1, 0.2, 0.9], 3), (0 + 0.1 + 0.2 + 0.9) / 3);
    });

    it("names the camera by its header, else by the session of the role that signed, else the default", () => {
        const signedBy = (userArn: string) => ({ requestContext: { authorizer: { iam: { userArn } } } });
        const roleArn = "arn:aws:sts::123456789012:assumed-role/bootboots-camera/porch-cam";
        assert.equal(cameraName({ camera: "garden" }, signedBy(roleArn)), "garden");
        assert.equal(cameraName({}, signedBy(roleArn)), "porch-cam");
        assert.equal(cameraName({}, signedBy("arn:aws:sts::123456789012:assumed-role/r/thing@home")), "thing-home");
        assert.equal(cameraName({}, signedBy("arn:aws:iam::123456789012:user/alice")), "default");
        assert.equal(cameraName({}, {}), "default");
    });

    it("reads the endpoint's answer, or says why it cannot", () => {
        assert.deepEqual(readPredictions(JSON.stringify({ predictions: [[0.5, 0.5]] }), ["A", "B"]), {
            probabilities: [0.5, 0.5],
        });
        assert.deepEqual(readPredictions(JSON.stringify({ predictions: [[1]] }), ["A", "B"]), {
            error: "the endpoint answered 1 probabilities for 2 classes (A, B)",
        });
        assert.deepEqual(readPredictions("<html>", ["A"]), { error: "the endpoint's answer is not JSON" });
    });

    it("retries throttling, a cold or busy endpoint and time-outs, never a refused request, backing off up to 2 s", () => {
        for (const name of ["ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "TimeoutError"])
            assert.ok(isRetryableEndpointError({ name }), name);
        assert.ok(isRetryableEndpointError({ name: "Unknown", $metadata: { httpStatusCode: 429 } }));
        assert.ok(isRetryableEndpointError({ name: "Unknown", $metadata: { httpStatusCode: 502 } }));
        for (const name of ["ValidationError", "ModelError", "AccessDeniedException"])
            assert.ok(!isRetryableEndpointError({ name, $metadata: { httpStatusCode: 400 } }), name);
        assert.deepEqual([1, 2, 3, 4, 5, 6].map(endpointBackoffMs), [200, 400, 800, 1600, 2000, 2000]);
    });

    it("names images by UTC capture time and a short id, so they sort by time", () => {
        const at = new Date("2026-12-01T06:15:00.123Z");
        assert.equal(cameraImageFileName(at, "ab12"), "2026-12-01T06-15-00.123Z-ab12.jpg");
        const later = cameraImageFileName(new Date("2026-12-01T06:15:00.124Z"), "0000");
        assert.ok(cameraImageFileName(at, "ffff") < later);
    });

    it("writes a row without cat (the backlog) and an event that expires after the retention", () => {
        const at = new Date("2026-12-01T06:15:00.123Z");
        const row = catadataRow({
            imageName: "x.jpg",
            createdAt: at.toISOString(),
            camera: "garden",
            top3: [{ className: "Boots", probability: 0.9 }],
            modelDataUrl: "s3://b/m.tar.gz",
        });
        assert.deepEqual(row, {
            imageName: "x.jpg",
            createdAt: at.toISOString(),
            source: "camera",
            camera: "garden",
            top3: [{ className: "Boots", probability: 0.9 }],
            modelDataUrl: "s3://b/m.tar.gz",
        });
        assert.equal("cat" in row, false);
        const decision: CameraDecision = {
            targetClass: "Boots",
            probability: 0.95,
            rule: "visit",
            score: 0.92,
            threshold: 0.9,
            act: true,
            window: 2,
            frameThreshold: 0.97,
            maxFalseAlarmRate: 0.01,
            visit: { id: "garden@2026-12-01T06:14:30.000Z", frames: 2, startedAt: "2026-12-01T06:14:30.000Z" },
        };
        const e = eventRow({
            fileName: "2026-12-01T06-15-00.123Z-ab12.jpg",
            at,
            imageKey: "catcam-training/2026-12-01T06-15-00.123Z-ab12.jpg",
            decision,
            retentionDays: 365,
        });
        assert.equal(e.day, "2026-12-01");
        assert.equal(e.eventId, "2026-12-01T06-15-00.123Z-ab12");
        assert.equal(e.expiresAt, Math.floor(at.getTime() / 1000) + 365 * 86400);
        assert.equal(e.camera, undefined);
        assert.deepEqual(
            [e.rule, e.score, e.visit, e.visitFrame],
            ["visit", 0.92, "garden@2026-12-01T06:14:30.000Z", 2],
        );
    });

    it("names a model's variant after its job in the stack's bucket, else a hash; and finds the model again from the name", () => {
        const job = "bootboots-0123456789abcdef01234567";
        const url = `s3://${BUCKET}/training-output/${job}/output/model.tar.gz`;
        assert.equal(variantNameFor(url, BUCKET), job);
        const tunerJob = "bootboots-0123456789abcdef012345-003-1a2b3c4d";
        assert.equal(
            variantNameFor(`s3://${BUCKET}/training-output/${tunerJob}/output/model.tar.gz`, BUCKET),
            tunerJob,
        );
        const elsewhere = `s3://other/training-output/${job}/output/model.tar.gz`;
        assert.match(variantNameFor(elsewhere, BUCKET), /^model-[0-9a-f]{16}$/);
        assert.notEqual(variantNameFor(elsewhere, BUCKET), variantNameFor("s3://other/x/model.tar.gz", BUCKET));

        const configured = { modelDataUrl: elsewhere, modelBucket: BUCKET };
        assert.deepEqual(modelOfVariant(variantNameFor(elsewhere, BUCKET), configured), {
            modelDataUrl: elsewhere,
            trainingJobName: undefined,
        });
        assert.deepEqual(modelOfVariant("bootboots-old", configured), {
            modelDataUrl: `s3://${BUCKET}/training-output/bootboots-old/output/model.tar.gz`,
            trainingJobName: "bootboots-old",
        });
        assert.equal(modelOfVariant("model-0000000000000000", configured), undefined);
        assert.equal(
            modelOfVariant("AllTraffic", { modelDataUrl: url, modelBucket: BUCKET })?.trainingJobName,
            "AllTraffic",
        );
        assert.deepEqual(decisionSources(url), {
            bucket: BUCKET,
            plainKey: `training-output/${job}/output/decision.json`,
            outputArchiveKey: `training-output/${job}/output/output.tar.gz`,
            modelKey: `training-output/${job}/output/model.tar.gz`,
        });
    });

    it("schedules keep-warm in EventBridge's rate syntax", () => {
        assert.equal(keepWarmSchedule(1), "rate(1 minute)");
        assert.equal(keepWarmSchedule(10), "rate(10 minutes)");
    });

    it("reads named files from a .tar.gz in the gnu, pax and ustar formats, long names included", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tarball-"));
        const longName = `${"d".repeat(120)}.json`;
        fs.writeFileSync(path.join(dir, "decision.json"), '{"threshold":0.7}');
        fs.writeFileSync(path.join(dir, "evaluation.json"), "{}");
        fs.writeFileSync(path.join(dir, longName), "long");
        for (const format of ["gnu", "pax", "ustar"]) {
            const archive = path.join(dir, `${format}.tar`);
            const names =
                format === "ustar"
                    ? ["./decision.json", "./evaluation.json"]
                    : ["./decision.json", "./evaluation.json", longName];
            execFileSync("tar", ["-cf", archive, `--format=${format}`, "-C", dir, ...names]);
            const found = readTarGzEntries(gzipSync(fs.readFileSync(archive)), [
                "decision.json",
                longName,
                "missing.json",
            ]);
            assert.equal(found.get("decision.json")?.toString(), '{"threshold":0.7}', format);
            if (format !== "ustar") assert.equal(found.get(longName)?.toString(), "long", format);
            assert.equal(found.has("missing.json"), false);
        }
    });
});
