import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { LABELLING_QUEUE_KEY } from "../../lib/layout";
import { clientConfig } from "../support/moto";
import { tinyJpeg } from "../support/seed";
import { CHROMIUM, cli, moto, s3, startLabelCommand, world, useCliWorld } from "../support/cliWorld";

describe("the bootboots command: the first labels, before any model serves", function () {
    this.timeout(300_000);
    useCliWorld();
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
            const row = await new DynamoDBClient(clientConfig(moto.endpoint)).send(
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
});
