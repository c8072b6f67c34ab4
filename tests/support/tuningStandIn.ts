import { InjectedResponse, RecordedRequest } from "./proxy";

/**
 * SageMaker's tuning API, which moto lacks, answered as the API reference documents it:
 * CreateHyperParameterTuningJob (with its constraints checked), DescribeHyperParameterTuningJob.
 * Plugged into the proxy in front of moto; every other request goes on to moto.
 */
export interface TuningStandIn {
    /** The requests CreateHyperParameterTuningJob accepted, by name. */
    readonly created: Map<string, any>;
    /** Refusals, in words, for the test to read. */
    readonly refused: string[];
    /** What DescribeHyperParameterTuningJob adds to a job: status, counters, best training job. */
    progress: Record<string, Record<string, unknown>>;
    inject(request: RecordedRequest): InjectedResponse | undefined;
}

const NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$/;
const JSON_HEADERS = { "content-type": "application/x-amz-json-1.1" };

function error(type: string, message: string): InjectedResponse {
    return {
        status: 400,
        headers: { ...JSON_HEADERS, "x-amzn-errortype": type },
        body: JSON.stringify({ __type: type, message }),
    };
}

/** The API's documented constraints on a CreateHyperParameterTuningJob request: the first one broken, or undefined. */
export function tuningRequestProblem(request: any): string | undefined {
    const name: string = request.HyperParameterTuningJobName ?? "";
    if (name.length < 1 || name.length > 32 || !NAME.test(name))
        return `HyperParameterTuningJobName ${JSON.stringify(name)} must match ${NAME} (1-32 characters)`;
    const config = request.HyperParameterTuningJobConfig ?? {};
    if (!["Bayesian", "Random", "Hyperband", "Grid"].includes(config.Strategy))
        return `Strategy ${config.Strategy} is not one of Bayesian, Random, Hyperband, Grid`;
    const limits = config.ResourceLimits ?? {};
    if (!(Number.isInteger(limits.MaxNumberOfTrainingJobs) && limits.MaxNumberOfTrainingJobs >= 1))
        return "MaxNumberOfTrainingJobs must be an integer of at least 1";
    if (!(Number.isInteger(limits.MaxParallelTrainingJobs) && limits.MaxParallelTrainingJobs >= 1))
        return "MaxParallelTrainingJobs must be an integer of at least 1";
    if (limits.MaxParallelTrainingJobs > limits.MaxNumberOfTrainingJobs)
        return "MaxParallelTrainingJobs may not exceed MaxNumberOfTrainingJobs";
    if (!["Off", "Auto", undefined].includes(config.TrainingJobEarlyStoppingType))
        return "TrainingJobEarlyStoppingType must be Off or Auto";
    const ranges = config.ParameterRanges ?? {};
    const names: string[] = [];
    for (const range of ranges.ContinuousParameterRanges ?? []) {
        names.push(range.Name);
        if (typeof range.MinValue !== "string" || typeof range.MaxValue !== "string")
            return `${range.Name}: MinValue and MaxValue must be strings`;
        if (!(Number(range.MinValue) < Number(range.MaxValue))) return `${range.Name}: MinValue must be below MaxValue`;
        if (!["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"].includes(range.ScalingType))
            return `${range.Name}: unknown ScalingType ${range.ScalingType}`;
        if (range.ScalingType === "Logarithmic" && !(Number(range.MinValue) > 0))
            return `${range.Name}: a logarithmic range needs MinValue above 0`;
    }
    for (const range of ranges.CategoricalParameterRanges ?? []) {
        names.push(range.Name);
        if (
            !Array.isArray(range.Values) ||
            range.Values.length === 0 ||
            !range.Values.every((v: unknown) => typeof v === "string")
        ) {
            return `${range.Name}: Values must be a non-empty list of strings`;
        }
    }
    const definition = request.TrainingJobDefinition ?? {};
    const statics: Record<string, unknown> = definition.StaticHyperParameters ?? {};
    if (!Object.values(statics).every((v) => typeof v === "string"))
        return "StaticHyperParameters values must be strings";
    const overlap = names.filter((n) => n in statics);
    if (overlap.length) return `StaticHyperParameters may not include tuned hyperparameters (${overlap.join(", ")})`;
    const objective = config.HyperParameterTuningJobObjective?.MetricName;
    const defined: string[] = (definition.AlgorithmSpecification?.MetricDefinitions ?? []).map(
        (m: { Name: string }) => m.Name,
    );
    if (!defined.includes(objective))
        return `The objective metric ${objective} is not among the MetricDefinitions (${defined.join(", ")})`;
    if (!definition.RoleArn || !definition.AlgorithmSpecification?.TrainingImage)
        return "TrainingJobDefinition needs RoleArn and a TrainingImage";
    return undefined;
}

export function tuningStandIn(): TuningStandIn {
    const standIn: TuningStandIn = {
        created: new Map(),
        refused: [],
        progress: {},
        inject(request) {
            const target = request.headers["x-amz-target"];
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
