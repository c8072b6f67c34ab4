import { InjectedResponse, RecordedRequest } from "./proxy";
import { operationProblems, serviceModel } from "./serviceModel";

/**
 * SageMaker's tuning API, which moto lacks, answered as the API reference documents it:
 * CreateHyperParameterTuningJob (checked against the service model and the documented
 * rules), DescribeHyperParameterTuningJob, ListHyperParameterTuningJobs; and ListTrainingJobs
 * of the jobs in progress, which moto never has.
 * Plugged into the proxy in front of moto; every other request goes on to moto.
 */
export interface TuningStandIn {
    /** The requests CreateHyperParameterTuningJob accepted, by name. */
    readonly created: Map<string, any>;
    /** Refusals, in words, for the test to read. */
    readonly refused: string[];
    /** What DescribeHyperParameterTuningJob adds to a job: status, counters, best training job. */
    progress: Record<string, Record<string, unknown>>;
    /** Training jobs that ListTrainingJobs reports InProgress (moto's jobs are all Completed at once). */
    runningTrainingJobs: string[];
    inject(request: RecordedRequest): InjectedResponse | undefined;
}

const JSON_HEADERS = { "content-type": "application/x-amz-json-1.1" };

function error(type: string, message: string): InjectedResponse {
    return {
        status: 400,
        headers: { ...JSON_HEADERS, "x-amzn-errortype": type },
        body: JSON.stringify({ __type: type, message }),
    };
}

/**
 * What the API reference says of a CreateHyperParameterTuningJob request beyond its shapes
 * (which serviceModel.ts checks): the first rule broken, or undefined.
 */
function tuningRuleProblem(request: any): string | undefined {
    const config = request.HyperParameterTuningJobConfig;
    const limits = config.ResourceLimits ?? {};
    if (limits.MaxParallelTrainingJobs > limits.MaxNumberOfTrainingJobs)
        return "MaxParallelTrainingJobs may not exceed MaxNumberOfTrainingJobs";
    const ranges = config.ParameterRanges ?? {};
    const names: string[] = [];
    for (const range of ranges.ContinuousParameterRanges ?? []) {
        names.push(range.Name);
        if (!(Number(range.MinValue) < Number(range.MaxValue))) return `${range.Name}: MinValue must be below MaxValue`;
        if (range.ScalingType === "Logarithmic" && !(Number(range.MinValue) > 0))
            return `${range.Name}: a logarithmic range needs MinValue above 0`;
    }
    for (const range of ranges.CategoricalParameterRanges ?? []) names.push(range.Name);
    const definition = request.TrainingJobDefinition;
    if (!definition) return "TrainingJobDefinition is required (this stack sends no TrainingJobDefinitions)";
    if (!definition.ResourceConfig && !definition.HyperParameterTuningResourceConfig)
        return "TrainingJobDefinition needs a ResourceConfig or a HyperParameterTuningResourceConfig";
    const statics: Record<string, unknown> = definition.StaticHyperParameters ?? {};
    const overlap = names.filter((n) => n in statics);
    if (overlap.length) return `StaticHyperParameters may not include tuned hyperparameters (${overlap.join(", ")})`;
    const objective = config.HyperParameterTuningJobObjective?.MetricName;
    const defined: string[] = (definition.AlgorithmSpecification.MetricDefinitions ?? []).map(
        (m: { Name: string }) => m.Name,
    );
    if (!defined.includes(objective))
        return `The objective metric ${objective} is not among the MetricDefinitions (${defined.join(", ")})`;
    if (!definition.AlgorithmSpecification.TrainingImage && !definition.AlgorithmSpecification.AlgorithmName)
        return "AlgorithmSpecification needs a TrainingImage or an AlgorithmName";
    return undefined;
}

/**
 * Why SageMaker would refuse a CreateHyperParameterTuningJob request: every break of its
 * service model (required members, enums, lengths, patterns), else the first documented rule
 * broken; undefined when it would accept it.
 */
export function tuningRequestProblem(request: unknown): string | undefined {
    const problems = operationProblems(serviceModel("sagemaker"), "CreateHyperParameterTuningJob", request);
    return problems.length ? problems.join("; ") : tuningRuleProblem(request);
}

