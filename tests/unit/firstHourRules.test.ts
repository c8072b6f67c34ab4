import { strict as assert } from "assert";
import { newestSpreadOverDays, takenAt } from "../../cli/labelling/queue";
import { SPLIT_DEFAULTS, labelShortfall } from "../../lib/dataset";
import { catadataKeyProblem, createTableCommand } from "../../lib/prerequisites";

const CLASSES = ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"];

describe("first-hour rules", () => {
    it("estimates the first job's training images per class and what is missing, NoCat capped", () => {
        const none = labelShortfall({}, {}, CLASSES, "NoCat", SPLIT_DEFAULTS);
        assert.equal(none.estimatedTraining, 0);
        assert.deepEqual(Object.values(none.perClass), [3, 3, 3, 3, 3, 3, 3]);
        // Seven classes at three labels give one training image each: 43 more at 0.7 each make 62.
        assert.equal(none.forTraining, 62);
        const enough = labelShortfall(
            { Boots: 20, Chi: 10, Kappa: 10, Mu: 5, NoCat: 900, Tau: 8, Wolf: 6 },
            { Boots: 6, Chi: 4, Kappa: 3, Mu: 3, NoCat: 40, Tau: 5, Wolf: 3 },
            CLASSES,
            "NoCat",
            SPLIT_DEFAULTS,
        );
        // 20 → 14, 10 → 7, 10 → 7, 5 → 3, NoCat capped at 200 → 140, 8 → 5, 6 → 4.
        assert.equal(enough.estimatedTraining, 180);
        assert.equal(enough.forTraining, 0);
        assert.ok(Object.values(enough.perClass).every((more) => more === 0));
        const two = labelShortfall({ Boots: 2 }, { Boots: 2 }, ["Boots"], "NoCat", SPLIT_DEFAULTS);
        assert.deepEqual([two.estimatedTraining, two.perClass.Boots], [1, 1]);
        // Thirty frames of one visit are one visit: two more visits are needed for every side.
        const burst = labelShortfall({ Boots: 30 }, { Boots: 1 }, ["Boots"], "NoCat", SPLIT_DEFAULTS);
        assert.equal(burst.perClass.Boots, 2);
    });

    it("takes an image's time from the ISO time in its name, else from when it was stored", () => {
        const stored = new Date("2026-12-01T08:00:00Z");
        assert.equal(
            takenAt("catcam-training/2026-02-21T15:30:33.123Z.jpg", stored).toISOString(),
            "2026-02-21T15:30:33.123Z",
        );
        assert.equal(takenAt("catcam-training/540.jpeg", stored), stored);
        assert.equal(takenAt("catcam-training/2026-13-45T99:99:99Z.jpg", stored), stored, "not a time");
    });

    it("queues the newest images in turn from each day, newest day first, up to the limit", () => {
        const image = (iso: string) => ({ key: `${iso}.jpg`, takenAt: new Date(iso) });
        const images = [
            image("2026-11-30T10:00:00Z"),
            image("2026-11-30T10:01:00Z"),
            image("2026-11-30T10:02:00Z"),
            image("2026-11-29T09:00:00Z"),
            image("2026-11-27T09:00:00Z"),
        ];
        assert.deepEqual(
            newestSpreadOverDays(images, 4).map((i) => i.key),
            [
                "2026-11-30T10:02:00Z.jpg",
                "2026-11-29T09:00:00Z.jpg",
                "2026-11-27T09:00:00Z.jpg",
                "2026-11-30T10:01:00Z.jpg",
            ],
        );
        assert.equal(newestSpreadOverDays(images, 50).length, 5);
        assert.deepEqual(newestSpreadOverDays([], 5), []);
    });

    it("accepts a catadata table keyed by imageName (S) alone, and says what is wrong with any other", () => {
        assert.equal(
            catadataKeyProblem("t", { hashKey: "imageName", hashKeyType: "S", hasRangeKey: false }),
            undefined,
        );
        assert.equal(
            catadataKeyProblem("t", { hashKey: undefined, hashKeyType: undefined, hasRangeKey: false }),
            "the table t is keyed by nothing, not imageName (type S)",
        );
        assert.equal(
            createTableCommand("catadata", "eu-west-2"),
            "aws dynamodb create-table --table-name catadata --region eu-west-2 --attribute-definitions AttributeName=imageName,AttributeType=S --key-schema AttributeName=imageName,KeyType=HASH --billing-mode PAY_PER_REQUEST",
        );
    });
});
