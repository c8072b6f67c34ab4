import { createHash } from "crypto";
import { DATASETS_PREFIX } from "../lib/layout";

/** The dataset id form of DESIGN.md §4: sorts by time, e.g. `20260221T153033Z-4f2a`. */
export const DATASET_ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

export function newDatasetId(now: Date, randomHex: string): string {
    const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    return `${stamp}-${randomHex.slice(0, 4)}`;
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

export interface DatasetPointer {
    readonly datasetId: string;
}

export interface ClassCounts {
    readonly available: number;
    readonly training: number;
    readonly validation: number;
}

/** What data prep writes as `datasets/<id>/manifest.json` and the trigger reads back. */
export interface DatasetManifest {
    readonly datasetId: string;
    readonly createdAt: string;
    readonly sourceBucket: string;
    readonly sourcePrefix: string;
    readonly classes: readonly string[];
    readonly validationSplit: number;
    readonly maxNoCatSamples: number;
    readonly classDistribution: Readonly<Record<string, ClassCounts>>;
    readonly trainingImages: number;
    readonly validationImages: number;
    readonly repairedImages: number;
    readonly images: readonly ManifestImage[];
    readonly skipped: readonly SkippedImage[];
}

export interface ManifestImage {
    readonly imageName: string;
    readonly sourceKey: string;
    readonly key: string;
    readonly class: string;
    readonly split: "training" | "validation";
    readonly repaired: boolean;
}

export interface SkippedImage {
    readonly imageName: string;
    readonly reason: string;
}

export function datasetPrefix(datasetId: string): string {
    return `${DATASETS_PREFIX}${datasetId}/`;
}
