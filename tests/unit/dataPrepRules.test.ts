import { strict as assert } from "assert";
import { readLabel, resolveLabels } from "../../lib/labels";
import { SPLIT_DEFAULTS, sourceKeyOf } from "../../lib/dataset";
import { captureTime, countVisits, groupVisits } from "../../lib/visits";
import { Label } from "../../lib/labels";
import {
    PlannedImage,
    countClasses,
    datasetFileName,
    SplitRule,
    planSplit,
    sampleLabels,
    splitCounts,
    stableFraction,
} from "../../handlers/dataPrep/split";
import { SEED_COUNTS, seedLabels } from "../support/seed";

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
const rule = { ...SPLIT_DEFAULTS, classes: CLASSES, noCatClass: "NoCat", maxNoCatSamples: 50 };
/** Data prep's plan of every label (all copied): NoCat's sample, then the split by visit. */
const plan = (labelled: readonly Label[], splitRule: SplitRule) => {
    const { kept, available } = sampleLabels(labelled, splitRule);
    return { planned: planSplit(kept, splitRule), available };
};

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

/** A visit as the camera records it: `frames` images 30 s apart from `start`, named by capture time. */
const visit = (className: string, start: string, frames: number): Label[] =>
    Array.from({ length: frames }, (_, i) => {
        const name = `${new Date(Date.parse(start) + i * 30_000).toISOString()}.jpg`;
        return { imageName: name, sourceKey: `${PREFIX}${name}`, label: className };
    });
/** Old-style images named by a running number. */
const numbered = (className: string, from: number, count: number): Label[] =>
    Array.from({ length: count }, (_, i) => ({
        imageName: `${from + i}.jpeg`,
        sourceKey: `${PREFIX}${from + i}.jpeg`,
        label: className,
    }));
/** Each visit's sides; a visit on one side has one entry. */
const sidesByVisit = (planned: readonly PlannedImage[]) => {
    const sides = new Map<string, Set<string>>();
    for (const p of planned) sides.set(p.visit, new Set([...(sides.get(p.visit) ?? []), p.split]));
    return sides;
};

