import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { SkippedImage, sourceKeyOf } from "./dataset";

/** One usable label: a catadata row resolved to its image's key and canonical class. */
export interface Label {
    readonly imageName: string;
    readonly sourceKey: string;
    readonly label: string;
    /** The camera the row names (the infer Lambda writes it), when it names one. */
    readonly camera?: string;
}

/** S3's limit on a key, in UTF-8 bytes. */
export const S3_MAX_KEY_BYTES = 1024;

const JPEG_NAME = /\.jpe?g$/i;
const MULTI_LABEL_SEPARATOR = /[,;|+&/]| and /i;

/** The class of one row (matched case-insensitively to `classes`), or why it cannot be used. */
export function readLabel(
    item: Record<string, AttributeValue>,
    classByLowerName: ReadonlyMap<string, string>,
): { label: string } | { reason: string } {
    const cat = item.cat;
    let values: string[];
    if (cat?.S !== undefined) values = [cat.S];
    else if (cat?.SS !== undefined) values = cat.SS;
    else if (cat?.L !== undefined) values = cat.L.map((v) => v.S ?? "");
    else return { reason: "no cat label (string attribute 'cat' missing)" };

    const parts = [
        ...new Set(
            values
                .flatMap((v) => v.split(MULTI_LABEL_SEPARATOR))
                .map((v) => v.trim())
                .filter(Boolean),
        ),
    ];
    if (parts.length === 0) return { reason: "empty cat label" };
    if (parts.length > 1)
        return { reason: `multi-label value ${JSON.stringify(values.join(", "))}: label one cat per image` };
    const canonical = classByLowerName.get(parts[0].toLowerCase());
    if (canonical === undefined) {
        return {
            reason: `unknown class ${JSON.stringify(parts[0])} (classes: ${[...classByLowerName.values()].join(", ")})`,
        };
    }
    return { label: canonical };
}

/** The row's image name and its key in the images bucket, or why the row names no usable image. */
function imageOfRow(
    item: Record<string, AttributeValue>,
    imagesPrefix: string,
): { imageName: string; sourceKey: string } | SkippedImage {
    const imageName = item.imageName?.S;
    if (!imageName)
        return { imageName: JSON.stringify(item.imageName ?? null), reason: "no imageName (string attribute)" };
    if (!JPEG_NAME.test(imageName)) return { imageName, reason: "not a .jpg or .jpeg name" };
    const sourceKey = sourceKeyOf(imageName, imagesPrefix);
    if (Buffer.byteLength(sourceKey, "utf8") > S3_MAX_KEY_BYTES)
        return { imageName, reason: `key longer than S3's ${S3_MAX_KEY_BYTES}-byte limit` };
    return { imageName, sourceKey };
}

/**
 * Resolves catadata rows to one label per image: rows naming the same object must agree,
 * and every row that cannot be used is listed with its reason. A row without `cat` is not
 * a fault but the labelling backlog (the camera API writes one per image): it is counted.
 */
export function resolveLabels(
    items: readonly Record<string, AttributeValue>[],
    classes: readonly string[],
    imagesPrefix: string,
): { labels: Label[]; skipped: SkippedImage[]; unlabelled: number } {
    const classByLowerName = new Map(classes.map((c) => [c.toLowerCase(), c]));
    const byKey = new Map<string, { imageNames: string[]; labels: Set<string>; camera?: string }>();
    const skipped: SkippedImage[] = [];
    let unlabelled = 0;
    for (const item of items) {
        const named = imageOfRow(item, imagesPrefix);
        if ("reason" in named) {
            skipped.push(named);
            continue;
        }
        const { imageName, sourceKey } = named;
        if (item.cat === undefined) {
            unlabelled += 1;
            continue;
        }
        const label = readLabel(item, classByLowerName);
        if ("reason" in label) {
            skipped.push({ imageName, reason: label.reason });
            continue;
        }
        const entry = byKey.get(sourceKey) ?? { imageNames: [], labels: new Set<string>(), camera: item.camera?.S };
        entry.imageNames.push(imageName);
        entry.labels.add(label.label);
        byKey.set(sourceKey, entry);
    }

    const labels: Label[] = [];
    for (const [sourceKey, entry] of byKey) {
        if (entry.labels.size > 1) {
            const reason = `conflicting labels: ${[...entry.labels].sort().join(", ")}`;
            skipped.push(...entry.imageNames.map((imageName) => ({ imageName, reason })));
        } else {
            const camera = entry.camera ? { camera: entry.camera } : {};
            labels.push({ imageName: entry.imageNames[0], sourceKey, label: [...entry.labels][0], ...camera });
        }
    }
    return { labels, skipped, unlabelled };
}
