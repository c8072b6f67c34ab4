import { strict as assert } from "assert";
import { readLabel, resolveLabels } from "../../handlers/labels";
import { sourceKeyOf } from "../../lib/dataset";
import { Label } from "../../handlers/labels";
import { countClasses, datasetFileName, planSplit, splitCounts, stableFraction } from "../../handlers/split";

const CLASSES = ["Boots", "Chi", "NoCat"];
const PREFIX = "catcam-training/";
const byLower = new Map(CLASSES.map((c) => [c.toLowerCase(), c]));
const row = (imageName: string, cat?: string) => ({
    imageName: { S: imageName },
    ...(cat === undefined ? {} : { cat: { S: cat } }),
});
const labels = (className: string, count: number, from = 0): Label[] =>
    Array.from({ length: count }, (_, i) => ({
        imageName: `${className}-${from + i}.jpg`,
        sourceKey: `${PREFIX}${className}-${from + i}.jpg`,
        label: className,
    }));
const rule = { classes: CLASSES, noCatClass: "NoCat", validationSplit: 0.2, testSplit: 0.1, maxNoCatSamples: 50 };

describe("label rules", () => {
    it("matches classes case-insensitively and names what it cannot use", () => {
        assert.deepEqual(readLabel(row("a.jpg", "boots"), byLower), { label: "Boots" });
        assert.deepEqual(readLabel({ imageName: { S: "a.jpg" }, cat: { SS: ["Chi"] } }, byLower), { label: "Chi" });
        assert.match((readLabel(row("a.jpg", "Boots and Chi"), byLower) as { reason: string }).reason, /multi-label/);
        assert.match(
            (readLabel(row("a.jpg", "Garfield"), byLower) as { reason: string }).reason,
            /unknown class "Garfield"/,
        );
        assert.match((readLabel(row("a.jpg", " "), byLower) as { reason: string }).reason, /empty cat label/);
        assert.match((readLabel(row("a.jpg"), byLower) as { reason: string }).reason, /no cat label/);
    });

    it("resolves bare names and full keys to one image, and skips rows that disagree about it", () => {
        const {
            labels: resolved,
            skipped,
            unlabelled,
        } = resolveLabels(
            [
                row("a.jpg", "Boots"),
                row(`${PREFIX}a.jpg`, "boots"),
                row("b.jpg", "Boots"),
                row(`${PREFIX}b.jpg`, "Chi"),
                row("c.png", "Chi"),
                { cat: { S: "Chi" } },
                row("camera-1.jpg"),
                row("camera-2.jpg"),
            ],
            CLASSES,
            PREFIX,
        );
        assert.deepEqual(resolved, [{ imageName: "a.jpg", sourceKey: `${PREFIX}a.jpg`, label: "Boots" }]);
        assert.deepEqual(skipped.map((s) => s.reason).sort(), [
            "conflicting labels: Boots, Chi",
            "conflicting labels: Boots, Chi",
            "no imageName (string attribute)",
            "not a .jpg or .jpeg name",
        ]);
        // Rows without cat (the camera's backlog) are counted, not skipped.
        assert.equal(unlabelled, 2);
        assert.equal(sourceKeyOf(`${PREFIX}x.jpg`, PREFIX), `${PREFIX}x.jpg`);
    });

    it("skips a name whose key would pass S3's 1,024-byte limit (counting UTF-8 bytes)", () => {
        const fits = `${"é".repeat((1024 - PREFIX.length - 4) / 2)}.jpg`;
        const tooLong = `${"é".repeat((1024 - PREFIX.length - 4) / 2 + 1)}.jpg`;
        const { labels: resolved, skipped } = resolveLabels([row(fits, "Chi"), row(tooLong, "Chi")], CLASSES, PREFIX);
        assert.deepEqual(
            resolved.map((l) => l.imageName),
            [fits],
        );
        assert.deepEqual(skipped, [{ imageName: tooLong, reason: "key longer than S3's 1024-byte limit" }]);
    });
});

