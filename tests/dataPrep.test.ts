import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { DataPrepSettings, prepareDataset } from "../handlers/dataPrep/prepareDataset";
import { planSplit } from "../handlers/dataPrep/split";
import { DataPrepSuccess, DatasetManifest, SPLIT_DEFAULTS } from "../lib/dataset";
import { Moto, clientConfig, sharedMoto } from "./support/moto";
import { Proxy, SLOW_DOWN, startProxy } from "./support/proxy";
import { IMAGES_PREFIX, SEED_COUNTS, createWorld, putLabels, seedLabels, sourceKey, tinyJpeg } from "./support/seed";

const CLASSES = ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"];
const world = {
    imagesBucket: "bootboots-images-123456789012-eu-west-2",
    trainingBucket: "bootboots-training-data-123456789012",
    table: "catadata",
};

function settings(overrides: Partial<DataPrepSettings> = {}): DataPrepSettings {
    return {
        tableName: world.table,
        imagesBucket: world.imagesBucket,
        imagesPrefix: IMAGES_PREFIX,
        trainingBucket: world.trainingBucket,
        classes: CLASSES,
        noCatClass: "NoCat",
        split: SPLIT_DEFAULTS,
        copyConcurrency: 32,
        scanPageSize: 500,
        ...overrides,
    };
}

function clients(endpoint: string) {
    return { s3: new S3Client(clientConfig(endpoint)), dynamodb: new DynamoDBClient(clientConfig(endpoint)) };
}

async function listKeys(s3: S3Client, bucket: string, prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
        const page = await s3.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
    } while (token);
    return keys;
}

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
}

async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
    return JSON.parse((await getBytes(s3, bucket, key)).toString("utf8")) as T;
}

function succeeded(result: unknown): DataPrepSuccess {
    assert.equal((result as { success: boolean }).success, true, JSON.stringify(result).slice(0, 500));
    return result as DataPrepSuccess;
}

/** Labels that must be skipped or repaired, each with the reason a user should see. */
const BACKLOG = [
    "2026-12-01T06-15-00.123Z-ab12.jpg",
    "2026-12-01T06-15-30.456Z-cd34.jpg",
    "2026-12-01T07-00-00.000Z-ef56.jpg",
];
const ANOMALIES = [
    {
        imageName: "truncated-boots.jpg",
        cat: "Boots",
        body: tinyJpeg("truncated", { truncated: true }),
        expect: "repaired",
    },
    {
        imageName: "not-a-jpeg.jpg",
        cat: "Chi",
        body: Buffer.from("\x89PNG\r\n\x1a\n not a jpeg"),
        expect: /not a JPEG/,
    },
    { imageName: "missing-image.jpg", cat: "Tau", body: null, expect: /missing object/ },
    { imageName: "unknown-class.jpg", cat: "Garfield", body: tinyJpeg("garfield"), expect: /unknown class "Garfield"/ },
    { imageName: "two-cats.jpg", cat: "Boots, Chi", body: tinyJpeg("two"), expect: /multi-label/ },
    { imageName: "conflict.jpg", cat: "Mu", body: tinyJpeg("conflict"), expect: /conflicting labels: Mu, Wolf/ },
    {
        imageName: `${IMAGES_PREFIX}conflict.jpg`,
        cat: "Wolf",
        body: tinyJpeg("conflict"),
        expect: /conflicting labels/,
    },
    { imageName: "photo.png", cat: "Kappa", body: tinyJpeg("png-name"), expect: /not a \.jpg or \.jpeg name/ },
    { imageName: "with space + plus %25 ünïcødé.jpg", cat: "Kappa", body: tinyJpeg("odd-name"), expect: "copied" },
] as const;