function ok(body: unknown): InjectedResponse {
    return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

export function tuningStandIn(): TuningStandIn {
    const standIn: TuningStandIn = {
        created: new Map(),
        refused: [],
        progress: {},
        runningTrainingJobs: [],
        inject(request) {
            const target = request.headers["x-amz-target"];
            if (
                target === "SageMaker.ListTrainingJobs" &&
                JSON.parse(request.body.toString()).StatusEquals === "InProgress"
            ) {
                return ok({
                    TrainingJobSummaries: standIn.runningTrainingJobs.map((name) => ({
                        TrainingJobName: name,
                        TrainingJobArn: `arn:aws:sagemaker:eu-west-2:123456789012:training-job/${name}`,
                        CreationTime: 1_767_225_600,
                        TrainingJobStatus: "InProgress",
                    })),
                });
            }
            if (target === "SageMaker.ListHyperParameterTuningJobs") {
                const { StatusEquals, NameContains } = JSON.parse(request.body.toString());
                const summaries = [...standIn.created.keys()]
                    .map((name) => ({
                        name,
                        status: String(standIn.progress[name]?.HyperParameterTuningJobStatus ?? "InProgress"),
                    }))
                    .filter(
                        (j) =>
                            (!StatusEquals || j.status === StatusEquals) &&
                            (!NameContains || j.name.includes(NameContains)),
                    );
                return ok({
                    HyperParameterTuningJobSummaries: summaries.map((j) => ({
                        HyperParameterTuningJobName: j.name,
                        HyperParameterTuningJobArn: `arn:aws:sagemaker:eu-west-2:123456789012:hyper-parameter-tuning-job/${j.name}`,
                        HyperParameterTuningJobStatus: j.status,
                        Strategy: "Bayesian",
                        CreationTime: 1_767_225_600,
                        TrainingJobStatusCounters: {},
                        ObjectiveStatusCounters: {},
                    })),
                });
            }
            if (target === "SageMaker.CreateHyperParameterTuningJob") {
                const body = JSON.parse(request.body.toString());
                const problem = tuningRequestProblem(body);
                if (problem) {
                    standIn.refused.push(problem);
                    return error("ValidationException", problem);
                }
                if (standIn.created.has(body.HyperParameterTuningJobName)) {
                    return error(
                        "ResourceInUse",
                        `Hyperparameter tuning job ${body.HyperParameterTuningJobName} already exists.`,
                    );
                }
                standIn.created.set(body.HyperParameterTuningJobName, body);
                const arn = `arn:aws:sagemaker:eu-west-2:123456789012:hyper-parameter-tuning-job/${body.HyperParameterTuningJobName}`;
                return {
                    status: 200,
                    headers: JSON_HEADERS,
                    body: JSON.stringify({ HyperParameterTuningJobArn: arn }),
                };
            }
            if (target === "SageMaker.DescribeHyperParameterTuningJob") {
                const name = JSON.parse(request.body.toString()).HyperParameterTuningJobName;
                const job = standIn.created.get(name);
                if (!job)
                    return error("ResourceNotFound", `Amazon SageMaker can't find a tuning job with name ${name}`);
                return {
                    status: 200,
                    headers: JSON_HEADERS,
                    body: JSON.stringify({
                        HyperParameterTuningJobName: name,
                        HyperParameterTuningJobArn: `arn:aws:sagemaker:eu-west-2:123456789012:hyper-parameter-tuning-job/${name}`,
                        HyperParameterTuningJobConfig: job.HyperParameterTuningJobConfig,
                        TrainingJobDefinition: job.TrainingJobDefinition,
                        HyperParameterTuningJobStatus: "InProgress",
                        CreationTime: 1_767_225_600,
                        TrainingJobStatusCounters: {
                            Completed: 0,
                            InProgress: 0,
                            RetryableError: 0,
                            NonRetryableError: 0,
                            Stopped: 0,
                        },
                        ObjectiveStatusCounters: { Succeeded: 0, Pending: 0, Failed: 0 },
                        ...standIn.progress[name],
                    }),
                };
            }
            return undefined;
        },
    };
    return standIn;
}
