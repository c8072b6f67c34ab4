import { createHash } from "crypto";
import type { ClassCounts, ManifestImage, Split, SplitSettings } from "../lib/dataset";
import { Label } from "./labels";

/** An image with the side of the split it falls on. */
export interface PlannedImage extends Label {
    readonly split: Split;
}

/** How a dataset is drawn from the labels: the classes, and the split settings. */
export interface SplitRule extends SplitSettings {
    readonly classes: readonly string[];
    readonly noCatClass: string;
}

/**
 * A number in [0, 1) fixed by the image name alone, so an image keeps its place when
 * others are added. The purpose salts the hash so that sampling and splitting are
 * independent draws (else the sampled NoCat images would all fall on one side).
 */
export function stableFraction(purpose: "split" | "sample", imageName: string): number {
    const digest = createHash("sha256").update(`${purpose}:${imageName}`).digest();
    return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** Images ordered by their stable fraction for the purpose, each hashed once. */
function byStableFraction(purpose: "split" | "sample", images: readonly Label[]): { image: Label; fraction: number }[] {
    return images
        .map((image) => ({ image, fraction: stableFraction(purpose, image.imageName) }))
        .sort((a, b) => a.fraction - b.fraction);
}

/**
 * How many of a class's images (ordered by split hash) go to validation and to test: the
 * validation side takes the hashes below validationSplit, the test side those from there
 * to validationSplit + testSplit, training the rest. A class of three or more keeps at least
 * one image in each split; a class of two has one validation and one training image; a
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
 * Stable, stratified plan: NoCat keeps the images with the lowest sample hashes, and each
 * image's split hash puts it in validation, test or training (splitCounts). An image keeps
 * its split as images are added, as long as the fractions stay the same.
 */
export function planSplit(
    labels: readonly Label[],
    rule: SplitRule,
): { planned: PlannedImage[]; available: Map<string, number> } {
    const byClass = new Map<string, Label[]>(rule.classes.map((c) => [c, []]));
    for (const label of labels) byClass.get(label.label)!.push(label);
    const available = new Map([...byClass].map(([c, images]) => [c, images.length]));

    const planned: PlannedImage[] = [];
    for (const [className, images] of byClass) {
        const kept =
            className === rule.noCatClass && images.length > rule.maxNoCatSamples
                ? byStableFraction("sample", images)
                      .slice(0, rule.maxNoCatSamples)
                      .map((entry) => entry.image)
                : images;
        const bySplitHash = byStableFraction("split", kept);
        const counts = splitCounts(
            bySplitHash.map((entry) => entry.fraction),
            rule,
        );
        bySplitHash.forEach(({ image }, index) =>
            planned.push({
                ...image,
                split:
                    index < counts.validation
                        ? "validation"
                        : index < counts.validation + counts.test
                          ? "test"
                          : "training",
            }),
        );
    }
    return { planned, available };
}

/**
 * The file name inside the dataset: the key below the images prefix with '%' and '/'
 * percent-encoded. The encoding is one-to-one, so two source keys never share a file
 * (`cam0/x.jpg` becomes `cam0%2Fx.jpg`, `cam0__x.jpg` stays as it is).
 */
export function datasetFileName(sourceKey: string, imagesPrefix: string): string {
    return sourceKey.slice(imagesPrefix.length).replace(/%/g, "%25").replace(/\//g, "%2F");
}

/** The images per class as labelled, and on each side of the split as written. */
export function countClasses(
    classes: readonly string[],
    available: ReadonlyMap<string, number>,
    images: readonly Pick<ManifestImage, "class" | "split">[],
): Record<string, ClassCounts> {
    const distribution: Record<string, ClassCounts> = {};
    for (const className of classes) {
        const ofClass = images.filter((i) => i.class === className);
        distribution[className] = {
            available: available.get(className) ?? 0,
            training: ofClass.filter((i) => i.split === "training").length,
            validation: ofClass.filter((i) => i.split === "validation").length,
            test: ofClass.filter((i) => i.split === "test").length,
        };
    }
    return distribution;
}
