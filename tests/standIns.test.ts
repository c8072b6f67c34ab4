import { strict as assert } from "assert";
import * as http from "http";
import { CreateTrainingJobCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { trainingJobRequest, tuningJobRequest } from "../handlers/trigger/trainingJob";
import { parseTriggerEvent, trainingJobName, tuningJobName } from "../lib/triggerEvent";
import { freePort } from "./support/moto";
import { RecordedRequest, startProxy } from "./support/proxy";
import { checkSageMakerRequest, operationProblems, serviceModel } from "./support/serviceModel";
import { SETTINGS, manifest } from "./support/triggerFixtures";
import { tuningRequestProblem } from "./support/tuningStandIn";

const DATASET = manifest({ Boots: [10, 2], Chi: [30, 5], NoCat: [20, 4] });

function tuningRequest(tune = { maxJobs: 12, parallelJobs: 3 }) {
    const event = { ...parseTriggerEvent({ tune }, { spot: true, instanceType: "ml.m5.xlarge" }), tune };
    return tuningJobRequest(tuningJobName(`request-${tune.maxJobs}`), event, SETTINGS, DATASET, "req");
}

function trainingRequest() {
    const event = parseTriggerEvent({}, { spot: true, instanceType: "ml.m5.xlarge" });
    return trainingJobRequest(trainingJobName("req"), event, SETTINGS, DATASET, "req");
}

/** A request as it reaches a proxy. */
function recorded(url: string, headers: http.IncomingHttpHeaders, body: Buffer | string): RecordedRequest {
    return { method: "POST", url, headers, body: Buffer.from(body) };
}

describe("the stand-ins and the proxy, as strict as SageMaker's service model (botocore's)", () => {
    it("the tuning stand-in accepts the trigger's tuning request for any allowed size, named within 32 characters", () => {
        for (const tune of [
            { maxJobs: 2, parallelJobs: 1 },
            { maxJobs: 12, parallelJobs: 3 },
            { maxJobs: 100, parallelJobs: 10 },
        ]) {
            const request = tuningRequest(tune);
            assert.equal(tuningRequestProblem(request), undefined, JSON.stringify(tune));
            assert.ok(request.HyperParameterTuningJobName!.length <= 32);
        }
        assert.equal(tuningJobName("r"), "bootboots-b7f745103d1b1aca790f1a", 'sha256("tune:r"), within 32 characters');
        assert.notEqual(tuningJobName("r"), tuningJobName("s"));
    });

    it("the tuning stand-in refuses missing required members, values outside an enum, and broken documented rules", () => {
        const broken: [string, (r: any) => void, RegExp][] = [
            [
                "no StoppingCondition",
                (r) => delete r.TrainingJobDefinition.StoppingCondition,
                /TrainingJobDefinition: missing required member StoppingCondition/,
            ],
            [
                "no OutputDataConfig",
                (r) => delete r.TrainingJobDefinition.OutputDataConfig,
                /TrainingJobDefinition: missing required member OutputDataConfig/,
            ],
            [
                "no ResourceConfig",
                (r) => delete r.TrainingJobDefinition.ResourceConfig,
                // The model leaves it optional, for instance pools; the API reference requires one or the other.
                /TrainingJobDefinition needs a ResourceConfig or a HyperParameterTuningResourceConfig/,
            ],
            [
                "Objective.Type Sideways",
                (r) => (r.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type = "Sideways"),
                /HyperParameterTuningJobObjective\.Type: "Sideways" is not one of Maximize, Minimize/,
            ],
            [
                "TrainingInputMode Bogus",
                (r) => (r.TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode = "Bogus"),
                /AlgorithmSpecification\.TrainingInputMode: "Bogus" is not one of Pipe, File, FastFile/,
            ],
            [
                "a name of 33 characters",
                (r) => (r.HyperParameterTuningJobName = "a".repeat(33)),
                /HyperParameterTuningJobName: 33 characters, more than 32/,
            ],
            [
                "a name with an underscore",
                (r) => (r.HyperParameterTuningJobName = "bad_name"),
                /HyperParameterTuningJobName: "bad_name" must match/,
            ],
            [
                "a numeric hyperparameter",
                (r) => (r.TrainingJobDefinition.StaticHyperParameters.epochs = 12),
                /StaticHyperParameters\.epochs: expected a string, got 12/,
            ],
            [
                "more parallel jobs than jobs",
                (r) => (r.HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs = 20),
                /MaxParallelTrainingJobs may not exceed MaxNumberOfTrainingJobs/,
            ],
            [
                "an objective outside the metric definitions",
                (r) => (r.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName = "nonsense"),
                /The objective metric nonsense is not among the MetricDefinitions/,
            ],
        ];
        for (const [what, breakIt, expected] of broken) {
            const request = structuredClone(tuningRequest()) as any;
            breakIt(request);
            assert.match(tuningRequestProblem(request) ?? "accepted", expected, what);
        }
    });

    it("the proxy refuses a CreateTrainingJob that SageMaker would, answering ValidationException, and forwards a valid one", async () => {
        const port = await freePort();
        const upstream = http.createServer((_, res) => {
            res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
            res.end(JSON.stringify({ TrainingJobArn: "arn:aws:sagemaker:eu-west-2:123456789012:training-job/x" }));
        });
        await new Promise<void>((done) => upstream.listen(port, "127.0.0.1", () => done()));
        const proxy = await startProxy(`http://127.0.0.1:${port}`);
        const client = new SageMakerClient({
            region: "eu-west-2",
            endpoint: proxy.endpoint,
            credentials: { accessKeyId: "test", secretAccessKey: "test" },
            maxAttempts: 1,
        });
        try {
            const valid = trainingRequest();
            await client.send(new CreateTrainingJobCommand(valid));
            const bogus = structuredClone(valid) as any;
            bogus.AlgorithmSpecification.TrainingInputMode = "Bogus";
            bogus.StoppingCondition.MaxRuntimeInSeconds = 0;
            await assert.rejects(client.send(new CreateTrainingJobCommand(bogus)), (error: Error) => {
                assert.equal(error.name, "ValidationException");
                assert.match(error.message, /TrainingInputMode: "Bogus" is not one of Pipe, File, FastFile/);
                assert.match(error.message, /StoppingCondition\.MaxRuntimeInSeconds: 0 is below 1/);
                return true;
            });
            assert.equal(proxy.invalid.length, 1);
            assert.match(proxy.invalid[0], /^CreateTrainingJob: /);
            assert.equal(proxy.requests.length, 2, "both reached the proxy; only the valid one went on");
        } finally {
            await proxy.close();
            upstream.close();
        }
    });

    it("checks InvokeEndpoint as SageMaker Runtime reads it: the endpoint name, the headers and the body's size", () => {
        const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
        const ok = checkSageMakerRequest(
            recorded("/endpoints/bootboots/invocations", { "content-type": "application/json" }, jpeg),
        );
        assert.deepEqual(ok, { operation: "InvokeEndpoint", problems: [] });
        const cases: [RecordedRequest, RegExp][] = [
            [recorded("/endpoints/boot_boots/invocations", {}, jpeg), /EndpointName: "boot_boots" must match/],
            [
                recorded(`/endpoints/${"b".repeat(64)}/invocations`, {}, jpeg),
                /EndpointName: 64 characters, more than 63/,
            ],
            [
                recorded("/endpoints/bootboots/invocations", { "content-type": "x".repeat(1025) }, jpeg),
                /ContentType: 1025 characters, more than 1024/,
            ],
            [
                recorded("/endpoints/bootboots/invocations", {}, Buffer.alloc(6_291_457)),
                /Body: 6291457 bytes, more than 6291456/,
            ],
            [
                recorded(
                    "/endpoints/bootboots/invocations",
                    { "x-amzn-sagemaker-target-variant": "bad variant" },
                    jpeg,
                ),
                /TargetVariant: "bad variant" must match/,
            ],
        ];
        for (const [request, expected] of cases) {
            const checked = checkSageMakerRequest(request);
            assert.match(checked!.problems.join("; "), expected, request.url);
        }
        assert.equal(checkSageMakerRequest(recorded("/bucket/key", {}, "")), undefined, "S3 is not checked here");
    });

    it("checks CreateModelPackage against the model: required members, the approval status enum, a metadata map's limits", () => {
        const model = serviceModel("sagemaker");
        const valid = {
            ModelPackageGroupName: "bootboots",
            ModelApprovalStatus: "PendingManualApproval",
            CustomerMetadataProperties: { trainingJob: "bootboots-20260101-000000-abcd" },
            InferenceSpecification: {
                Containers: [{ Image: "763104351884.dkr.ecr.eu-west-2.amazonaws.com/tensorflow-inference:2.19-cpu" }],
                SupportedContentTypes: ["application/json"],
                SupportedResponseMIMETypes: ["application/json"],
            },
        };
        assert.deepEqual(operationProblems(model, "CreateModelPackage", valid), []);
        const problems = operationProblems(model, "CreateModelPackage", {
            ...valid,
            ModelApprovalStatus: "Maybe",
            CustomerMetadataProperties: { "": "x" },
            InferenceSpecification: { Containers: [] },
        }).join("; ");
        assert.match(problems, /ModelApprovalStatus: "Maybe" is not one of Approved, Rejected, PendingManualApproval/);
        assert.match(problems, /CustomerMetadataProperties key "": 0 characters, fewer than 1/);
        assert.match(problems, /InferenceSpecification\.Containers: 0 items, fewer than 1/);
    });
});
