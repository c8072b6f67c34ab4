// npm run bench:infer: the camera API's deployed __index.js against moto and the TF Serving
// stand-in (the model the pytest suite exports), one request at a time. It prints the
// handler's own time without the endpoint's (p50/p95), the visit state read and written
// included (frames of one camera 30 s apart, a new visit every 10 frames), and the bytes sent
// to the endpoint per JPEG byte. Not a timed test: it prints figures for docs/development figures and the README.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import * as fs from "fs";
import { CameraAnswer } from "../lib/cameraApi";
import { jobModelUrl } from "../lib/serving";
import { loadDeployedHandler } from "../tests/support/deployedLambda";
import { sampleFiles, startEndpointStandIn } from "../tests/support/endpointStandIn";
import { httpApiEvent } from "../tests/support/httpApiEvent";
import { clientConfig, sharedMoto } from "../tests/support/moto";
import { startProxy } from "../tests/support/proxy";
import { runStack } from "../tests/support/pulumiMocks";
import { WORLD, createEventsTable, createVisitsTable, seedWorld } from "../tests/support/seed";

const JOB = "bootboots-bench00000000000000000000";
const REQUESTS = 200;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function main(): Promise<void> {
    const moto = await sharedMoto();
    const direct = await seedWorld(moto.endpoint, [], clientConfig);
    await createEventsTable(direct.dynamodb, "bootboots-events");
    await createVisitsTable(direct.dynamodb);
    const decision = {
        target_class: "Boots",
        threshold: 0.5,
        max_false_alarm_rate: 0.01,
        visit_rule: { kind: "window_mean", frames: 2, threshold: 0.5 },
    };
    await direct.s3.send(
        new PutObjectCommand({
            Bucket: WORLD.modelBucket,
            Key: `training-output/${JOB}/output/decision.json`,
            Body: JSON.stringify(decision),
        }),
    );
    const standIn = await startEndpointStandIn("bootboots", JOB);
    const runtime = await startProxy(standIn.endpoint);
    try {
        const stack = await runStack({ modelDataUrl: jobModelUrl(WORLD.modelBucket, JOB) });
        const infer = await loadDeployedHandler(stack.one("aws:lambda/function:Function", "camera-infer"), {
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: runtime.endpoint,
        });
        const files = sampleFiles(["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"]).map((s) =>
            fs.readFileSync(s.file),
        );
        const own: number[] = [];
        const start = Date.UTC(2026, 11, 1, 6);
        let jpegBytes = 0;
        const sentBefore = runtime.requests.length;
        const log = console.log;
        console.log = () => undefined;
        for (let i = 0; i < REQUESTS; i++) {
            const jpeg = files[i % files.length];
            // Ten frames 30 s apart make a visit; the next starts an hour later.
            const timeEpoch = start + Math.floor(i / 10) * 3_600_000 + (i % 10) * 30_000;
            const result = await infer(
                httpApiEvent({
                    body: jpeg,
                    headers: { "content-type": "image/jpeg", "x-bootboots-camera": "bench" },
                    timeEpoch,
                }),
            );
            const answer = JSON.parse(result.body) as CameraAnswer;
            if (result.statusCode !== 200) throw new Error(result.body);
            if (answer.decision?.visit?.frames !== (i % 10) + 1) throw new Error(`visit not kept: ${result.body}`);
            // The first request reads the decision; the rest are the steady state.
            if (i > 0) own.push(answer.timings!.totalMs - answer.timings!.endpointMs);
            jpegBytes += jpeg.length;
        }
        console.log = log;
        const sentBytes = runtime.requests.slice(sentBefore).reduce((sum, r) => sum + r.body.length, 0);
        own.sort((a, b) => a - b);
        console.log(
            `camera API handler with its visit state, ${REQUESTS} requests of ${(jpegBytes / REQUESTS / 1000).toFixed(1)} KB JPEGs: own time p50 ${quantile(own, 0.5)} ms, ` +
                `p95 ${quantile(own, 0.95)} ms (endpoint excluded); ${(sentBytes / jpegBytes).toFixed(3)} bytes sent to the endpoint per JPEG byte`,
        );
    } finally {
        standIn.stop();
        await runtime.close();
    }
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    },
);
