import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { LABELLING_QUEUE_KEY } from "../../lib/layout";
import { clientConfig } from "../support/moto";
import { jpegWithExif, tinyJpeg } from "../support/seed";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SPLIT_DEFAULTS } from "../../lib/dataset";
import { countVisits } from "../../lib/visits";
import { CHROMIUM, cli, s3, startLabelCommand, world, useCliWorld } from "../support/cliWorld";
import { readmeShows } from "../support/readmeExamples";

describe("the bootboots command: the first labels, before any model serves", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    /** A prefix of its own, so that other suites' unlabelled images stay out of this queue. */
    const PREFIX = "first-hour/";
    const at = (day: string, minute: number) => `${PREFIX}${day}T15:${String(minute).padStart(2, "0")}:00.000Z.jpg`;
    // One long visit on the newest day, two images the day before, one the day before that.
    const LONG_VISIT = Array.from({ length: 10 }, (_, i) => at("2026-11-30", i));
    const DAY_BEFORE = [at("2026-11-29", 0), at("2026-11-29", 30)];
    const OLDEST = [at("2026-11-28", 0)];

    before(async () => {
        for (const key of [...LONG_VISIT, ...DAY_BEFORE, ...OLDEST]) {
            await s3().send(new PutObjectCommand({ Bucket: world.imagesBucket, Key: key, Body: tinyJpeg(key) }));
        }
    });

    it("suggest queues the newest unlabelled images in turn from each day, without scores, and says why", async () => {
        const run = await cli("suggest", "--images-prefix", PREFIX, "--limit", "6", "--json");
        assert.equal(run.code, 0, run.err);
        assert.match(
            run.err,
            /^No model is serving yet, so nothing can rank the 13 unlabelled images under s3:\/\/bootboots-images-123456789012-eu-west-2\/first-hour\/: the queue holds the 6 newest \(--limit 6\), taken in turn from 3 days so that one long visit does not fill it, without scores\./,
        );
        const queue = JSON.parse(
            await (
                await s3().send(new GetObjectCommand({ Bucket: world.trainingBucket, Key: LABELLING_QUEUE_KEY }))
            ).Body!.transformToString(),
        );
        assert.deepEqual(
            queue.items.map((i: { key: string }) => i.key),
            [LONG_VISIT[9], DAY_BEFORE[1], OLDEST[0], LONG_VISIT[8], DAY_BEFORE[0], LONG_VISIT[7]],
        );
        assert.ok(
            queue.items.every((i: object) => !("score" in i) && !("top3" in i)),
            "no scores without a model",
        );
        assert.equal(queue.modelDataUrl, undefined);
        assert.equal(queue.imagesPrefix, PREFIX);
        assert.deepEqual(JSON.parse(run.out).items, queue.items);
    });

    it("label shows that queue without guesses in the browser, and a key press writes the label", async () => {
        const made = await cli("suggest", "--images-prefix", PREFIX, "--limit", "3");
        assert.equal(made.code, 0, made.err);
        assert.match(made.out, /^Queue of 3 images written to s3:\/\/\S+\/labelling\/queue\.json; the first 3:$/m);
        const label = await startLabelCommand(["--images-prefix", PREFIX]);
        const { chromium } = await import("playwright-core");
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        try {
            const page = await browser.newPage();
            await page.goto(label.url);
            await page.waitForFunction((key) => document.getElementById("key")?.textContent === key, LONG_VISIT[9]);
            assert.equal(
                await page.textContent("#guesses"),
                "No guesses: no model has looked at this image yet (the newest images come first).",
            );
            await page.keyboard.press("6");
            await page.waitForFunction((key) => document.getElementById("key")?.textContent === key, DAY_BEFORE[1]);
            const row = await new DynamoDBClient(clientConfig(w.moto.endpoint)).send(
                new GetItemCommand({
                    TableName: world.table,
                    Key: { imageName: { S: LONG_VISIT[9].slice(PREFIX.length) } },
                }),
            );
            assert.deepEqual(row.Item, { imageName: { S: LONG_VISIT[9].slice(PREFIX.length) }, cat: { S: "Tau" } });
        } finally {
            await browser.close();
            label.stop();
        }
    });

    describe("import", () => {
        const IMPORTED = "first-day/";
        let folder: string;
        const keysUnder = async (prefix: string) =>
            (
                (await s3().send(new ListObjectsV2Command({ Bucket: world.imagesBucket, Prefix: prefix }))).Contents ??
                []
            ).map((o) => o.Key!);

        before(() => {
            // A phone's folder of one cat: photos with EXIF (one in a sub-folder), one without, a copy, a PNG, a note.
            folder = fs.mkdtempSync(path.join(os.tmpdir(), "chi-"));
            fs.mkdirSync(path.join(folder, "older"));
            const a = jpegWithExif("a", "2026:06:01 08:00:00", "+02:00");
            fs.writeFileSync(path.join(folder, "IMG_0001.jpg"), a);
            fs.writeFileSync(path.join(folder, "IMG_0001 copy.jpg"), a);
            fs.writeFileSync(path.join(folder, "IMG_0002.JPG"), jpegWithExif("b", "2026:06:01 08:00:30", "+02:00"));
            fs.writeFileSync(
                path.join(folder, "older", "IMG_0003.jpeg"),
                jpegWithExif("c", "2026:05:20 18:00:00", "+02:00"),
            );
            const plain = path.join(folder, "no-exif.jpg");
            fs.writeFileSync(plain, tinyJpeg("no-exif"));
            fs.utimesSync(plain, new Date("2026-06-01T07:00:00Z"), new Date("2026-06-01T07:00:00Z"));
            fs.writeFileSync(path.join(folder, "screenshot.png"), Buffer.from("\x89PNG\r\n\x1a\n"));
            fs.writeFileSync(path.join(folder, "notes.txt"), "Chi at the back door");
        });

        it("names each photo by its capture time and content, skips and names non-JPEGs and duplicates, and labels them", async () => {
            const run = await cli("import", folder, "--label", "Chi", "--images-prefix", IMPORTED);
            assert.equal(run.code, 0, run.err);
            const lines = run.out.trim().split("\n");
            assert.equal(
                lines[0],
                `Imported 4 of 7 photos to s3://${world.imagesBucket}/${IMPORTED} (1 without EXIF capture time, named by the file's time); labelled 4 as Chi; skipped 3.`,
            );
            readmeShows("import", run.out);
            const skipped = lines
                .slice(1)
                .map((l) => l.replace(folder, "<folder>").replace(folder, "<folder>"))
                .sort();
            assert.equal(skipped.length, 3, run.out);
            assert.match(
                skipped[0],
                /^ {2}skipped <folder>\/IMG_0001( copy)?\.jpg: a duplicate of <folder>\/IMG_0001( copy)?\.jpg$/,
            );
            assert.deepEqual(skipped.slice(1), [
                "  skipped <folder>/notes.txt: not a JPEG",
                "  skipped <folder>/screenshot.png: not a JPEG",
            ]);
            const names = (await keysUnder(IMPORTED)).map((k) => k.slice(IMPORTED.length)).sort();
            assert.equal(names.length, 4);
            assert.deepEqual(
                names.map((n) => n.replace(/-[0-9a-f]{16}\.jpg$/, "")),
                [
                    "2026-05-20T16-00-00.000Z",
                    "2026-06-01T06-00-00.000Z",
                    "2026-06-01T06-00-30.000Z",
                    "2026-06-01T07-00-00.000Z",
                ],
            );
            // Named so that lib/visits.ts reads the capture time: the two photos 30 s apart are one visit.
            assert.equal(
                countVisits(
                    names.map((imageName) => ({ imageName })),
                    SPLIT_DEFAULTS,
                ),
                3,
            );
            const ddb = new DynamoDBClient(clientConfig(w.moto.endpoint));
            for (const name of names) {
                const row = await ddb.send(
                    new GetItemCommand({ TableName: world.table, Key: { imageName: { S: name } } }),
                );
                assert.equal(row.Item?.cat?.S, "Chi", name);
            }
        });

        it("adds nothing on a second run of the same folder, and refuses a class the stack does not have", async () => {
            const before = await keysUnder(IMPORTED);
            const again = await cli("import", folder, "--images-prefix", IMPORTED, "--json");
            assert.equal(again.code, 0, again.err);
            const outcomes = JSON.parse(again.out).outcomes as { file: string; skipped?: string }[];
            assert.equal(outcomes.filter((o) => o.skipped === "imported before").length, 4);
            assert.ok(outcomes.every((o) => o.skipped));
            assert.deepEqual(await keysUnder(IMPORTED), before);
            const wrong = await cli("import", folder, "--label", "Garfield");
            assert.equal(wrong.code, 2);
            assert.match(
                wrong.err,
                /^error: --label Garfield is not one of the stack's classes \(Boots, Chi, Kappa, Mu, NoCat, Tau, Wolf\)/,
            );
        });
    });
});