describe("visits", () => {
    it("groups one camera's frames by the gap between them, numbered names by block, any other name alone", () => {
        const gap = { visitGapMinutes: 10, splitNumberBlock: 20 };
        const visitOf = (names: string[], cameras: (string | undefined)[] = []) => {
            const visits = groupVisits(
                names.map((imageName, i) => ({ imageName, camera: cameras[i] })),
                gap,
            );
            return names.map((name) => visits.get(name)!.visit);
        };
        // A visit that crosses the hour stays one: 10 minutes apart at most, however the clock falls.
        assert.deepEqual(
            visitOf(["2026-02-21T15:55:00Z.jpg", "2026-02-21T16:04:59Z.jpg", "2026-02-21T16:14:59Z.jpg"]),
            [
                "default@2026-02-21T15:55:00.000Z",
                "default@2026-02-21T15:55:00.000Z",
                "default@2026-02-21T15:55:00.000Z",
            ],
        );
        // A gap of more than 10 minutes starts a new visit; the order of the names given does not matter.
        assert.deepEqual(visitOf(["2026-02-21T16:20:01Z.jpg", "2026-02-21T16:10:00Z.jpg"]), [
            "default@2026-02-21T16:20:01.000Z",
            "default@2026-02-21T16:10:00.000Z",
        ]);
        // Two cameras at the same time are two visits; a row without one is the default camera's.
        assert.deepEqual(visitOf(["2026-02-21T08:00:00Z.jpg", "2026-02-21T08:00:30Z.jpg"], ["garden", "porch"]), [
            "garden@2026-02-21T08:00:00.000Z",
            "porch@2026-02-21T08:00:30.000Z",
        ]);
        // Time parts joined by '-' or '_' where ':' is not allowed, an offset, and the camera API's own names.
        assert.deepEqual(visitOf(["2026-02-21T06-15-00.jpg", "2026-02-21T08_20_00+02:00.jpg"]), [
            "default@2026-02-21T06:15:00.000Z",
            "default@2026-02-21T06:15:00.000Z",
        ]);
        assert.equal(
            groupVisits([{ imageName: `${PREFIX}2026-12-01T06-15-00.123Z-ab12.jpg` }], gap).get(
                `${PREFIX}2026-12-01T06-15-00.123Z-ab12.jpg`,
            )?.capturedAt,
            "2026-12-01T06:15:00.123Z",
        );
        assert.deepEqual(visitOf(["540.jpeg", "559.jpg", "560.jpeg"]), ["block:27", "block:27", "block:28"]);
        assert.deepEqual(visitOf(["12345678901234567890.jpeg"]), ["block:617283945061728394"]);
        assert.deepEqual(visitOf([`${PREFIX}Boots-7.jpg`, "2026-13-45T99:99:99Z.jpg"]), [
            `${PREFIX}Boots-7.jpg`,
            "2026-13-45T99:99:99Z.jpg",
        ]);
        assert.equal(countVisits([{ imageName: "1.jpeg" }, { imageName: "2.jpeg" }, { imageName: "x.jpg" }], gap), 2);
        assert.equal(captureTime("no time here.jpg"), undefined);
    });

    it("puts every frame of a visit on one side, and about the fractions of visits on each", () => {
        const frames = [
            ...Array.from({ length: 120 }, (_, day) =>
                visit("Boots", new Date(Date.UTC(2026, 0, 1 + day, 10)).toISOString(), 12),
            ).flat(),
            ...numbered("Boots", 0, 2_000),
        ];
        const { planned } = plan(frames, rule);
        const sides = sidesByVisit(planned);
        assert.equal(sides.size, 120 + 100);
        for (const [group, onSides] of sides) assert.equal(onSides.size, 1, `${group} straddles ${[...onSides]}`);
        const groups = countClasses(
            CLASSES,
            new Map(),
            planned.map((p) => ({ class: p.label, split: p.split, visit: p.visit })),
        ).Boots.groups!;
        assert.equal(groups.training + groups.validation + groups.test, 220);
        assert.ok(groups.validation / 220 > 0.12 && groups.validation / 220 < 0.28, JSON.stringify(groups));
        assert.ok(groups.test / 220 > 0.04 && groups.test / 220 < 0.16, JSON.stringify(groups));
    });

    it("keeps every image on its side as frames join its visit and new visits arrive", () => {
        const first = [
            ...visit("Chi", "2026-03-01T08:00:00Z", 20),
            ...visit("Chi", "2026-03-02T08:00:00Z", 20),
            ...numbered("Chi", 100, 1_000),
        ];
        const before = new Map(plan(first, rule).planned.map((p) => [p.imageName, p.split]));
        const later = [
            ...first,
            ...visit("Chi", "2026-03-01T08:10:00Z", 5),
            ...numbered("Chi", 1_100, 200),
            ...Array.from({ length: 30 }, (_, i) =>
                visit("Chi", `2026-04-01T${String(i % 24).padStart(2, "0")}:00:00Z`, 3),
            ).flat(),
        ];
        const after = plan(later, rule).planned;
        assert.ok(after.some((p) => p.split === "test"));
        assert.deepEqual(
            after.filter((p) => before.has(p.imageName) && before.get(p.imageName) !== p.split),
            [],
        );
        // The frames that joined a visit took its side.
        const visitSide = before.get("2026-03-01T08:00:00.000Z.jpg");
        for (const p of after.filter((a) => a.imageName.startsWith("2026-03-01T08:"))) assert.equal(p.split, visitSide);
        for (const [group, onSides] of sidesByVisit(after)) assert.equal(onSides.size, 1, group);
    });

    it("counts visits for the small-class rules: three visits keep one on each side, two none in test, one never in test", () => {
        for (let day = 1; day <= 20; day++) {
            const dd = String(day).padStart(2, "0");
            const three = [
                ...visit("Chi", `2026-05-${dd}T07:00:00Z`, 15),
                ...visit("Chi", `2026-05-${dd}T12:00:00Z`, 2),
                ...visit("Chi", `2026-05-${dd}T19:00:00Z`, 8),
            ];
            const planned = plan(three, rule).planned;
            const sides = sidesByVisit(planned);
            assert.equal(sides.size, 3);
            assert.deepEqual([...new Set(planned.map((p) => p.split))].sort(), ["test", "training", "validation"], dd);
            const two = plan(three.slice(0, 17), rule).planned;
            assert.deepEqual([...new Set(two.map((p) => p.split))].sort(), ["training", "validation"], dd);
            const one = plan(three.slice(0, 15), rule).planned;
            assert.equal(new Set(one.map((p) => p.split)).size, 1, dd);
            assert.notEqual(one[0].split, "test", dd);
        }
    });

    it("gives each class of the seed's counts a test image, and reports its visits on each side", () => {
        const rows = seedLabels(SEED_COUNTS).map((l) => row(l.imageName, l.cat));
        const { labels: resolved } = resolveLabels(rows, Object.keys(SEED_COUNTS), PREFIX);
        const classes = Object.keys(SEED_COUNTS);
        const { planned, available } = plan(resolved, { ...SPLIT_DEFAULTS, classes, noCatClass: "NoCat" });
        const counts = countClasses(
            classes,
            available,
            planned.map((p) => ({ class: p.label, split: p.split, visit: p.visit })),
        );
        for (const className of classes) {
            const c = counts[className];
            assert.ok(c.test > 0 && c.validation > 0 && c.training > 0, `${className}: ${JSON.stringify(c)}`);
            assert.ok(
                c.groups!.test > 0 && c.groups!.training > c.groups!.test,
                `${className}: ${JSON.stringify(c.groups)}`,
            );
            assert.ok(c.groups!.training + c.groups!.validation + c.groups!.test < c.available, className);
        }
        for (const [group, onSides] of sidesByVisit(planned)) assert.equal(onSides.size, 1, group);
    });
});

