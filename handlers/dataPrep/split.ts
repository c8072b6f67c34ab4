import { createHash } from "crypto";
import type { ClassCounts, ManifestImage, Split, SplitSettings } from "../../lib/dataset";
import { Label } from "../../lib/labels";
import { groupVisits } from "../../lib/visits";

/** An image with its visit (lib/visits.ts) and the side of the split it falls on. */
export interface PlannedImage extends Label {
    readonly visit: string;
    /** The capture time its name carries, when it carries one. */
    readonly capturedAt?: string;
    readonly split: Split;
}

/** How a dataset is drawn from the labels: the classes, and the split settings. */
export interface SplitRule extends SplitSettings {
    readonly classes: readonly string[];
    readonly noCatClass: string;
}

/**
 * A number in [0, 1) fixed by a name alone, so that an image or a visit keeps its place when
 * others are added. The purpose salts the hash so that sampling and splitting are
 * independent draws (else the sampled NoCat images would all fall on one side).
 */
export function stableFraction(purpose: "split" | "sample", name: string): number {
    const digest = createHash("sha256").update(`${purpose}:${name}`).digest();
    return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** Images ordered by their sample fraction, each hashed once. */
function bySampleFraction(images: readonly Label[]): Label[] {
    return images
        .map((image) => ({ image, fraction: stableFraction("sample", image.imageName) }))
        .sort((a, b) => a.fraction - b.fraction)
        .map((entry) => entry.image);
}

/**
 * How many of a class's visits (ordered by split hash) go to validation and to test: the
 * validation side takes the hashes below validationSplit, the test side those from there
 * to validationSplit + testSplit, training the rest. A class of three or more visits keeps
 * at least one in each split; a class of two has one validation and one training visit; a
 * class of one goes where its hash puts it, never to test.
 */
export function splitCounts(
    fractions: readonly number[],
    rule: Pick<SplitRule, "validationSplit" | "testSplit">,
): { validation: number; test: number } {
    const n = fractions.length;
    let validation = fractions.filter((f) => f < rule.validationSplit).length;
    let test = fractions.filter((f) => f >= rule.validationSplit && f < rule.validationSplit + rule.testSplit).length;
    if (n >= 3) {
        validation = Math.max(validation, 1);
        test = Math.max(test, 1);
        // Training keeps at least one: take the surplus from the larger held-out side.
        while (validation + test > n - 1) {
            if (validation >= test) validation -= 1;
            else test -= 1;
        }
    } else if (n === 2) {
        validation = 1;
        test = 0;
    } else {
        test = 0;
    }
    return { validation, test };
}

/**
 * The labels a dataset draws on, and how many each class has: NoCat is cut to maxNoCatSamples by
 * the images with the lowest sample hashes (stable as images are added); the other classes keep all.
 */
export function sampleLabels(
    labels: readonly Label[],
    rule: SplitRule,
): { kept: Label[]; available: Map<string, number> } {
    const byClass = new Map<string, Label[]>(rule.classes.map((c) => [c, []]));
    for (const label of labels) byClass.get(label.label)!.push(label);
    const available = new Map([...byClass].map(([c, images]) => [c, images.length]));
    const kept = [...byClass].flatMap(([className, images]) =>
        className === rule.noCatClass && images.length > rule.maxNoCatSamples
            ? bySampleFraction(images).slice(0, rule.maxNoCatSamples)
            : images,
    );
    return { kept, available };
}

/**
 * Stable, stratified plan by visit: each class's images are grouped into visits (lib/visits.ts
 * groupVisits: the frames of one camera within visitGapMinutes of each other), and each visit's
 * split hash puts all its images in validation, test or training (splitCounts over the visits).
 * An image keeps its side as images are added, as long as its visit keeps its first frame.
 * Plan only images that will be copied: the small-class rules count the visits given.
 */
export function planSplit(images: readonly Label[], rule: SplitRule): PlannedImage[] {
    const planned: PlannedImage[] = [];
    for (const className of rule.classes) {
        const ofClass = images.filter((image) => image.label === className);
        const visitOf = groupVisits(ofClass, rule);
        const visits = new Map<string, Label[]>();
        for (const image of ofClass) {
            const visit = visitOf.get(image.imageName)!.visit;
            const members = visits.get(visit);
            if (members) members.push(image);
            else visits.set(visit, [image]);
        }
        const bySplitHash = [...visits]
            .map(([visit, members]) => ({ visit, members, fraction: stableFraction("split", visit) }))
            .sort((a, b) => a.fraction - b.fraction || (a.visit < b.visit ? -1 : 1));
        const counts = splitCounts(
            bySplitHash.map((visit) => visit.fraction),
            rule,
        );
        bySplitHash.forEach(({ visit, members }, index) => {
            const split: Split =
                index < counts.validation
                    ? "validation"
                    : index < counts.validation + counts.test
                      ? "test"
                      : "training";
            for (const image of members) {
                const capturedAt = visitOf.get(image.imageName)!.capturedAt;
                planned.push({ ...image, visit, ...(capturedAt ? { capturedAt } : {}), split });
            }
        });
    }
    return planned;
}

/**
 * The file name inside the dataset: the key below the images prefix with '%' and '/'
 * percent-encoded. The encoding is one-to-one, so two source keys never share a file
 * (`cam0/x.jpg` becomes `cam0%2Fx.jpg`, `cam0__x.jpg` stays as it is).
 */
export function datasetFileName(sourceKey: string, imagesPrefix: string): string {
    return sourceKey.slice(imagesPrefix.length).replace(/%/g, "%25").replace(/\//g, "%2F");
}

/** The images per class as labelled, and the images and visits on each side of the split as written. */
export function countClasses(
    classes: readonly string[],
    available: ReadonlyMap<string, number>,
    images: readonly Pick<ManifestImage, "class" | "split" | "visit">[],
): Record<string, ClassCounts> {
    const distribution: Record<string, ClassCounts> = {};
    for (const className of classes) {
        const ofClass = images.filter((i) => i.class === className);
        const onSide = (split: Split) => ofClass.filter((i) => i.split === split);
        const visitsOn = (split: Split) => new Set(onSide(split).map((i) => i.visit)).size;
        distribution[className] = {
            available: available.get(className) ?? 0,
            training: onSide("training").length,
            validation: onSide("validation").length,
            test: onSide("test").length,
            groups: { training: visitsOn("training"), validation: visitsOn("validation"), test: visitsOn("test") },
        };
    }
    return distribution;
}
