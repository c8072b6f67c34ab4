import { contract, metricDefinitions } from "../../lib/contract";
import { DatasetManifest } from "../../lib/dataset";

/** The settings and datasets the trigger rules are tried on, in the unit tests and against the service model. */
export const CLASSES = ["Boots", "Chi", "NoCat"];
export const SETTINGS = {
    region: "eu-west-2",
    trainingBucket: "training",
    modelBucket: "models",
    sagemakerRoleArn: "arn:aws:iam::123456789012:role/sm",
    trainingImageUri: "image",
    trainingScriptUri: "s3://models/code/sourcedir-x.tar.gz",
    classes: CLASSES,
    metricDefinitions,
    baseWeightsUri: "s3://models/base-weights/w_no_top.h5",
    networkIsolation: true,
    targetClass: "Boots",
    maxFalseAlarmRate: 0.01,
    tuning: contract.tuning,
    stackName: "sandbox",
};
export const manifest = (
    counts: Record<string, [number, number]>,
    trainingImages = 60,
    testImages = 6,
): DatasetManifest =>
    ({
        datasetId: "20260101T000000Z-abcd",
        classes: CLASSES,
        trainingImages,
        testImages,
        classDistribution: Object.fromEntries(
            Object.entries(counts).map(([c, [t, v]]) => [c, { available: t + v, training: t, validation: v }]),
        ),
    }) as unknown as DatasetManifest;