describe("data-prep handler", function () {
    this.timeout(300_000);
    let proxy: Proxy;
    let first: DataPrepSuccess;
    let manifest: DatasetManifest;
    const requestsBefore = { count: 0 };

    let moto: Moto;

    before(async () => {
        moto = await sharedMoto();
        await moto.reset();
        const direct = clients(moto.endpoint);
        await createWorld(direct.s3, direct.dynamodb, world);
        await putLabels(direct.s3, direct.dynamodb, world, seedLabels());
        await putLabels(direct.s3, direct.dynamodb, world, ANOMALIES);
        // The labelling backlog: rows the camera API writes, without cat.
        for (const imageName of BACKLOG) {
            await direct.dynamodb.send(
                new PutItemCommand({
                    TableName: world.table,
                    Item: { imageName: { S: imageName }, source: { S: "camera" } },
                }),
            );
        }
        proxy = await startProxy(moto.endpoint);
        requestsBefore.count = proxy.requests.length;
        first = succeeded(await prepareDataset(clients(proxy.endpoint), settings(), {}));
        manifest = await getJson(direct.s3, world.trainingBucket, `datasets/${first.datasetId}/manifest.json`);
    });

    after(() => proxy.close());

    it("counts every class of the seed, cuts NoCat to 200 and splits each class about 70/20/10", () => {
        // Labelled images per class, and those whose object turned out unusable.
        const labelled: Record<string, number> = { ...SEED_COUNTS, Boots: 191, Chi: 197, Kappa: 236, Tau: 256 };
        const unusable: Record<string, number> = { Chi: 1, Tau: 1 };
        for (const className of CLASSES) {
            const counts = first.classDistribution[className];
            assert.equal(counts.available, labelled[className], className);
            const kept = counts.training + counts.validation + counts.test;
            assert.equal(
                kept,
                className === "NoCat" ? 200 : labelled[className] - (unusable[className] ?? 0),
                className,
            );
            const fraction = counts.validation / kept;
            assert.ok(fraction > 0.1 && fraction < 0.32, `${className} validation fraction ${fraction}`);
            const testFraction = counts.test / kept;
            // By visit: a small class's fraction moves a visit at a time.
            assert.ok(testFraction > 0.01 && testFraction < 0.25, `${className} test fraction ${testFraction}`);
        }
        const sum = Object.values(first.classDistribution).reduce((s, c) => s + c.training + c.validation + c.test, 0);
        assert.equal(first.trainingImages + first.validationImages + first.testImages, sum);
        assert.ok(first.trainingImages > 650 && first.validationImages > 150 && first.testImages > 70);
    });

    it("puts each visit on one side and reports the visits per class and side", () => {
        const sides = new Map<string, Set<string>>();
        for (const image of manifest.images) {
            const key = `${image.class} ${image.visit}`;
            sides.set(key, new Set([...(sides.get(key) ?? []), image.split]));
        }
        for (const [visit, on] of sides) assert.equal(on.size, 1, `${visit} is on ${[...on].join(" and ")}`);
        for (const className of CLASSES) {
            const ofClass = manifest.images.filter((i) => i.class === className);
            const visitsOn = (split: string) =>
                new Set(ofClass.filter((i) => i.split === split).map((i) => i.visit)).size;
            const groups = first.classDistribution[className].groups!;
            assert.deepEqual(groups, {
                training: visitsOn("training"),
                validation: visitsOn("validation"),
                test: visitsOn("test"),
            });
            assert.ok(groups.test > 0 && groups.training + groups.validation + groups.test < ofClass.length, className);
        }
        assert.equal(manifest.visitGapMinutes, 10);
        assert.equal(manifest.splitNumberBlock, 20);
    });

    it("writes exactly the planned images, in training/validation/test/<Class>/ folders, and a manifest listing each", async () => {
        const s3 = clients(moto.endpoint).s3;
        const keys = await listKeys(s3, world.trainingBucket, `datasets/${first.datasetId}/`);
        const imageKeys = keys.filter((k) => !k.endsWith("manifest.json"));
        assert.equal(imageKeys.length, first.trainingImages + first.validationImages + first.testImages);
        for (const className of CLASSES) {
            for (const split of ["training", "validation", "test"] as const) {
                const inFolder = imageKeys.filter((k) =>
                    k.startsWith(`datasets/${first.datasetId}/${split}/${className}/`),
                ).length;
                assert.equal(inFolder, first.classDistribution[className][split], `${split}/${className}`);
            }
        }
        assert.equal(manifest.images.length, imageKeys.length);
        assert.deepEqual(manifest.classes, CLASSES);
        assert.deepEqual(await getJson(s3, world.trainingBucket, "datasets/latest.json"), {
            datasetId: first.datasetId,
        });
    });

    it("skips each bad label with its reason, repairs the truncated JPEG and copies odd key names", async () => {
        const s3 = clients(moto.endpoint).s3;
        for (const anomaly of ANOMALIES) {
            const skip = manifest.skipped.find((s) => s.imageName === anomaly.imageName);
            if (anomaly.expect === "repaired" || anomaly.expect === "copied") {
                assert.equal(skip, undefined, `${anomaly.imageName} should not be skipped`);
                const image = manifest.images.find((i) => i.imageName === anomaly.imageName)!;
                assert.ok(image, `${anomaly.imageName} should be in the dataset`);
                const copy = await getBytes(s3, world.trainingBucket, image.key);
                const expected =
                    anomaly.expect === "repaired"
                        ? Buffer.concat([anomaly.body!, Buffer.from([0xff, 0xd9])])
                        : anomaly.body!;
                assert.deepEqual(copy, expected);
                assert.equal(image.repaired, anomaly.expect === "repaired");
            } else {
                assert.ok(skip, `${anomaly.imageName} should be skipped`);
                assert.match(skip.reason, anomaly.expect);
            }
        }
        assert.equal(first.repairedImages, 1);
        assert.equal(first.skippedCount, manifest.skipped.length);
        assert.equal(first.skippedCount, ANOMALIES.length - 2);
        // Rows without cat are the backlog: counted, never listed as skipped.
        assert.equal(first.unlabelledImages, BACKLOG.length);
        assert.equal(manifest.unlabelledImages, BACKLOG.length);
        assert.ok(!manifest.skipped.some((s) => BACKLOG.includes(s.imageName)));
        assert.equal(first.skipped.length, first.skippedCount);
    });

    it("reads both name styles and full keys, and never writes to the images bucket", () => {
        const names = manifest.images.map((i) => i.imageName);
        assert.ok(names.some((n) => n.endsWith(".jpeg")) && names.some((n) => n.endsWith(".jpg")));
        assert.ok(names.some((n) => n.startsWith(IMAGES_PREFIX)));
        for (const image of manifest.images) assert.equal(image.sourceKey, sourceKey(image.imageName));
        const writesToImages = proxy.requests.filter(
            (r) => r.method !== "GET" && r.method !== "HEAD" && r.url.startsWith(`/${world.imagesBucket}`),
        );
        assert.deepEqual(writesToImages, []);
    });

    it("makes at most 3 S3 requests per copied image: a 3-byte probe before the plan, the GET and the PUT", () => {
        const copies = first.trainingImages + first.validationImages + first.testImages;
        const s3Requests = proxy.requests.slice(requestsBefore.count).filter((r) => !r.headers["x-amz-target"]);
        assert.ok(s3Requests.length <= 3 * copies + 20, `${s3Requests.length} S3 requests for ${copies} copies`);
        const probes = s3Requests.filter((r) => r.headers.range === "bytes=0-2").length;
        assert.ok(probes >= copies, `${probes} probes for ${copies} copies`);
    });

    it("a dry run writes nothing and returns the same counts", async () => {
        const s3 = clients(moto.endpoint).s3;
        const before = await listKeys(s3, world.trainingBucket);
        const dry = succeeded(await prepareDataset(clients(moto.endpoint), settings(), { dryRun: true }));
        assert.deepEqual(await listKeys(s3, world.trainingBucket), before);
        assert.deepEqual(dry.classDistribution, first.classDistribution);
        assert.equal(dry.skippedCount, first.skippedCount);
        assert.equal(dry.repairedImages, first.repairedImages);
    });

    it("answers a bad event field with an error naming it, and writes nothing", async () => {
        const s3 = clients(moto.endpoint).s3;
        const before = await listKeys(s3, world.trainingBucket);
        const cases: [unknown, RegExp][] = [
            [{ dryRun: "yes" }, /"dryRun".*true or false/],
            [{ validationSplit: 1.5 }, /"validationSplit".*greater than 0 and less than 1/],
            [{ validationSplit: 0 }, /"validationSplit"/],
            [{ maxNoCatSamples: 0 }, /"maxNoCatSamples".*integer from 1/],
            [{ maxNoCatSamples: 2.5 }, /"maxNoCatSamples"/],
            [{ visitGapMinutes: 0 }, /"visitGapMinutes".*integer from 1 to 10080/],
            [
                { splitWindowMinutes: 60 },
                /^Invalid data-prep event: splitWindowMinutes was replaced by visitGapMinutes: /,
            ],
            [{ splitNumberBlock: "20" }, /"splitNumberBlock"/],
            [{ dryrun: true }, /Unknown field "dryrun"/],
            ["go", /must be a JSON object/],
        ];
        for (const [event, message] of cases) {
            const result = await prepareDataset(clients(moto.endpoint), settings(), event);
            assert.equal(result.success, false, JSON.stringify(event));
            assert.match((result as { error: string }).error, message);
        }
        assert.deepEqual(await listKeys(s3, world.trainingBucket), before);
    });

    it("names the missing table or bucket and what to check", async () => {
        const noTable = await prepareDataset(clients(moto.endpoint), settings({ tableName: "no-such-table" }), {});
        assert.equal(noTable.success, false);
        assert.match(
            (noTable as { error: string }).error,
            /DynamoDB table 'no-such-table' was not found.*catadataTableName/,
        );
        const noBucket = await prepareDataset(
            clients(moto.endpoint),
            settings({ imagesBucket: "no-such-images-bucket" }),
            {},
        );
        assert.equal(noBucket.success, false);
        assert.match((noBucket as { error: string }).error, /no-such-images-bucket.*not found.*imagesBucketName/);
    });

    it("plans the split on the images it can copy: a class whose test visit is a PNG still gets one, and each image names its camera and visit", async () => {
        const small = {
            imagesBucket: "bootboots-images-small-class",
            trainingBucket: "bootboots-training-small",
            table: "catadata-small",
        };
        const direct = clients(moto.endpoint);
        await createWorld(direct.s3, direct.dynamodb, small);
        // Twelve Tau visits of one frame each, an hour apart, from the garden camera; twelve NoCat ones without a camera.
        const frame = (cat: string, at: number, camera?: string) => ({
            imageName: `${new Date(Date.UTC(2026, 5, 1, at)).toISOString()}-${cat}.jpg`,
            cat,
            body: tinyJpeg(`${cat}-${at}`),
            ...(camera ? { camera } : {}),
        });
        const tau = Array.from({ length: 12 }, (_, i) => frame("Tau", i, "garden"));
        const noCat = Array.from({ length: 12 }, (_, i) => ({
            imageName: `2026-06-02T${String(i).padStart(2, "0")}:00:00Z-NoCat.jpg`,
            cat: "NoCat",
            body: tinyJpeg(`nocat-${i}`),
        }));
        const rule = { ...SPLIT_DEFAULTS, classes: ["Tau", "NoCat"], noCatClass: "NoCat" };
        // The images a plan of all twelve would test on become PNGs labelled Tau.
        const testOnly = planSplit(
            tau.map((l) => ({
                imageName: l.imageName,
                sourceKey: sourceKey(l.imageName),
                label: "Tau",
                camera: "garden",
            })),
            rule,
        ).filter((p) => p.split === "test");
        assert.ok(testOnly.length > 0);
        const png = new Set(testOnly.map((p) => p.imageName));
        const labels = tau.map((l) => (png.has(l.imageName) ? { ...l, body: Buffer.from("\x89PNG\r\n\x1a\n") } : l));
        await putLabels(direct.s3, direct.dynamodb, small, [...labels, ...noCat]);
        const result = succeeded(
            await prepareDataset(direct, settings({ ...small, tableName: small.table, classes: ["Tau", "NoCat"] }), {}),
        );
        const counts = result.classDistribution.Tau;
        assert.equal(counts.available, 12);
        assert.equal(counts.training + counts.validation + counts.test, 12 - png.size);
        assert.ok(counts.groups!.test > 0 && counts.groups!.validation > 0, JSON.stringify(counts));
        assert.deepEqual(
            result.skipped.map((s) => [s.imageName, s.reason]).sort(),
            [...png].sort().map((name) => [name, "not a JPEG (no FF D8 FF header)"]),
        );
        const written = await getJson<DatasetManifest>(
            direct.s3,
            small.trainingBucket,
            `datasets/${result.datasetId}/manifest.json`,
        );
        const first =
            written.images.find((i) => i.imageName === tau[0].imageName) ??
            written.images.find((i) => i.class === "Tau")!;
        assert.equal(first.camera, "garden");
        assert.equal(first.visit, `garden@${first.capturedAt}`);
        // Frames of a camera-less row are the default camera's.
        const noCat0 = written.images.find((i) => i.imageName === noCat[0].imageName)!;
        assert.equal(noCat0.visit, "default@2026-06-02T00:00:00.000Z");
        assert.equal(noCat0.camera, undefined);
    });

    it("fails, naming the class and its counts, when a class would have no validation image", async () => {
        const result = await prepareDataset(clients(moto.endpoint), settings({ classes: [...CLASSES, "Zeta"] }), {
            dryRun: true,
        });
        assert.equal(result.success, false);
        assert.match((result as { error: string }).error, /Zeta \(available 0, training 0, validation 0\)/);
    });

    it("keeps latest.json on the previous dataset when a run fails midway", async () => {
        const s3 = clients(moto.endpoint).s3;
        let puts = 0;
        proxy.options = {
            inject: (request) => {
                if (request.method !== "PUT" || !request.url.startsWith(`/${world.trainingBucket}/datasets/`))
                    return undefined;
                puts += 1;
                return puts > 300
                    ? { status: 403, body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>" }
                    : undefined;
            },
        };
        const failed = await prepareDataset(clients(proxy.endpoint), settings(), {});
        proxy.options = {};
        assert.equal(failed.success, false);
        assert.match((failed as { error: string }).error, /Access denied/);
        assert.deepEqual(await getJson(s3, world.trainingBucket, "datasets/latest.json"), {
            datasetId: first.datasetId,
        });
    });

    it("retries S3 throttling (503 SlowDown) so that no image is lost", async () => {
        let index = 0;
        proxy.options = {
            inject: (request) => (request.headers["x-amz-target"] || index++ % 10 !== 0 ? undefined : SLOW_DOWN),
        };
        const throttled = succeeded(await prepareDataset(clients(proxy.endpoint), settings(), {}));
        proxy.options = {};
        assert.ok(index > 100, "the proxy throttled requests");
        assert.deepEqual(throttled.classDistribution, first.classDistribution);
        const keys = await listKeys(
            clients(moto.endpoint).s3,
            world.trainingBucket,
            `datasets/${throttled.datasetId}/`,
        );
        assert.equal(keys.length, throttled.trainingImages + throttled.validationImages + throttled.testImages + 1);
    });

    it("keeps every image on its side of the split when 10% more labels are added", async () => {
        const direct = clients(moto.endpoint);
        const extra = Object.fromEntries(Object.entries(SEED_COUNTS).map(([c, n]) => [c, Math.ceil(n / 10)]));
        await putLabels(direct.s3, direct.dynamodb, world, seedLabels(extra, 10_000));
        const grown = succeeded(await prepareDataset(direct, settings(), {}));
        const grownManifest: DatasetManifest = await getJson(
            direct.s3,
            world.trainingBucket,
            `datasets/${grown.datasetId}/manifest.json`,
        );
        const before = new Map(manifest.images.map((i) => [i.imageName, i.split]));
        let common = 0;
        for (const image of grownManifest.images) {
            const split = before.get(image.imageName);
            if (split === undefined) continue;
            common += 1;
            assert.equal(image.split, split, `${image.imageName} moved`);
        }
        assert.ok(common > 900, `${common} images in both datasets`);
        assert.equal(grown.classDistribution.Mu.available, SEED_COUNTS.Mu + extra.Mu);
        assert.equal(
            grown.classDistribution.NoCat.training +
                grown.classDistribution.NoCat.validation +
                grown.classDistribution.NoCat.test,
            200,
        );
    });
});
