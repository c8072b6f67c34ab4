import { CAMERA_ROUTE_RESOURCE } from "../lib/cameraApi";
import { MODEL_PACKAGE_GROUP } from "../lib/retrain";
import { TRAINING_JOB_NAME_PREFIX } from "../lib/layout";
import { TRAINING_LOG_GROUP } from "../lib/sagemakerJobs";

/**
 * What the `bootboots` user's credentials must allow (docs/design.md §8): each command declares
 * the AWS actions it calls and on what (cli/commandTable.ts `aws`), and `bootboots doctor
 * --iam-policy` makes the least-privilege policy from those declarations and the stack's names.
 * The CLI tests record every request the commands send and check it against this policy.
 */

/** The things of the stack a command acts on; each becomes the Resource of a statement. */
export type CliResource =
    | "trainingBucket"
    | "trainingObjects"
    | "modelBucket"
    | "modelObjects"
    | "imagesBucket"
    | "imageObjects"
    | "catadataTable"
    | "eventsTable"
    | "functions"
    | "trainingJobs"
    | "tuningJobs"
    | "servingChain"
    | "endpoint"
    | "modelPackages"
    | "trainingLogs"
    | "failedEventsQueue"
    | "cameraApi"
    /** Actions that take no resource (List*, pricing). */
    | "any";

/** Some actions on one kind of resource. */
export interface Permission {
    readonly actions: readonly string[];
    readonly on: CliResource;
}

/** The permissions commands share, by what they do. */
export const CAN = {
    listJobs: {
        actions: ["sagemaker:ListTrainingJobs", "sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
        on: "any",
    },
    readJobs: { actions: ["sagemaker:DescribeTrainingJob"], on: "trainingJobs" },
    readTuningJobs: { actions: ["sagemaker:DescribeHyperParameterTuningJob"], on: "tuningJobs" },
    findServing: {
        actions: ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
        on: "servingChain",
    },
    invokeEndpoint: { actions: ["sagemaker:InvokeEndpoint"], on: "endpoint" },
    readTraining: { actions: ["s3:GetObject"], on: "trainingObjects" },
    listTraining: { actions: ["s3:ListBucket"], on: "trainingBucket" },
    writeTraining: { actions: ["s3:PutObject"], on: "trainingObjects" },
    readModels: { actions: ["s3:GetObject"], on: "modelObjects" },
    listModels: { actions: ["s3:ListBucket"], on: "modelBucket" },
    readImages: { actions: ["s3:GetObject"], on: "imageObjects" },
    listImages: { actions: ["s3:ListBucket"], on: "imagesBucket" },
    writeImages: { actions: ["s3:PutObject"], on: "imageObjects" },
    readLabels: { actions: ["dynamodb:Scan", "dynamodb:GetItem"], on: "catadataTable" },
    writeLabels: { actions: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], on: "catadataTable" },
    checkTable: { actions: ["dynamodb:DescribeTable"], on: "catadataTable" },
    invokeFunctions: { actions: ["lambda:InvokeFunction"], on: "functions" },
    readRegistry: { actions: ["sagemaker:DescribeModelPackage"], on: "modelPackages" },
    approve: { actions: ["sagemaker:UpdateModelPackage"], on: "modelPackages" },
    readLogs: { actions: ["logs:FilterLogEvents"], on: "trainingLogs" },
    prices: { actions: ["pricing:GetProducts"], on: "any" },
    countFailedEvents: { actions: ["sqs:GetQueueAttributes"], on: "failedEventsQueue" },
    callCamera: { actions: ["execute-api:Invoke"], on: "cameraApi" },
    readEvents: { actions: ["dynamodb:Query"], on: "eventsTable" },
} as const satisfies Record<string, Permission>;

/** The stack's names a policy needs (its outputs). */
export interface PolicyNames {
    readonly region: string;
    readonly accountId: string;
    readonly trainingBucket: string;
    readonly modelBucket: string;
    readonly imagesBucket: string;
    readonly imagesPrefix: string;
    readonly catadataTable: string;
    readonly eventsTable: string;
    readonly functions: readonly string[];
    readonly endpointName: string;
    readonly failedEventsQueueUrl?: string;
    readonly cameraApiUrl?: string;
}

/** The ARNs a resource kind stands for. */
export function resourcesOf(kind: CliResource, n: PolicyNames): string[] {
    const arn = (service: string, rest: string) => `arn:aws:${service}:${n.region}:${n.accountId}:${rest}`;
    const sagemaker = (rest: string) => arn("sagemaker", rest);
    const queue = n.failedEventsQueueUrl?.split("/").pop();
    const api = n.cameraApiUrl ? new URL(n.cameraApiUrl).hostname.split(".")[0] : undefined;
    const table: Record<CliResource, string[]> = {
        trainingBucket: [`arn:aws:s3:::${n.trainingBucket}`],
        trainingObjects: [`arn:aws:s3:::${n.trainingBucket}/*`],
        modelBucket: [`arn:aws:s3:::${n.modelBucket}`],
        modelObjects: [`arn:aws:s3:::${n.modelBucket}/*`],
        imagesBucket: [`arn:aws:s3:::${n.imagesBucket}`],
        imageObjects: [`arn:aws:s3:::${n.imagesBucket}/${n.imagesPrefix}*`],
        catadataTable: [arn("dynamodb", `table/${n.catadataTable}`)],
        eventsTable: [arn("dynamodb", `table/${n.eventsTable}`)],
        functions: n.functions.map((name) => arn("lambda", `function:${name}`)),
        trainingJobs: [sagemaker(`training-job/${TRAINING_JOB_NAME_PREFIX}*`)],
        tuningJobs: [sagemaker(`hyper-parameter-tuning-job/${TRAINING_JOB_NAME_PREFIX}*`)],
        servingChain: [sagemaker(`endpoint/${n.endpointName}`), sagemaker("endpoint-config/*"), sagemaker("model/*")],
        endpoint: [sagemaker(`endpoint/${n.endpointName}`)],
        modelPackages: [sagemaker(`model-package/${MODEL_PACKAGE_GROUP}/*`)],
        trainingLogs: [arn("logs", `log-group:${TRAINING_LOG_GROUP}:*`)],
        failedEventsQueue: queue ? [arn("sqs", queue)] : [],
        cameraApi: api ? [arn("execute-api", `${api}/${CAMERA_ROUTE_RESOURCE}`)] : [],
        any: ["*"],
    };
    return table[kind];
}

/** An IAM policy document: one statement per resource kind, its actions those the commands declare. */
export function iamPolicyDocument(permissions: readonly Permission[], names: PolicyNames): object {
    const byKind = new Map<CliResource, Set<string>>();
    for (const p of permissions) byKind.set(p.on, new Set([...(byKind.get(p.on) ?? []), ...p.actions]));
    const statements = [...byKind]
        .map(([kind, actions]) => ({ kind, actions: [...actions].sort(), resources: resourcesOf(kind, names) }))
        .filter((s) => s.resources.length > 0)
        .map((s) => ({
            Sid: s.kind.charAt(0).toUpperCase() + s.kind.slice(1),
            Effect: "Allow",
            Action: s.actions,
            Resource: s.resources,
        }));
    return { Version: "2012-10-17", Statement: statements };
}
