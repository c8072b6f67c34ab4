import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { LABELLING_QUEUE_KEY } from "../../lib/layout";
import { clientConfig } from "../support/moto";
import { startProxy } from "../support/proxy";
import { IMAGES_PREFIX } from "../support/seed";
import {
    CHROMIUM,
    CLASSES,
    MODEL_BUCKET,
    ROOT,
    STRONG,
    cli,
    ensureFixtureJobs,
    s3,
    serve,
    startLabelCommand,
    withEndpoint,
    world,
    useCliWorld,
} from "../support/cliWorld";

describe("the bootboots command: suggest and label", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    const POOL = path.join(ROOT, ".test-output", "trained-model", "test-samples");
    const ddb = () => new DynamoDBClient(clientConfig(w.moto.endpoint));
    const poolFiles = () =>
        fs.readdirSync(POOL).flatMap((className) =>
            fs
                .readdirSync(path.join(POOL, className))
                .sort()
                .map((name) => ({ file: path.join(POOL, className, name), name })),
        );
    const keyOf = (name: string) => `${IMAGES_PREFIX}pool/${name}`;
    type Queue = {
        modelDataUrl: string;
        items: {
            key: string;
            rowName?: string;
            score: number;
            top3: { className: string; probability: number }[];
        }[];
    };
    /** The queue suggest wrote, as label reads it. */
    const readQueue = async (): Promise<Queue> =>
        JSON.parse(
            await (
                await s3().send(new GetObjectCommand({ Bucket: world.trainingBucket, Key: LABELLING_QUEUE_KEY }))
            ).Body!.transformToString(),
        );
    const row = async (name: string) =>
        (await ddb().send(new GetItemCommand({ TableName: world.table, Key: { imageName: { S: name } } }))).Item;

    before(async () => {
        await ensureFixtureJobs();
        await serve(STRONG);
        withEndpoint();
        // The pool: unlabelled camera images; half of them have a catadata row without a label.
        for (const [i, f] of poolFiles().entries()) {
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.imagesBucket,
                    Key: keyOf(f.name),
                    Body: fs.readFileSync(f.file),
                }),
            );
            if (i % 2 === 1)
                await ddb().send(
                    new PutItemCommand({
                        TableName: world.table,
                        Item: { imageName: { S: `pool/${f.name}` }, camera: { S: "garden" } },
                    }),
                );
        }
        // The queue the labelling tests work through.
        const run = await cli("suggest");
        assert.equal(run.code, 0, run.err);
    });

    it("suggest ranks the ambiguous images and those of rare classes first, and writes the queue", async () => {
        // A first suggest for this model: nothing scored before.
        await s3().send(new DeleteObjectCommand({ Bucket: world.trainingBucket, Key: LABELLING_QUEUE_KEY }));
        const run = await cli("suggest", "--json");
        assert.equal(run.code, 0, run.err);
        const queue = JSON.parse(run.out) as Queue;
        assert.match(
            run.err,
            /^42 unlabelled images under s3:\/\/\S+\/catcam-training\/; 0 already scored by this model\. Scoring 42 \(--limit 500\): 42 requests to endpoint bootboots, about \$0\.0002/m,
        );
        assert.equal(queue.items.length, 42);
        assert.equal(queue.modelDataUrl, `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`);
        assert.equal(queue.items.filter((i) => i.rowName).length, 21, "rows without a label are named");
        // What the served model says of each, straight from the endpoint.
        const answers = JSON.parse((await cli("classify", "--json", ...poolFiles().map((f) => f.file))).out) as {
            file: string;
            probabilities: Record<string, number>;
        }[];
        const margin = new Map(
            answers.map((a) => {
                const sorted = Object.values(a.probabilities).sort((x, y) => y - x);
                const top = Object.entries(a.probabilities).sort((x, y) => y[1] - x[1])[0][0];
                return [keyOf(path.basename(a.file)), { margin: sorted[0] - sorted[1], top }];
            }),
        );
        const rank = new Map(queue.items.map((item, i) => [item.key, i]));
        const keys = [...margin.keys()];
        // The model hesitates (margin below 0.3) or is sure (above 0.85): a hesitation always ranks first.
        const ambiguous = keys.filter((k) => margin.get(k)!.margin < 0.3);
        const sure = (classes: string[], above: number) =>
            keys.filter((k) => margin.get(k)!.margin > above && classes.includes(margin.get(k)!.top));
        const sureNotTarget = sure(
            CLASSES.filter((c) => c !== "Boots"),
            0.85,
        );
        assert.ok(
            ambiguous.length >= 1 && sureNotTarget.length >= 1,
            `${ambiguous.length} ambiguous, ${sureNotTarget.length} sure`,
        );
        for (const a of ambiguous)
            for (const b of sureNotTarget) assert.ok(rank.get(a)! < rank.get(b)!, `ambiguous ${a} after sure ${b}`);
        // NoCat has 60 labels, the other classes 15 to 21, so the rarity bonus of a rare class is at least
        // 0.5 × (1 − 21/60) = 0.325: an image the model gives a rare class ranks before one it calls NoCat
        // whenever its margin is less than 0.3 above the NoCat one's. What the formula guarantees, whatever
        // the freshly trained model answers; the model decides only how many such pairs there are.
        const topIs = (classes: string[]) => keys.filter((k) => classes.includes(margin.get(k)!.top));
        const pairs = topIs(["Chi", "Kappa", "Mu", "Tau", "Wolf"]).flatMap((a) =>
            topIs(["NoCat"])
                .filter((b) => margin.get(a)!.margin - margin.get(b)!.margin < 0.3)
                .map((b) => [a, b]),
        );
        assert.ok(pairs.length >= 1, "an image called a rare class and one called NoCat, with margins within 0.3");
        for (const [a, b] of pairs) assert.ok(rank.get(a)! < rank.get(b)!, `rare ${a} after common ${b}`);

        const again = await cli("suggest", "--json");
        assert.match(again.err, /42 already scored by this model\. Scoring 0 /);
        assert.deepEqual(
            JSON.parse(again.out).items.map((i: { key: string }) => i.key),
            queue.items.map((i) => i.key),
        );
    });

    it("labels by keyboard in the browser: three labels, an undo and a skip land in catadata; a conflicting label is refused and shown", async function () {
        const queue = await readQueue();
        const [first, second, third, fourth] = queue.items;
        const nameOf = (key: string) => key.slice(IMAGES_PREFIX.length);
        // The third image's row exists, with another attribute that an undo must keep; the first and second have none.
        await ddb().send(
            new PutItemCommand({
                TableName: world.table,
                Item: { imageName: { S: nameOf(third.key) }, camera: { S: "garden" } },
            }),
        );
        for (const item of [first, second])
            await ddb().send(
                new DeleteItemCommand({ TableName: world.table, Key: { imageName: { S: nameOf(item.key) } } }),
            );
        const label = await startLabelCommand();
        const { chromium } = await import("playwright-core");
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        try {
            const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
            await page.goto(label.url);
            await page.waitForFunction((key) => document.getElementById("key")?.textContent === key, first.key);
            const pressAndWait = async (key: string, next: string) => {
                await page.keyboard.press(key);
                await page.waitForFunction((k) => document.getElementById("key")?.textContent === k, next);
            };
            await pressAndWait("1", second.key);
            await pressAndWait("2", third.key);
            await pressAndWait("3", fourth.key);
            await pressAndWait("u", third.key);
            assert.match((await page.textContent("#message")) ?? "", /Undone: .* is unlabelled again\./);
            await pressAndWait("s", fourth.key);
            assert.match((await page.textContent("#progress")) ?? "", /^Labelled 2, skipped 1, left 39 of 42$/);
            assert.match((await page.textContent("#perclass")) ?? "", /Boots1Chi1Kappa0/);
            // The README's screenshot: the page as a user meets it, with the demo model's guesses.
            await page.screenshot({ path: path.join(ROOT, "docs", "label-page.png") });

            // Someone labels the fourth image meanwhile: the page refuses to overwrite it and shows theirs.
            await ddb().send(
                new PutItemCommand({
                    TableName: world.table,
                    Item: { imageName: { S: nameOf(fourth.key) }, cat: { S: "Wolf" } },
                }),
            );
            await page.keyboard.press("4");
            await page.waitForFunction(() =>
                /Someone else labelled/.test(document.getElementById("message")?.textContent ?? ""),
            );
            assert.match(
                (await page.textContent("#message")) ?? "",
                new RegExp(
                    `Someone else labelled ${fourth.key} as Wolf meanwhile: their label stays\\. \\(their label: Wolf\\)`,
                ),
            );

            assert.deepEqual(await row(nameOf(first.key)), {
                imageName: { S: nameOf(first.key) },
                cat: { S: "Boots" },
            });
            assert.deepEqual(await row(nameOf(second.key)), {
                imageName: { S: nameOf(second.key) },
                cat: { S: "Chi" },
            });
            assert.deepEqual(
                await row(nameOf(third.key)),
                { imageName: { S: nameOf(third.key) }, camera: { S: "garden" } },
                "the undone row keeps all but its label",
            );
            assert.equal((await row(nameOf(fourth.key)))?.cat?.S, "Wolf");

            // A second page takes the queue over; the first is told so on its next key, and writes nothing.
            const other = await browser.newPage();
            await other.goto(label.url);
            await other.waitForSelector("#key:not(:empty)");
            const before = await row(nameOf(queue.items[4].key));
            await page.keyboard.press("5");
            await page.waitForFunction(() =>
                /opened in another page/.test(document.getElementById("message")?.textContent ?? ""),
            );
            assert.deepEqual(await row(nameOf(queue.items[4].key)), before);

            // An image gone from S3 is named on the page.
            const current = (await other.textContent("#key"))!;
            await s3().send(new DeleteObjectCommand({ Bucket: world.imagesBucket, Key: current }));
            await other.reload();
            await other.waitForFunction(() =>
                /is gone from s3:/.test(document.getElementById("message")?.textContent ?? ""),
            );

            // Without the token (or with a wrong one) nothing answers.
            const origin = new URL(label.url).origin;
            assert.equal((await fetch(`${origin}/api/state`)).status, 403);
            assert.equal((await fetch(`${origin}/?token=wrong`)).status, 403);
        } finally {
            await browser.close();
            label.stop();
        }
    });

    it("serves images as JPEG only, the page under a policy of its own script alone, and refuses a wrong Host, a big body and bad JSON", async function () {
        const queue = await readQueue();
        const hostile = queue.items[6].key;
        // An object in the images bucket may carry any Content-Type: here an HTML page with a script.
        await s3().send(
            new PutObjectCommand({
                Bucket: world.imagesBucket,
                Key: hostile,
                Body: "<html><body><script>document.title = 'pwned'; window.pwned = true;</script></body></html>",
                ContentType: "text/html",
            }),
        );
        const label = await startLabelCommand();
        const { chromium } = await import("playwright-core");
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        const url = new URL(label.url);
        const token = url.searchParams.get("token")!;
        try {
            const page = await browser.newPage();
            const errors: string[] = [];
            page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
            page.on("pageerror", (e) => errors.push(String(e)));
            const response = await page.goto(label.url);
            assert.match(
                response!.headers()["content-security-policy"],
                /^default-src 'none'; script-src 'nonce-[^']+'; style-src 'nonce-[^']+'; img-src 'self'; connect-src 'self'/,
            );
            assert.equal(response!.headers()["x-content-type-options"], "nosniff");
            await page.waitForSelector("#key:not(:empty)");
            assert.deepEqual(errors, [], "the page's own script and style run under its policy");

            const image = await page.goto(`${url.origin}/api/image?token=${token}&key=${encodeURIComponent(hostile)}`);
            assert.equal(image!.headers()["content-type"], "image/jpeg");
            assert.equal(image!.headers()["x-content-type-options"], "nosniff");
            assert.notEqual(await page.title(), "pwned");
            assert.equal(
                await page.evaluate(() => (window as unknown as { pwned?: boolean }).pwned),
                undefined,
                "the script never ran",
            );
        } finally {
            await browser.close();
        }
        try {
            const request = (path: string, headers: Record<string, string>, body?: string) =>
                new Promise<{ status: number; error: string }>((resolve, reject) => {
                    const req = http.request(
                        {
                            host: "127.0.0.1",
                            port: url.port,
                            path,
                            method: body === undefined ? "GET" : "POST",
                            headers,
                        },
                        (res) => {
                            let text = "";
                            res.on("data", (chunk) => (text += chunk));
                            res.on("end", () =>
                                resolve({ status: res.statusCode!, error: JSON.parse(text || "{}").error }),
                            );
                        },
                    );
                    req.on("error", reject);
                    req.end(body);
                });
            const rebound = await request(`/api/state?token=${token}`, { host: `cats.example:${url.port}` });
            assert.deepEqual(rebound, {
                status: 403,
                error: `This page answers only at 127.0.0.1:${url.port}: open the address bootboots label printed.`,
            });
            const json = { host: `127.0.0.1:${url.port}`, "content-type": "application/json" };
            const big = await request(`/api/label?token=${token}`, json, JSON.stringify({ key: "x".repeat(5000) }));
            assert.deepEqual(big, {
                status: 413,
                error: "The request body is larger than 4096 bytes: reload the page.",
            });
            assert.deepEqual(await request(`/api/label?token=${token}`, json, "{"), {
                status: 400,
                error: "The request body is not JSON: reload the page.",
            });
            assert.deepEqual(await request(`/api/skip?token=${token}`, json, "[1]"), {
                status: 400,
                error: "The request body is not a JSON object: reload the page.",
            });
            assert.equal(
                (await request(`/api/state?token=${token.slice(0, -1)}0`, json)).status,
                403,
                "a token one byte off",
            );
        } finally {
            label.stop();
        }
    });

    it("names a lost connection to AWS and a queue made for another stack on the page, and writes nothing", async () => {
        const { chromium } = await import("playwright-core");
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        const offline = await startLabelCommand(["--catadata-table", world.table], {
            AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:9",
        });
        const elsewhere = await startLabelCommand(["--catadata-table", "another-stacks-table"]);
        try {
            const page = await browser.newPage();
            await page.goto(offline.url);
            await page.waitForSelector("#key:not(:empty)");
            const key = (await page.textContent("#key"))!;
            const before = await row(key.slice(IMAGES_PREFIX.length));
            await page.keyboard.press("1");
            await page.waitForFunction(() =>
                /The label was not saved: try again\./.test(document.getElementById("message")?.textContent ?? ""),
            );
            assert.match(
                (await page.textContent("#message"))!,
                /^Could not connect while reading the row pool\/\S+ \(ECONNREFUSED\)/,
            );
            assert.equal(await page.textContent("#key"), key, "the same image stays, to try again");
            assert.deepEqual(await row(key.slice(IMAGES_PREFIX.length)), before);

            const blocked = await browser.newPage();
            await blocked.goto(elsewhere.url);
            await blocked.waitForFunction(() =>
                /not this stack's/.test(document.getElementById("warning")?.textContent ?? ""),
            );
            await blocked.keyboard.press("1");
            await blocked.waitForFunction(() =>
                /Nothing can be labelled here/.test(document.getElementById("message")?.textContent ?? ""),
            );
        } finally {
            await browser.close();
            offline.stop();
            elsewhere.stop();
        }
    });

    it("answers 502 for an image S3 breaks off mid-way, and goes on: the next try, a label and its undo all work", async () => {
        let cuts = 0;
        const s3Proxy = await startProxy(w.moto.endpoint, {
            cutBodyAfter: (r) => (r.method === "GET" && r.url.includes("/pool/") && cuts++ === 0 ? 200 : undefined),
        });
        const labelling = await startLabelCommand([], { AWS_ENDPOINT_URL_S3: s3Proxy.endpoint });
        try {
            const url = new URL(labelling.url);
            const call = (route: string, body?: object) =>
                fetch(`${url.origin}${route}${route.includes("?") ? "&" : "?"}token=${url.searchParams.get("token")}`, {
                    method: body ? "POST" : "GET",
                    headers: { "content-type": "application/json" },
                    body: body ? JSON.stringify(body) : undefined,
                });
            let state = await (await call("/api/state")).json();
            // Other tests label the first images of the shared queue: go on to one nobody labelled.
            const rowNameOf = (item: { key: string; rowName?: string }) =>
                item.rowName ?? item.key.slice(IMAGES_PREFIX.length);
            while ((await row(rowNameOf(state.current)))?.cat)
                state = await (await call("/api/skip", { key: state.current.key, session: state.session })).json();
            const image = `/api/image?key=${encodeURIComponent(state.current.key)}`;
            const broken = await call(image);
            assert.equal(broken.status, 502);
            assert.match(
                (await broken.json()).error,
                /^S3 broke off sending \S+: reload the page to try again, or press s to skip it\.$|^S3 broke off sending \S+ \(.*\): reload the page/,
            );
            const whole = await call(image);
            assert.equal(whole.status, 200);
            assert.equal(whole.headers.get("content-type"), "image/jpeg");
            const rowName = rowNameOf(state.current);
            const labelled = await call("/api/label", {
                key: state.current.key,
                label: CLASSES[2],
                session: state.session,
            });
            assert.equal(labelled.status, 200, await labelled.clone().text());
            assert.equal((await row(rowName))?.cat?.S, CLASSES[2]);
            const undone = await call("/api/undo", { session: state.session });
            assert.equal(undone.status, 200, "the undo history survived the broken image");
            assert.equal((await row(rowName))?.cat, undefined);
        } finally {
            labelling.stop();
            await s3Proxy.close();
        }
    });

    it("refuses an image too large to be a photo with 413 before reading it, and goes on", async () => {
        // S3 says the object is 50 MB: the page is told so, and nothing is read into memory.
        const s3Proxy = await startProxy(w.moto.endpoint, {
            inject: (r) =>
                r.method === "GET" && r.url.includes("/pool/")
                    ? { status: 200, headers: { "content-type": "image/jpeg", "content-length": "50000000" }, body: "" }
                    : undefined,
        });
        const labelling = await startLabelCommand([], { AWS_ENDPOINT_URL_S3: s3Proxy.endpoint });
        try {
            const url = new URL(labelling.url);
            const token = url.searchParams.get("token");
            const state = await (await fetch(`${url.origin}/api/state?token=${token}`)).json();
            const image = await fetch(
                `${url.origin}/api/image?key=${encodeURIComponent(state.current.key)}&token=${token}`,
            );
            assert.equal(image.status, 413);
            assert.match(
                (await image.json()).error,
                /^\S+ is 50 MB, more than the 40 MB a photo may be here: press s to skip it\.$/,
            );
            assert.equal((await fetch(`${url.origin}/api/state?token=${token}`)).status, 200, "the server goes on");
        } finally {
            labelling.stop();
            await s3Proxy.close();
        }
    });

    it("offers only the stack's classes, as text: a hostile queue file is refused and runs nothing", async function () {
        const original = await readQueue();
        const hostile = '<img src=x onerror="window.pwned=1">';
        await s3().send(
            new PutObjectCommand({
                Bucket: world.trainingBucket,
                Key: LABELLING_QUEUE_KEY,
                Body: JSON.stringify({ ...original, classes: [CLASSES[0], hostile, ...CLASSES.slice(2)] }),
            }),
        );
        const { chromium } = await import("playwright-core");
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        const labelling = await startLabelCommand();
        try {
            const page = await browser.newPage();
            await page.goto(labelling.url);
            await page.waitForFunction(() =>
                /other classes than this stack's/.test(document.getElementById("warning")?.textContent ?? ""),
            );
            const buttons = await page.$$eval("#buttons button[data-label]", (bs) => bs.map((b) => b.textContent));
            assert.deepEqual(
                buttons.slice(0, CLASSES.length),
                CLASSES.map((c, i) => `${i + 1}${c}`),
            );
            assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
            assert.equal(await page.$$eval("img", (images) => images.length), 1, "only the picture");
        } finally {
            await browser.close();
            labelling.stop();
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.trainingBucket,
                    Key: LABELLING_QUEUE_KEY,
                    Body: JSON.stringify(original),
                }),
            );
        }
    });

    it("suggest ranks a camera image from the prediction its catadata row holds when the serving model made it, and asks the endpoint again otherwise", async () => {
        const servingUrl = `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`;
        // Stored predictions no trained model would give, so that the queue shows where each came from.
        const stored = [
            { className: "Wolf", probability: 0.5 },
            { className: "Mu", probability: 0.45 },
            { className: "NoCat", probability: 0.05 },
        ];
        const camera = [
            { name: "camera/2026-12-01T06-15-00.123Z-ab12.jpg", modelDataUrl: servingUrl },
            {
                name: "camera/2026-12-01T06-15-30.456Z-cd34.jpg",
                modelDataUrl: `s3://${MODEL_BUCKET}/training-output/bootboots-weak-1-epoch/output/model.tar.gz`,
            },
        ];
        const toItem = (t: { className: string; probability: number }) => ({
            M: { className: { S: t.className }, probability: { N: String(t.probability) } },
        });
        for (const c of camera) {
            await s3().send(
                new PutObjectCommand({
                    Bucket: world.imagesBucket,
                    Key: `${IMAGES_PREFIX}${c.name}`,
                    Body: fs.readFileSync(poolFiles()[0].file),
                }),
            );
            await ddb().send(
                new PutItemCommand({
                    TableName: world.table,
                    Item: {
                        imageName: { S: c.name },
                        source: { S: "camera" },
                        top3: { L: stored.map(toItem) },
                        modelDataUrl: { S: c.modelDataUrl },
                    },
                }),
            );
        }
        try {
            const run = await cli("suggest", "--json");
            assert.equal(run.code, 0, run.err);
            const items = (JSON.parse(run.out) as Queue).items;
            const [fromRow, fromEndpoint] = camera.map((c) =>
                items.find((i) => i.key === `${IMAGES_PREFIX}${c.name}`)!,
            );
            assert.deepEqual(fromRow.top3, stored);
            assert.equal(fromRow.rowName, camera[0].name);
            assert.match(run.err, /^1 of them scored by the camera API when it answered\.$/m);
            // The other was scored by the serving model itself: what classify answers for that image.
            const answer = JSON.parse((await cli("classify", "--json", poolFiles()[0].file)).out)[0] as {
                className: string;
            };
            assert.equal(fromEndpoint.top3[0].className, answer.className);
            assert.notDeepEqual(fromEndpoint.top3, stored);
        } finally {
            for (const c of camera) {
                await s3().send(
                    new DeleteObjectCommand({ Bucket: world.imagesBucket, Key: `${IMAGES_PREFIX}${c.name}` }),
                );
                await ddb().send(new DeleteItemCommand({ TableName: world.table, Key: { imageName: { S: c.name } } }));
            }
        }
    });

    /** Runs `bootboots label` as a user does and waits for the address it prints. */
});
