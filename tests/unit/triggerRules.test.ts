import { strict as assert } from "assert";
import {
    balancedClassWeights,
    checkDataset,
    trainingHyperParameters,
    trainingJobRequest,
    tuningJobRequest,
} from "../../handlers/trigger/trainingJob";
import { CLASSES, SETTINGS, manifest } from "../support/triggerFixtures";
import { contract, metricDefinitions } from "../../lib/contract";
import { parseFieldText, validateEvent } from "../../lib/eventFields";
import { TRIGGER_EVENT_RULES, parseTriggerEvent, trainingJobName, tuningJobName } from "../../lib/triggerEvent";

describe("trigger rules", () => {
    it("refuses every unknown key by name, members of Object.prototype included, and fills in the defaults", () => {
        for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty", "isPrototypeOf", "epoch"]) {
            assert.throws(
                () => validateEvent(JSON.parse(`{"${key}": 1}`), TRIGGER_EVENT_RULES, "trigger"),
                new RegExp(`Unknown field "${key}"`),
                key,
            );
        }
        const event = parseTriggerEvent({}, { spot: true, instanceType: "ml.c5.xlarge" });
        assert.equal(event.epochs, contract.hyperparameterDefaults.epochs);
        assert.equal(event.instanceType, "ml.c5.xlarge");
        assert.equal(event.classWeights, "balanced");
    });

    it("parses command-line text by the same rules", () => {
        assert.deepEqual(parseFieldText(TRIGGER_EVENT_RULES.epochs, "12"), { value: 12 });
        assert.deepEqual(parseFieldText(TRIGGER_EVENT_RULES.epochs, "0"), {
            error: "expected an integer from 1 to 10000.",
        });
        assert.deepEqual(parseFieldText(TRIGGER_EVENT_RULES.learningRate, ""), {
            error: "expected a number greater than 0 and less than 1.",
        });
        assert.deepEqual(parseFieldText(TRIGGER_EVENT_RULES.spot, "false"), { value: false });
    });

    it("weighs classes N / (K · n_c) and names the same job for the same request id", () => {
        assert.deepEqual(balancedClassWeights({ Boots: 10, Chi: 30, NoCat: 20 }, CLASSES), {
            Boots: 2,
            Chi: 0.666667,
            NoCat: 1,
        });
        // sha256("r-1"), its first 24 hex digits: the same request id always names the same job.
        assert.equal(trainingJobName("r-1"), "bootboots-a5fa777a3dc67268caea6eea");
        assert.notEqual(trainingJobName("r-1"), trainingJobName("r-2"));
        assert.match(trainingJobName("r-1"), /^bootboots-[0-9a-f]{24}$/);
    });

    it("refuses a dataset of other classes, too few images, or a class missing from a side", () => {
        assert.doesNotThrow(() => checkDataset(manifest({ Boots: [20, 5], Chi: [20, 5], NoCat: [20, 5] }), CLASSES));
        assert.throws(
            () => checkDataset(manifest({ Boots: [20, 5], Chi: [20, 5], NoCat: [20, 5] }, 49), CLASSES),
            /49 training images; training needs at least 50/,
        );
        assert.throws(
            () => checkDataset(manifest({ Boots: [20, 5], Chi: [20, 0], NoCat: [20, 5] }), CLASSES),
            /Chi \(training 20, validation 0\)/,
        );
        assert.throws(
            () => checkDataset(manifest({ Boots: [20, 5], Chi: [20, 5], NoCat: [20, 5] }), ["Boots", "Chi"]),
            /built for classes Boots, Chi, NoCat/,
        );
        assert.throws(
            () => checkDataset(manifest({ Boots: [20, 5], Chi: [20, 5], NoCat: [20, 5] }, 60, 0), CLASSES),
            /no test images \(it was built before the held-out test split\): prepare a new dataset/,
        );
    });

    it("builds the job request: every hyperparameter a string, checkpoints only with spot, the metric definitions", () => {
        const event = parseTriggerEvent({ epochs: 5, spot: true }, { spot: false, instanceType: "ml.m5.xlarge" });
        const request = trainingJobRequest(
            "bootboots-abc",
            event,
            SETTINGS,
            manifest({ Boots: [10, 2], Chi: [30, 5], NoCat: [20, 4] }),
            "req",
        );
        assert.ok(Object.values(request.HyperParameters!).every((v) => typeof v === "string"));
        assert.deepEqual(
            request.HyperParameters,
            trainingHyperParameters(event, SETTINGS, { Boots: 10, Chi: 30, NoCat: 20 }),
        );
        assert.equal(request.CheckpointConfig?.S3Uri, "s3://models/checkpoints/bootboots-abc/");
        assert.equal(request.StoppingCondition?.MaxWaitTimeInSeconds, 14_400);
        assert.deepEqual(request.AlgorithmSpecification?.MetricDefinitions, metricDefinitions);
        // Every input is a channel, so the job can run with network isolation.
        assert.deepEqual(
            request.InputDataConfig?.map((c) => [c.ChannelName, c.DataSource?.S3DataSource?.S3Uri]),
            [
                ["training", "s3://training/datasets/20260101T000000Z-abcd/training/"],
                ["validation", "s3://training/datasets/20260101T000000Z-abcd/validation/"],
                ["test", "s3://training/datasets/20260101T000000Z-abcd/test/"],
                ["manifest", "s3://training/datasets/20260101T000000Z-abcd/manifest.json"],
                ["code", "s3://models/code/sourcedir-x.tar.gz"],
                ["base_weights", "s3://models/base-weights/w_no_top.h5"],
            ],
        );
        assert.equal(request.EnableNetworkIsolation, true);
        assert.equal(request.HyperParameters?.sagemaker_submit_directory, "/opt/ml/input/data/code/sourcedir-x.tar.gz");
        assert.equal(request.HyperParameters?.target_class, "Boots");
        assert.equal(request.HyperParameters?.max_false_alarm_rate, "0.01");
        const onDemand = trainingJobRequest(
            "bootboots-abc",
            { ...event, spot: false },
            SETTINGS,
            manifest({ Boots: [10, 2], Chi: [30, 5], NoCat: [20, 4] }),
            "req",
        );
        assert.equal(onDemand.CheckpointConfig, undefined);
    });
});

describe("tuning rules", () => {
    it("keeps the tuned hyperparameters out of the static ones, and the objective among the metric definitions", () => {
        const event = {
            ...parseTriggerEvent({ tune: {} }, { spot: false, instanceType: "ml.m5.xlarge" }),
            tune: { maxJobs: 12, parallelJobs: 3 },
        };
        const request = tuningJobRequest(
            tuningJobName("r"),
            event,
            SETTINGS,
            manifest({ Boots: [10, 2], Chi: [30, 5], NoCat: [20, 4] }),
            "req",
        );
        const statics = Object.keys(request.TrainingJobDefinition!.StaticHyperParameters!);
        for (const tuned of ["learning_rate", "dropout_rate", "train_only_top_layer", "batch_size"])
            assert.ok(!statics.includes(tuned), tuned);
        assert.ok(statics.includes("epochs") && statics.includes("class_weights"));
        assert.ok(
            metricDefinitions.some(
                (m) => m.Name === request.HyperParameterTuningJobConfig!.HyperParameterTuningJobObjective!.MetricName,
            ),
        );
        assert.deepEqual(parseTriggerEvent({ tune: {} }, { spot: false, instanceType: "ml.m5.xlarge" }).tune, {
            maxJobs: 12,
            parallelJobs: 3,
        });
    });
});
