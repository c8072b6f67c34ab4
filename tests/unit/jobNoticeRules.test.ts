import { strict as assert } from "assert";
import { failureAdvice, failedNotice, modelPackageRequest, parseJobEvent } from "../../handlers/jobEvents/jobNotice";
import { Comparison, verdict } from "../../lib/comparison";

const delta = (d: number, low: number, high: number) => ({
    candidate: 0.5 + d,
    baseline: 0.5,
    delta: d,
    low,
    high,
    significant: low > 0 || high < 0,
});
const comparison = (macro: ReturnType<typeof delta>, recall = delta(0, -0.1, 0.1)): Comparison => ({
    candidate: "new",
    baseline: "old",
    commonImages: 120,
    commonVisits: 40,
    classes: ["Boots", "NoCat"],
    targetClass: "Boots",
    thresholds: { candidate: 0.5, baseline: 0.5 },
    perClassF1: {},
    macroF1: macro,
    targetRecall: recall,
    falseAlarmRate: delta(0, -0.01, 0.01),
    visitRecall: delta(0, -0.1, 0.1),
    visitFalseAlarmRate: delta(0, -0.01, 0.01),
    resamples: 2000,
});

describe("job-event rules", () => {
    it("reads a finished training or tuning job from its EventBridge event, and nothing else", () => {
        const training = parseJobEvent({
            "detail-type": "SageMaker Training Job State Change",
            detail: {
                TrainingJobName: "bootboots-x",
                TrainingJobStatus: "Completed",
                TuningJobArn: "arn:aws:sagemaker:eu-west-2:1:hyper-parameter-tuning-job/bootboots-t",
                Tags: { "bootboots:datasetId": "d" },
            },
        });
        assert.deepEqual(training, {
            kind: "training",
            name: "bootboots-x",
            status: "Completed",
            failureReason: undefined,
            modelUrl: undefined,
            tuningJob: "bootboots-t",
            datasetId: "d",
        });
        assert.equal(
            parseJobEvent({
                "detail-type": "SageMaker Training Job State Change",
                detail: { TrainingJobStatus: "InProgress" },
            }),
            undefined,
        );
        assert.equal(parseJobEvent({ "detail-type": "Scheduled Event", detail: {} }), undefined);
        assert.equal(parseJobEvent(null), undefined);
        assert.equal(
            parseJobEvent({
                "detail-type": "SageMaker HyperParameter Tuning Job State Change",
                detail: { HyperParameterTuningJobName: "t", HyperParameterTuningJobStatus: "Stopped" },
            })?.kind,
            "tuning",
        );
    });

    it("says better only when macro-F1 is significantly higher, worse when any gate figure is significantly worse", () => {
        assert.equal(verdict(comparison(delta(0.07, 0.02, 0.12))).word, "better");
        assert.equal(
            verdict(comparison(delta(0.07, 0.02, 0.12))).sentence,
            "new is significantly better than old on the 120 test images (40 visits) both saw (macro-F1 +0.070, 95% interval +0.020 to +0.120).",
        );
        assert.equal(verdict(comparison(delta(0.01, -0.02, 0.04))).word, "no different");
        assert.equal(verdict(comparison(delta(0.07, 0.02, 0.12), delta(-0.2, -0.3, -0.1))).word, "worse");
        assert.match(
            verdict(comparison(delta(-0.1, -0.2, -0.05))).sentence,
            /^new is significantly worse than old .*: macro-F1 \(−0\.100/,
        );
    });

    it("advises by the failure reason, and registers a version with its figures as strings, pending approval", () => {
        assert.match(failureAdvice("Failed", "ResourceLimitExceeded: spot quota"), /--no-spot/);
        assert.match(failureAdvice("Stopped", "MaxRuntimeExceeded"), /--max-runtime/);
        assert.equal(failedNotice("j", "Failed", undefined, "Training").body.split("\n")[0], "Training job j failed.");
        const request = modelPackageRequest({
            group: "bootboots",
            job: "j",
            modelUrl: "s3://m/training-output/j/output/model.tar.gz",
            evaluationUrl: "s3://m/training-output/j/output/evaluation.json",
            inferenceImage: "image",
            figures: {
                testMacroF1: 0.8123,
                decision: {
                    target_class: "Boots",
                    threshold: 0.62,
                    max_false_alarm_rate: 0.01,
                    validation_recall: 0.9,
                    validation_false_alarm_rate: 0,
                    test_recall: null,
                    test_false_alarm_rate: 0.011,
                },
            },
            verdict: "v".repeat(300),
        });
        assert.equal(request.ModelApprovalStatus, "PendingManualApproval");
        assert.deepEqual(request.CustomerMetadataProperties, {
            trainingJob: "j",
            datasetId: "unknown",
            testMacroF1: "0.812",
            targetClass: "Boots",
            targetRecall: "n/a",
            falseAlarmRate: "0.011",
            threshold: "0.620",
            verdict: "v".repeat(256),
        });
    });
});