describe("split rules", () => {
    it("sends about validationSplit of each class to validation and testSplit to test, and caps NoCat by a separate hash", () => {
        const { planned, available } = planSplit(
            [...labels("Boots", 400), ...labels("Chi", 300), ...labels("NoCat", 400)],
            rule,
        );
        const counts = countClasses(
            CLASSES,
            available,
            planned.map((p) => ({ class: p.label, split: p.split })),
        );
        assert.equal(counts.NoCat.training + counts.NoCat.validation + counts.NoCat.test, 50);
        assert.equal(counts.NoCat.available, 400);
        for (const className of ["Boots", "Chi"]) {
            const validation = counts[className].validation / counts[className].available;
            const test = counts[className].test / counts[className].available;
            assert.ok(validation > 0.12 && validation < 0.28, `${className} validation ${validation}`);
            assert.ok(test > 0.05 && test < 0.15, `${className} test ${test}`);
        }
    });

    it("splits by hash: validation below validationSplit, test up to validationSplit + testSplit, the rest training", () => {
        for (const image of planSplit(labels("Boots", 200), rule).planned) {
            const f = stableFraction("split", image.imageName);
            assert.equal(image.split, f < 0.2 ? "validation" : f < 0.3 ? "test" : "training", image.imageName);
        }
    });

    it("keeps the validation side when the test fraction grows: new test images come from training only", () => {
        const smaller = new Map(planSplit(labels("Boots", 300), rule).planned.map((p) => [p.imageName, p.split]));
        let moved = 0;
        for (const image of planSplit(labels("Boots", 300), { ...rule, testSplit: 0.2 }).planned) {
            const before = smaller.get(image.imageName);
            if (image.split !== before) {
                assert.deepEqual([before, image.split], ["training", "test"], image.imageName);
                moved += 1;
            }
        }
        assert.ok(moved > 10, `${moved} images moved to test`);
    });

    it("gives a class of three or more an image in each split, of two none to test", () => {
        for (const n of [3, 4, 5, 8]) {
            for (let from = 0; from < 200; from += n) {
                const splits = planSplit(labels("Chi", n, from), rule).planned.map((p) => p.split);
                for (const split of ["training", "validation", "test"])
                    assert.ok(splits.includes(split as never), `${n} from ${from}: ${splits}`);
            }
        }
        assert.deepEqual(splitCounts([0.05, 0.9], rule), { validation: 1, test: 0 });
        assert.deepEqual(splitCounts([0.25], rule), { validation: 0, test: 0 });
        assert.deepEqual(splitCounts([0.01, 0.02, 0.03], rule), { validation: 1, test: 1 });
    });

    it("keeps every image on its side when images are added", () => {
        const before = new Map(planSplit(labels("Boots", 100), rule).planned.map((p) => [p.imageName, p.split]));
        const after = planSplit([...labels("Boots", 100), ...labels("Boots", 30, 100)], rule).planned;
        assert.ok(after.some((p) => p.split === "test"));
        const moved = after.filter((p) => before.has(p.imageName) && before.get(p.imageName) !== p.split);
        assert.deepEqual(moved, []);
    });

    it("gives a class of two one image on each side, and a class of one the side its hash gives it", () => {
        const two = planSplit(labels("Chi", 2), rule).planned;
        assert.deepEqual(two.map((p) => p.split).sort(), ["training", "validation"]);
        for (const image of labels("Chi", 20)) {
            const [one] = planSplit([image], rule).planned;
            assert.equal(
                one.split,
                stableFraction("split", image.imageName) < rule.validationSplit ? "validation" : "training",
            );
        }
        // The lowest split hash goes to validation, the highest to training.
        const [low, high] = [...two].sort(
            (a, b) => stableFraction("split", a.imageName) - stableFraction("split", b.imageName),
        );
        assert.deepEqual([low.split, high.split], ["validation", "training"]);
    });

    it("names dataset files one-to-one, whatever the keys", () => {
        const keys = ["cam0/x.jpg", "cam0__x.jpg", "cam0%2Fx.jpg", "cam0%x.jpg", "a/b/c.jpg", "a%2Fb/c.jpg"];
        const names = keys.map((k) => datasetFileName(`${PREFIX}${k}`, PREFIX));
        assert.equal(new Set(names).size, keys.length, names.join(" "));
        assert.ok(names.every((n) => !n.includes("/")));
        assert.deepEqual(names.map(decodeURIComponent), keys);
    });
});
