// npm run bench:import: `bootboots import` of 1,000 generated photos (about 40 KB each, with
// EXIF capture times) into moto, 20 ms added to every request as a network would: at the
// command's default concurrency, then one photo at a time. Prints photos per second of each,
// the ratio, and how far the live heap rose during each run (it streams: the rise should not
// follow the number of photos; BENCH_PHOTOS=250 or 4000 shows it). Not a timed test.
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../cli/main";
import { TEST_ENV, clientConfig, startMoto } from "../tests/support/moto";
import { startProxy } from "../tests/support/proxy";
import { jpegWithExif } from "../tests/support/seed";

const PHOTOS = Number(process.env.BENCH_PHOTOS ?? 1000);
const ADDED_LATENCY_MS = 20;
const BUCKET = "bench-import-images";

/** A folder of photos, each with its own capture time and about 40 KB of content. */
function writePhotos(folder: string): void {
    fs.mkdirSync(folder, { recursive: true });
    for (let i = 0; i < PHOTOS; i++) {
        const at = new Date(Date.UTC(2026, 5, 1) + i * 30_000);
        const exif = at.toISOString().slice(0, 19).replace(/-/g, ":").replace("T", " ");
        const photo = jpegWithExif(`photo-${i}`, exif, "+00:00");
        // A comment segment of noise makes it photo-sized; the end marker stays last.
        const noise = randomBytes(40_000);
        const segment = Buffer.concat([
            Buffer.from([0xff, 0xfe, (noise.length + 2) >> 8, (noise.length + 2) & 0xff]),
            noise.subarray(0, 65_533),
        ]);
        fs.writeFileSync(
            path.join(folder, `IMG_${String(i).padStart(4, "0")}.jpg`),
            Buffer.concat([photo.subarray(0, 2), segment, photo.subarray(2)]),
        );
    }
}

/** The live heap after a full collection (node --expose-gc), in bytes. */
function liveHeap(): number {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().heapUsed;
}

/**
 * Runs the command, sampling the live heap every 200 ms after a full collection: returns the
 * seconds it took and how far the live heap rose above where it started, in MB.
 */
async function timed(args: string[], forget: () => void): Promise<{ seconds: number; growthMb: number }> {
    forget();
    const base = liveHeap();
    let peak = base;
    // The proxy's record of requests (bodies included) is the bench's, not the command's: dropped before each sample.
    const sampler = setInterval(() => {
        forget();
        peak = Math.max(peak, liveHeap());
    }, 200);
    const started = Date.now();
    const code = await runCli(args, { out: () => undefined, err: () => undefined });
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    if (code !== 0) throw new Error(`bootboots ${args.join(" ")} exited ${code}`);
    return { seconds, growthMb: (peak - base) / 1e6 };
}

async function main(): Promise<void> {
    Object.assign(process.env, TEST_ENV);
    const moto = await startMoto();
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "bench-import-"));
    try {
        writePhotos(folder);
        await new S3Client(clientConfig(moto.endpoint)).send(new CreateBucketCommand({ Bucket: BUCKET }));
        const proxy = await startProxy(moto.endpoint);
        proxy.options = { latencyMs: ADDED_LATENCY_MS };
        process.env.AWS_ENDPOINT_URL = proxy.endpoint;
        const names = ["--images-bucket", BUCKET, "--catadata-table", "catadata"];
        const forget = () => (proxy.requests.length = 0);
        const concurrent = await timed(["import", folder, ...names, "--images-prefix", "concurrent/"], forget);
        const sequential = await timed(
            ["import", folder, ...names, "--images-prefix", "sequential/", "--concurrency", "1"],
            forget,
        );
        const rate = (r: { seconds: number }) => PHOTOS / r.seconds;
        console.log(
            `bootboots import, ${PHOTOS} photos of ${(fs.statSync(path.join(folder, "IMG_0000.jpg")).size / 1000).toFixed(0)} KB, ${ADDED_LATENCY_MS} ms added per request: ` +
                `${rate(concurrent).toFixed(0)} photos/s at the default concurrency (live heap +${concurrent.growthMb.toFixed(0)} MB), ` +
                `${rate(sequential).toFixed(0)} photos/s one at a time (live heap +${sequential.growthMb.toFixed(0)} MB): ` +
                `${(rate(concurrent) / rate(sequential)).toFixed(1)}× the sequential rate`,
        );
        await proxy.close();
    } finally {
        fs.rmSync(folder, { recursive: true, force: true });
        await moto.stop();
    }
}

main().then(
    () => process.exit(0),
    (error) => {
        console.error(error);
        process.exit(1);
    },
);