describe("split rules", () => {
    it("sends about validationSplit of each class to validation and testSplit to test, and caps NoCat by a separate hash", () => {
        const { planned, available } = plan(
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
        for (const image of plan(labels("Boots", 200), rule).planned) {
            const f = stableFraction("split", image.imageName);
            assert.equal(image.split, f < 0.2 ? "validation" : f < 0.3 ? "test" : "training", image.imageName);
        }
    });

    it("keeps the validation side when the test fraction grows: new test images come from training only", () => {
        const smaller = new Map(plan(labels("Boots", 300), rule).planned.map((p) => [p.imageName, p.split]));
        let moved = 0;
        for (const image of plan(labels("Boots", 300), { ...rule, testSplit: 0.2 }).planned) {
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
                const splits = plan(labels("Chi", n, from), rule).planned.map((p) => p.split);
                for (const split of ["training", "validation", "test"])
                    assert.ok(splits.includes(split as never), `${n} from ${from}: ${splits}`);
            }
        }
        assert.deepEqual(splitCounts([0.05, 0.9], rule), { validation: 1, test: 0 });
        assert.deepEqual(splitCounts([0.25], rule), { validation: 0, test: 0 });
        assert.deepEqual(splitCounts([0.01, 0.02, 0.03], rule), { validation: 1, test: 1 });
    });

    it("keeps every image on its side when images are added", () => {
        const before = new Map(plan(labels("Boots", 100), rule).planned.map((p) => [p.imageName, p.split]));
        const after = plan([...labels("Boots", 100), ...labels("Boots", 30, 100)], rule).planned;
        assert.ok(after.some((p) => p.split === "test"));
        const moved = after.filter((p) => before.has(p.imageName) && before.get(p.imageName) !== p.split);
        assert.deepEqual(moved, []);
    });

    it("gives a class of two one image on each side, and a class of one the side its hash gives it", () => {
        const two = plan(labels("Chi", 2), rule).planned;
        assert.deepEqual(two.map((p) => p.split).sort(), ["training", "validation"]);
        for (const image of labels("Chi", 20)) {
            const [one] = plan([image], rule).planned;
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
