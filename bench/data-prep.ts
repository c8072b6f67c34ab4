// npm run bench:data-prep: the seed-scale data set in moto, data prep run three times in one
// process: 50 ms added to every request at the chosen concurrency, no added latency, and 50 ms
// sequentially. Not a timed test: it prints figures for the README.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import * as os from "os";
import { prepareDataset } from "../handlers/dataPrep/prepareDataset";
import { DEFAULT_COPY_CONCURRENCY } from "../lib/functionSettings";
import { DataPrepSuccess, SPLIT_DEFAULTS } from "../lib/dataset";
import { TEST_ENV, clientConfig, startMoto } from "../tests/support/moto";
import { startProxy } from "../tests/support/proxy";
import { IMAGES_PREFIX, createWorld, putLabels, seedLabels } from "../tests/support/seed";

const ADDED_LATENCY_MS = 50;
const world = { imagesBucket: "bench-images", trainingBucket: "bench-training", table: "catadata" };

async function main(): Promise<void> {
    Object.assign(process.env, TEST_ENV);
    const moto = await startMoto();
    try {
        const direct = {
            s3: new S3Client(clientConfig(moto.endpoint)),
            dynamodb: new DynamoDBClient(clientConfig(moto.endpoint)),
        };
        await createWorld(direct.s3, direct.dynamodb, world);
        await putLabels(direct.s3, direct.dynamodb, world, seedLabels());
        const proxy = await startProxy(moto.endpoint);

        const run = async (latencyMs: number, concurrency: number) => {
            proxy.options = { latencyMs };
            const first = proxy.requests.length;
            const clients = {
                s3: new S3Client(clientConfig(proxy.endpoint)),
                dynamodb: new DynamoDBClient(clientConfig(proxy.endpoint)),
            };
            const started = Date.now();
            const result = (await prepareDataset(
                clients,
                {
                    tableName: world.table,
                    imagesBucket: world.imagesBucket,
                    imagesPrefix: IMAGES_PREFIX,
                    trainingBucket: world.trainingBucket,
                    classes: ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"],
                    noCatClass: "NoCat",
                    split: SPLIT_DEFAULTS,
                    copyConcurrency: concurrency,
                },
                {},
            )) as DataPrepSuccess;
            if (!result.success) throw new Error(JSON.stringify(result));
            const seconds = (Date.now() - started) / 1000;
            const s3Requests = proxy.requests.slice(first).filter((r) => !r.headers["x-amz-target"]);
            // Every copy: the training, validation and held-out test images alike.
            const copies = result.trainingImages + result.validationImages + result.testImages;
            // The requests of the copies themselves: an image's GET and its copy's PUT (not the manifest, the listing, latest.json).
            const copyRequests = s3Requests.filter(
                (r) =>
                    (r.method === "GET" && r.url.startsWith(`/${world.imagesBucket}/`)) ||
                    (r.method === "PUT" && /\/datasets\/[^/]+\/(training|validation|test)\//.test(r.url)),
            ).length;
            console.log(
                `latency ${latencyMs} ms, concurrency ${concurrency}: ${copies} copies in ${seconds.toFixed(1)} s, ${s3Requests.length} S3 requests (${copyRequests} for the copies)`,
            );
            return { seconds, copies, perCopy: copyRequests / copies };
        };

        const hidden = await run(ADDED_LATENCY_MS, DEFAULT_COPY_CONCURRENCY);
        const floor = await run(0, DEFAULT_COPY_CONCURRENCY);
        const sequential = await run(ADDED_LATENCY_MS, 1);
        await proxy.close();
        console.log(
            `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "unknown CPU"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
        );
        console.log(
            `data-prep: ${hidden.copies} copies, ${hidden.seconds.toFixed(1)} s at ${ADDED_LATENCY_MS} ms (concurrency ${DEFAULT_COPY_CONCURRENCY}), ` +
                `${floor.seconds.toFixed(1)} s with no added latency, ${sequential.seconds.toFixed(1)} s sequential, ` +
                `${(sequential.seconds / hidden.seconds).toFixed(1)}x faster than sequential, ${hidden.perCopy.toFixed(2)} S3 requests per copied image`,
        );
    } finally {
        await moto.stop();
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
