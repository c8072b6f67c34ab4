import { strict as assert } from "assert";
import { metricDefinitions } from "../lib/contract";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildSourceArchive } from "../lib/sourceArchive";
import { lambdaZip, loadDeployedHandler } from "./support/deployedLambda";
import * as pulumi from "@pulumi/pulumi";
import { checkPrerequisites } from "../prerequisites";
import { MockAccount, MockResource, StackRun, runStack, underMocks } from "./support/pulumiMocks";
import { readmeShows } from "./support/readmeExamples";

const MODEL_URL = "s3://bootboots-models-123456789012/training-output/bootboots-abc/output/model.tar.gz";
const AWAY_FROM_DEFAULTS = {
    modelDataUrl: MODEL_URL,
    adoptExistingBuckets: "true",
    trainingNetworkIsolation: "false",
    notificationEmail: "cats@example.com",
    retrainSchedule: "rate(1 day)",
    retrainMinNewLabels: "30",
};

type Statement = {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: any;
};

/** The outputs as `pulumi up` ends with them: sorted, keys padded, strings quoted; unset ones left out. */
function pulumiUpOutputs(outputs: Record<string, unknown>): string {
    const set = Object.entries(outputs)
        .filter(([, value]) => value !== undefined)
        .sort(([a], [b]) => a.localeCompare(b));
    const width = Math.max(...set.map(([key]) => key.length));
    return ["Outputs:", ...set.map(([key, value]) => `    ${key.padEnd(width)}: ${JSON.stringify(value)}`)].join("\n");
}

function statementsOf(policy: MockResource): Statement[] {
    return JSON.parse(policy.inputs.policy).Statement;
}

function actions(statement: Statement): string[] {
    return ([] as string[]).concat(statement.Action);
}

function resources(statement: Statement): string[] {
    return ([] as string[]).concat(statement.Resource);
}

function allowed(policy: MockResource): Map<string, string[]> {
    const result = new Map<string, string[]>();
    for (const s of statementsOf(policy).filter((s) => s.Effect === "Allow")) {
        for (const action of actions(s)) result.set(action, [...(result.get(action) ?? []), ...resources(s)]);
    }
    return result;
}

describe("the stack (Pulumi mocks)", function () {
    this.timeout(120_000);
    let plain: StackRun;
    let withModel: StackRun;

    before(async () => {
        plain = await runStack({});
        withModel = await runStack({ modelDataUrl: MODEL_URL, endpointProvisionedConcurrency: "2" });
    });

    it("without modelDataUrl: buckets, training pipeline and camera API, no endpoint, and its outputs", () => {
        assert.equal(plain.ofType("aws:sagemaker/endpoint:Endpoint").length, 0);
        assert.equal(plain.ofType("aws:sagemaker/model:Model").length, 0);
        assert.equal(plain.ofType("aws:s3/bucket:Bucket").length, 2);
        assert.equal(
            plain.ofType("aws:lambda/function:Function").length,
            5,
            "data prep, trigger, job events, failed events, camera infer",
        );
        assert.deepEqual(
            plain
                .ofType("aws:dynamodb/table:Table")
                .map((t) => t.name)
                .sort(),
            ["bootboots-camera-events", "bootboots-camera-visits"],
            "catadata is referenced, never created",
        );
        assert.deepEqual(plain.outputs, {
            trainingBucketName: "bootboots-training-data-123456789012",
            modelBucketName: "bootboots-models-123456789012",
            sagemakerRoleArn: "arn:aws:iam::123456789012:role/bootboots-sagemaker-a1b2c3d",
            dataPrepFunctionName: "bootboots-data-prep-a1b2c3d",
            triggerTrainingFunctionName: "bootboots-trigger-training-a1b2c3d",
            notificationTopicArn: "arn:aws:sns:eu-west-2:123456789012:bootboots-jobs-a1b2c3d",
            modelPackageGroupName: "bootboots",
            failedEventsQueueUrl: "https://sqs.eu-west-2.amazonaws.com/123456789012/bootboots-failed-events-a1b2c3d",
            trainingScriptUri: plain.outputs.trainingScriptUri,
            endpointName: undefined,
            cameraApiUrl: "https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/infer",
            cameraInvokePolicyArn: "arn:aws:iam::123456789012:policy/bootboots-camera-invoke-a1b2c3d",
            eventsTableName: "bootboots-events",
            imagesBucketName: "bootboots-images-123456789012-eu-west-2",
            imagesPrefix: "catcam-training/",
            classes: ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"],
            targetClass: "Boots",
            noCatClass: "NoCat",
            catadataTableName: "catadata",
            region: "eu-west-2",
            splitSettings: {
                validationSplit: 0.2,
                testSplit: 0.1,
                maxNoCatSamples: 200,
                visitGapMinutes: 10,
                splitNumberBlock: 20,
            },
            trainingInstanceType: "ml.m5.xlarge",
            maxTuningCostUsd: 10,
        });
        readmeShows("pulumi-up", pulumiUpOutputs(plain.outputs));
        assert.match(
            String(plain.outputs.trainingScriptUri),
            /^s3:\/\/bootboots-models-123456789012\/code\/sourcedir-[0-9a-f]{16}\.tar\.gz$/,
        );
        for (const type of [
            "bootboots:storage:DataBuckets",
            "bootboots:training:TrainingPipeline",
            "bootboots:camera:CameraApi",
        ]) {
            assert.equal(plain.ofType(type).length, 1, type);
        }
    });

    it("with modelDataUrl: an auto-named model and serverless configuration behind the stable endpoint name", () => {
        const model = withModel.one("aws:sagemaker/model:Model");
        const config = withModel.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration");
        const endpoint = withModel.one("aws:sagemaker/endpoint:Endpoint");
        assert.equal(model.inputs.name, undefined);
        assert.equal(config.inputs.name, undefined);
        assert.equal(endpoint.inputs.name, "bootboots");
        assert.equal(withModel.outputs.endpointName, "bootboots");
        assert.equal(model.inputs.primaryContainer.modelDataUrl, MODEL_URL);
        assert.equal(
            model.inputs.primaryContainer.image,
            "763104351884.dkr.ecr.eu-west-2.amazonaws.com/tensorflow-inference:2.19.0-cpu-py312-ubuntu22.04-sagemaker",
        );
        assert.equal(config.inputs.productionVariants[0].modelName, model.state.name);
        assert.deepEqual(config.inputs.productionVariants[0].serverlessConfig, {
            memorySizeInMb: 2048,
            maxConcurrency: 5,
            provisionedConcurrency: 2,
        });
        assert.equal(endpoint.inputs.endpointConfigName, config.state.name);
        // TF Serving needs no network; creating a serverless endpoint takes 10-20 minutes.
        assert.equal(model.inputs.enableNetworkIsolation, true);
        assert.deepEqual(endpoint.options?.customTimeouts, { create: "45m", update: "45m", delete: "30m" });
        const policy = allowed(withModel.one("aws:iam/rolePolicy:RolePolicy", "bootboots-model"));
        assert.deepEqual(policy.get("s3:GetObject"), [
            "arn:aws:s3:::bootboots-models-123456789012/training-output/bootboots-abc/output/model.tar.gz",
        ]);
        assert.deepEqual(policy.get("ecr:BatchGetImage"), [
            "arn:aws:ecr:eu-west-2:763104351884:repository/tensorflow-inference",
        ]);
    });

    it("leaves provisioned concurrency out when it is 0", async () => {
        // The adopted-buckets run has a model too, with the default of 0.
        const run = await runStack({
            modelDataUrl: MODEL_URL,
            adoptExistingBuckets: "true",
            trainingNetworkIsolation: "false",
        });
        const config = run.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration");
        assert.deepEqual(config.inputs.productionVariants[0].serverlessConfig, {
            memorySizeInMb: 2048,
            maxConcurrency: 5,
        });
    });

    it("blocks public access, enforces bucket ownership and encryption, and refuses non-TLS requests on both buckets", () => {
        for (const bucket of ["training-data", "models"]) {
            const block = plain.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket);
            for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
                assert.equal(block.inputs[flag], true, `${bucket} ${flag}`);
            }
            assert.equal(
                plain.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket).inputs.rule.objectOwnership,
                "BucketOwnerEnforced",
            );
            const sse = plain.one(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                bucket,
            );
            assert.equal(sse.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
            const [tls] = statementsOf(plain.one("aws:s3/bucketPolicy:BucketPolicy", bucket));
            assert.equal(tls.Effect, "Deny");
            assert.deepEqual(tls.Condition, { Bool: { "aws:SecureTransport": "false" } });
            const arn = `arn:aws:s3:::bootboots-${bucket}-123456789012`;
            assert.deepEqual(resources(tls), [arn, `${arn}/*`]);
        }
    });

    it("keeps on destroy exactly the two buckets, what protects them, and the camera's events table", () => {
        const retained = plain.resources
            .filter((r) => r.options?.retainOnDelete)
            .map((r) => `${r.type.split(":").pop()} ${r.name}`);
        const protections = (bucket: string) => [
            `Bucket ${bucket}`,
            `BucketOwnershipControls ${bucket}-ownership`,
            `BucketPolicy ${bucket}-tls-only`,
            `BucketPublicAccessBlock ${bucket}-public-access`,
            `BucketServerSideEncryptionConfiguration ${bucket}-encryption`,
        ];
        assert.deepEqual(
            retained.sort(),
            [
                ...protections("bootboots-models"),
                "BucketVersioning bootboots-models-versioning",
                ...protections("bootboots-training-data"),
                "Table bootboots-camera-events",
            ].sort(),
        );
    });

    it("with adoptExistingBuckets, reads the kept buckets instead of creating them, and protects them as before", async () => {
        // One run for the settings away from their defaults: a model, adopted buckets, jobs with network, messages by
        // e-mail and scheduled retraining (the job-events tests below read it too).
        const adopted = await runStack(AWAY_FROM_DEFAULTS);
        const buckets = adopted.ofType("aws:s3/bucket:Bucket");
        assert.deepEqual(buckets.map((b) => b.readId).sort(), [
            "bootboots-models-123456789012",
            "bootboots-training-data-123456789012",
        ]);
        const policies = adopted
            .ofType("aws:s3/bucketPolicy:BucketPolicy")
            .map((p) => p.inputs.bucket)
            .sort();
        assert.deepEqual(policies, ["bootboots-models-123456789012", "bootboots-training-data-123456789012"]);
        assert.equal(adopted.outputs.trainingBucketName, "bootboots-training-data-123456789012");
    });

    it("expires replaced checkpoint versions in the versioned models bucket", () => {
        const lifecycle = plain.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "models");
        assert.equal(lifecycle.inputs.bucket, "bootboots-models-123456789012");
        const rule = lifecycle.inputs.rules.find((r: any) => r.noncurrentVersionExpiration);
        assert.deepEqual(
            { prefix: rule.filter.prefix, days: rule.noncurrentVersionExpiration.noncurrentDays, status: rule.status },
            { prefix: "checkpoints/", days: 1, status: "Enabled" },
        );
    });

    it("makes each function a LambdaFunction component whose children keep the identities they had under the pipeline", () => {
        const pipelineUrn = "urn:pulumi:sandbox::bootboots-ai::bootboots:training:TrainingPipeline::bootboots";
        for (const name of ["bootboots-data-prep", "bootboots-trigger-training"]) {
            const component = plain.one("bootboots:lambda:LambdaFunction", name);
            assert.equal(component.options?.parentUrn, pipelineUrn);
            for (const type of [
                "aws:lambda/function:Function",
                "aws:iam/role:Role",
                "aws:iam/rolePolicy:RolePolicy",
                "aws:cloudwatch/logGroup:LogGroup",
            ]) {
                const child = plain.resources.find((r) => r.type === type && r.name === name)!;
                assert.equal(child.options?.parentUrn, component.options?.urn, `${type} ${name} parent`);
                assert.deepEqual(child.options?.aliasUrns, [
                    `urn:pulumi:sandbox::bootboots-ai::bootboots:training:TrainingPipeline$${type}::${name}`,
                ]);
            }
        }
    });

    it("versions the models bucket, and expires a dataset's objects after 90 days only once tagged unused", () => {
        const versioning = plain.one("aws:s3/bucketVersioning:BucketVersioning");
        assert.equal(versioning.inputs.bucket, "bootboots-models-123456789012");
        assert.equal(versioning.inputs.versioningConfiguration.status, "Enabled");
        const lifecycle = plain.one(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "training-data",
        );
        assert.equal(lifecycle.inputs.bucket, "bootboots-training-data-123456789012");
        const expiry = lifecycle.inputs.rules.find((r: any) => r.expiration);
        assert.deepEqual(
            { filter: expiry.filter, days: expiry.expiration.days, status: expiry.status },
            {
                filter: { and: { prefix: "datasets/", tags: { "bootboots:expire": "unused" } } },
                days: 90,
                status: "Enabled",
            },
        );
        // Nothing else expires there: not latest.json, not a dataset in use (never tagged).
        assert.equal(lifecycle.inputs.rules.filter((r: any) => r.expiration).length, 1);
    });

    it("gives each function nodejs24.x, its timeout and memory, and a 30-day log group", () => {
        const expected = {
            "data-prep": { timeout: 600, memorySize: 1024 },
            "trigger-training": { timeout: 900, memorySize: 512 },
        };
        for (const [name, limits] of Object.entries(expected)) {
            const fn = plain.one("aws:lambda/function:Function", name);
            assert.equal(fn.inputs.runtime, "nodejs24.x");
            assert.equal(fn.inputs.timeout, limits.timeout);
            assert.equal(fn.inputs.memorySize, limits.memorySize);
            const logGroup = plain.one("aws:cloudwatch/logGroup:LogGroup", name);
            assert.equal(logGroup.inputs.retentionInDays, 30);
            assert.equal(fn.inputs.loggingConfig.logGroup, logGroup.inputs.name);
        }
    });

    it("packages each function without the AWS SDK, under 1 MB, and its __index.js exports a handler", async () => {
        for (const name of ["data-prep", "trigger-training"]) {
            const fn = plain.one("aws:lambda/function:Function", name);
            const zip = await lambdaZip(fn);
            // Only what the handlers import at run time: no AWS SDK (the runtime has it), no deploy-time or CLI packages.
            assert.deepEqual(zip.entries, ["node_modules/p-limit", "node_modules/yocto-queue"]);
            const size = Object.values(zip.sourcePaths).reduce((sum, p) => sum + directorySize(p), zip.indexJs.length);
            assert.ok(size < 1_000_000, `${name} zip is ${size} bytes`);
            const handler = await loadDeployedHandler(fn, { AWS_REGION: "eu-west-2" });
            assert.equal(typeof handler, "function");
        }
    });

    it("scopes every IAM statement to named actions and resources", () => {
        for (const policy of [
            ...plain.ofType("aws:iam/rolePolicy:RolePolicy"),
            ...withModel.ofType("aws:iam/rolePolicy:RolePolicy"),
        ]) {
            for (const statement of statementsOf(policy)) {
                for (const action of actions(statement)) {
                    assert.ok(action !== "*" && !action.endsWith(":*"), `${policy.name}: ${action}`);
                }
                for (const resource of resources(statement)) {
                    // Calls IAM cannot scope to a resource (docs/design.md, "What IAM cannot express").
                    const unscoped = [
                        "ecr:GetAuthorizationToken",
                        "cloudwatch:PutMetricData",
                        "sagemaker:ListModelPackages",
                        "sagemaker:ListTrainingJobs",
                        "sagemaker:ListHyperParameterTuningJobs",
                    ];
                    if (resource === "*")
                        assert.ok(
                            actions(statement).every((a) => unscoped.includes(a)),
                            `${policy.name}: * resource for ${actions(statement)}`,
                        );
                }
            }
        }
        for (const role of plain.ofType("aws:iam/role:Role")) {
            assert.equal(role.inputs.managedPolicyArns, undefined, `${role.name} has no managed policies`);
        }
    });

    it("lets data prep scan catadata, read the images prefix and write only under datasets/", () => {
        const policy = allowed(plain.one("aws:iam/rolePolicy:RolePolicy", "data-prep"));
        assert.deepEqual(policy.get("dynamodb:Scan"), ["arn:aws:dynamodb:eu-west-2:123456789012:table/catadata"]);
        assert.deepEqual(policy.get("s3:GetObject"), [
            "arn:aws:s3:::bootboots-images-123456789012-eu-west-2/catcam-training/*",
        ]);
        assert.deepEqual(policy.get("s3:PutObject"), ["arn:aws:s3:::bootboots-training-data-123456789012/datasets/*"]);
        assert.equal(policy.get("s3:DeleteObject"), undefined);
    });

    it("lets the trigger run bootboots-* training and tuning jobs, pass the SageMaker role only to SageMaker, invoke data prep and read datasets/", () => {
        const policy = plain.one("aws:iam/rolePolicy:RolePolicy", "trigger-training");
        const allow = allowed(policy);
        const jobs = [
            "arn:aws:sagemaker:eu-west-2:123456789012:training-job/bootboots-*",
            "arn:aws:sagemaker:eu-west-2:123456789012:hyper-parameter-tuning-job/bootboots-*",
        ];
        // The tuner names its training jobs after the tuning job, so both kinds keep the prefix.
        for (const action of [
            "sagemaker:CreateTrainingJob",
            "sagemaker:CreateHyperParameterTuningJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:DescribeHyperParameterTuningJob",
            "sagemaker:AddTags",
        ]) {
            assert.deepEqual(allow.get(action), jobs, action);
        }
        // Starting a job: only on the stack's instance type, and only isolated while isolation is on.
        const start = statementsOf(policy).find((s) => actions(s).includes("sagemaker:CreateTrainingJob"))!;
        assert.deepEqual(start.Condition, {
            "ForAllValues:StringEquals": { "sagemaker:InstanceTypes": ["ml.m5.xlarge"] },
            Bool: { "sagemaker:NetworkIsolation": "true" },
        });
        assert.deepEqual(
            JSON.parse(
                plain.one("aws:lambda/function:Function", "trigger-training").inputs.environment.variables.TUNING_SPACE,
            ).objective.metric,
            "validation:macro_f1",
        );
        const pass = statementsOf(policy).find((s) => actions(s).includes("iam:PassRole"))!;
        assert.deepEqual(resources(pass), [plain.outputs.sagemakerRoleArn]);
        assert.deepEqual(pass.Condition, { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } });
        assert.deepEqual(allow.get("lambda:InvokeFunction"), [
            "arn:aws:lambda:eu-west-2:123456789012:function:bootboots-data-prep-a1b2c3d",
        ]);
        assert.deepEqual(allow.get("s3:GetObject"), ["arn:aws:s3:::bootboots-training-data-123456789012/datasets/*"]);
        const list = statementsOf(policy).find((s) => actions(s).includes("s3:ListBucket"))!;
        assert.deepEqual(resources(list), ["arn:aws:s3:::bootboots-training-data-123456789012"]);
        assert.deepEqual(list.Condition, { StringLike: { "s3:prefix": ["datasets/*"] } });
    });

    it("lets the SageMaker role read datasets/ and code/, write training-output/ and checkpoints/, log, and pull its image", () => {
        const policy = allowed(plain.one("aws:iam/rolePolicy:RolePolicy", "sagemaker"));
        const models = "arn:aws:s3:::bootboots-models-123456789012";
        assert.deepEqual(policy.get("s3:GetObject"), [
            "arn:aws:s3:::bootboots-training-data-123456789012/datasets/*",
            `${models}/code/*`,
            `${models}/base-weights/*`,
            `${models}/checkpoints/*`,
        ]);
        assert.deepEqual(policy.get("s3:PutObject"), [`${models}/training-output/*`, `${models}/checkpoints/*`]);
        assert.deepEqual(policy.get("logs:PutLogEvents"), [
            "arn:aws:logs:eu-west-2:123456789012:log-group:/aws/sagemaker/TrainingJobs*",
        ]);
        assert.deepEqual(policy.get("ecr:BatchGetImage"), [
            "arn:aws:ecr:eu-west-2:763104351884:repository/tensorflow-training",
        ]);
        const role = plain.one("aws:iam/role:Role", "sagemaker");
        assert.equal(
            JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal.Service,
            "sagemaker.amazonaws.com",
        );
    });

    it("hands the trigger the training image of the region and tensorflowVersion, and the script archive", () => {
        const env = plain.one("aws:lambda/function:Function", "trigger-training").inputs.environment.variables;
        assert.equal(
            env.TRAINING_IMAGE_URI,
            "763104351884.dkr.ecr.eu-west-2.amazonaws.com/tensorflow-training:2.19.0-cpu-py312-ubuntu22.04-sagemaker",
        );
        assert.equal(env.TRAINING_SCRIPT_URI, plain.outputs.trainingScriptUri);
        assert.equal(env.SPOT_TRAINING, "true");
        assert.deepEqual(JSON.parse(env.CLASSES), ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"]);
        // Data reaches the handlers as environment text, and Lambda allows 4 KB of it per function.
        for (const name of ["trigger-training", "data-prep"]) {
            const variables = plain.one("aws:lambda/function:Function", name).inputs.environment.variables;
            const bytes = Object.entries(variables).reduce(
                (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(String(value)),
                0,
            );
            assert.ok(bytes < 4096, `${name}: ${bytes} bytes of environment`);
        }
        assert.equal(env.TARGET_CLASS, "Boots");
        assert.equal(env.MAX_FALSE_ALARM_RATE, "0.01");
        // The split settings reach data prep whole, as one group.
        assert.deepEqual(
            JSON.parse(
                plain.one("aws:lambda/function:Function", "data-prep").inputs.environment.variables.SPLIT_SETTINGS,
            ),
            {
                validationSplit: 0.2,
                testSplit: 0.1,
                maxNoCatSamples: 200,
                visitGapMinutes: 10,
                splitNumberBlock: 20,
            },
        );
        assert.deepEqual(JSON.parse(env.METRIC_DEFINITIONS), metricDefinitions);
        const script = plain.one("aws:s3/bucketObjectv2:BucketObjectv2", "training-script");
        assert.equal(`s3://${script.inputs.bucket}/${script.inputs.key}`, plain.outputs.trainingScriptUri);
    });

    it("uploads the published ImageNet weights once, for the jobs' base_weights channel, and isolates jobs from the network by default", async () => {
        const weights = plain.one("aws:s3/bucketObjectv2:BucketObjectv2", "base-weights");
        const contract = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "training", "contract.json"), "utf8"));
        assert.equal(weights.inputs.bucket, "bootboots-models-123456789012");
        assert.equal(weights.inputs.key, `base-weights/${contract.baseWeights.fileName}`);
        assert.equal(await (await weights.inputs.source).uri, contract.baseWeights.url);
        assert.equal(weights.inputs.checksumAlgorithm, "SHA256");
        const env = plain.one("aws:lambda/function:Function", "trigger-training").inputs.environment.variables;
        assert.equal(
            env.BASE_WEIGHTS_URI,
            `s3://bootboots-models-123456789012/base-weights/${contract.baseWeights.fileName}`,
        );
        assert.equal(env.NETWORK_ISOLATION, "true");
        const open = await runStack({
            modelDataUrl: MODEL_URL,
            adoptExistingBuckets: "true",
            trainingNetworkIsolation: "false",
        });
        assert.equal(
            open.one("aws:lambda/function:Function", "trigger-training").inputs.environment.variables.NETWORK_ISOLATION,
            "false",
        );
    });

    it("builds a byte-identical archive, train.py at its root, for identical sources", () => {
        const source = path.join(__dirname, "..", "training");
        const a = buildSourceArchive(source, fs.mkdtempSync(path.join(os.tmpdir(), "archive-a-")));
        const b = buildSourceArchive(source, fs.mkdtempSync(path.join(os.tmpdir(), "archive-b-")));
        assert.equal(a.sha256, b.sha256);
        assert.deepEqual(fs.readFileSync(a.path), fs.readFileSync(b.path));
        assert.ok(a.files.includes("train.py") && a.files.includes("metric-definitions.json"));
        assert.ok(a.files.every((f) => !f.includes("__pycache__")));
        assert.equal(`s3://bootboots-models-123456789012/${a.key}`, plain.outputs.trainingScriptUri);
    });

    it("stops the program with one message naming the key, the value and an example", async () => {
        await assert.rejects(
            runStack({ endpointMemoryMb: "1500" }),
            /bootboots-ai:endpointMemoryMb = "1500".*multiple of 1024.*Example: pulumi config set endpointMemoryMb 2048/,
        );
    });
});

function directorySize(p: string): number {
    const stat = fs.statSync(p);
    if (!stat.isDirectory()) return stat.size;
    return fs.readdirSync(p).reduce((sum, entry) => sum + directorySize(path.join(p, entry)), 0);
}

describe("what must exist before pulumi up: the images bucket and the catadata table (Pulumi mocks)", function () {
    this.timeout(120_000);
    /** The check alone, as index.ts makes it, against an account that holds what `account` says. */
    const check = (account: MockAccount, checkImagesBucket = true) =>
        underMocks(() => {
            const checked = checkPrerequisites({
                imagesBucketName: "bootboots-images-123456789012-eu-west-2",
                catadataTableName: "catadata",
                region: "eu-west-2",
                checkImagesBucket,
            });
            return pulumi.all([checked.imagesBucketName, checked.catadataTableName]);
        }, account);

    it("looks both up through the provider, and hands the pipeline their names only once found", async () => {
        const plain = await runStack({});
        const lookups = plain.calls.filter((c) => c.token.includes("getBucket") || c.token.includes("getTable"));
        assert.deepEqual(lookups.map((c) => [c.token, c.inputs.bucket ?? c.inputs.name]).sort(), [
            ["aws:dynamodb/getTable:getTable", "catadata"],
            ["aws:s3/getBucket:getBucket", "bootboots-images-123456789012-eu-west-2"],
        ]);
        assert.equal(plain.outputs.catadataTableName, "catadata");
        assert.deepEqual(await check({}), ["bootboots-images-123456789012-eu-west-2", "catadata"]);
    });

    it("stops the program when the table is missing, naming the key to set and the command that creates it", async () => {
        await assert.rejects(runStack({}, { missingTables: ["catadata"] }), (error: Error) => {
            assert.equal(error.name, "PrerequisiteError");
            assert.equal(
                error.message,
                "The catadata table catadata was not found in eu-west-2 (reading DynamoDB Table (catadata): operation error DynamoDB: DescribeTable, ResourceNotFoundException: Requested resource not found): set catadataTableName to the table of labels in this region (pulumi config set catadataTableName <table>), or create it (aws dynamodb create-table --table-name catadata --region eu-west-2 --attribute-definitions AttributeName=imageName,AttributeType=S --key-schema AttributeName=imageName,KeyType=HASH --billing-mode PAY_PER_REQUEST).",
            );
            return true;
        });
    });

    it("stops on a missing images bucket unless checkImagesBucket is false, and on a table keyed otherwise", async () => {
        await assert.rejects(
            check({ missingBuckets: ["bootboots-images-123456789012-eu-west-2"] }),
            (error: Error) =>
                error.name === "PrerequisiteError" &&
                /^The images bucket bootboots-images-123456789012-eu-west-2 could not be read \(reading S3 Bucket \(bootboots-images-123456789012-eu-west-2\): couldn't find resource\): set imagesBucketName .*\(aws s3 mb s3:\/\/bootboots-images-123456789012-eu-west-2 --region eu-west-2\); for a bucket in another account, pulumi config set checkImagesBucket false\.$/.test(
                    error.message,
                ),
        );
        assert.deepEqual(await check({ missingBuckets: ["bootboots-images-123456789012-eu-west-2"] }, false), [
            "bootboots-images-123456789012-eu-west-2",
            "catadata",
        ]);
        for (const [key, problem] of [
            [{ hashKey: "id", type: "S" }, "the table catadata is keyed by id, not imageName (type S)"],
            [{ hashKey: "imageName", type: "N" }, "the table catadata's key imageName has type N, not S"],
            [
                { hashKey: "imageName", type: "S", rangeKey: "takenAt" },
                "the table catadata has a sort key; label rows are keyed by imageName (type S) alone",
            ],
        ] as const) {
            await assert.rejects(
                check({ tableKeys: { catadata: key } }),
                (error: Error) =>
                    error.message.startsWith(
                        `The catadata table cannot hold labels: ${problem}. Set catadataTableName`,
                    ),
                problem,
            );
        }
    });
});

describe("after every job: the job-events rules, topic, model package group and retraining schedule (Pulumi mocks)", function () {
    this.timeout(120_000);
    let plain: StackRun;
    let configured: StackRun;

    before(async () => {
        plain = await runStack({});
        configured = await runStack(AWAY_FROM_DEFAULTS);
    });

    it("routes only this stack's finished training and tuning jobs to the job-events function", () => {
        const fn = plain.one("aws:lambda/function:Function", "job-events");
        const rules = plain.ofType("aws:cloudwatch/eventRule:EventRule").filter((r) => r.name.includes("-finished"));
        assert.deepEqual(
            rules.map((r) => JSON.parse(r.inputs.eventPattern)),
            [
                {
                    source: ["aws.sagemaker"],
                    "detail-type": ["SageMaker Training Job State Change"],
                    detail: {
                        TrainingJobStatus: ["Completed", "Failed", "Stopped"],
                        Tags: { "bootboots:stack": ["sandbox"] },
                    },
                },
                {
                    source: ["aws.sagemaker"],
                    "detail-type": ["SageMaker HyperParameter Tuning Job State Change"],
                    detail: {
                        HyperParameterTuningJobStatus: ["Completed", "Failed", "Stopped"],
                        Tags: { "bootboots:stack": ["sandbox"] },
                    },
                },
            ],
        );
        for (const target of plain
            .ofType("aws:cloudwatch/eventTarget:EventTarget")
            .filter((t) => t.name.includes("-finished")))
            assert.equal(target.inputs.arn, fn.state.arn);
        const permissions = plain
            .ofType("aws:lambda/permission:Permission")
            .filter((p) => p.name.includes("-finished"));
        assert.equal(permissions.length, 2);
        assert.ok(permissions.every((p) => p.inputs.principal === "events.amazonaws.com" && p.inputs.sourceArn));
        // The trigger tags every job with the stack, which is what the rules match.
        assert.equal(
            plain.one("aws:lambda/function:Function", "trigger-training").inputs.environment.variables.STACK_NAME,
            "sandbox",
        );
        assert.deepEqual(fn.inputs.environment.variables.SERVING_MODEL_URL, "");
        assert.equal(
            configured.one("aws:lambda/function:Function", "job-events").inputs.environment.variables.SERVING_MODEL_URL,
            MODEL_URL,
        );
    });

    it("creates the topic, subscribes notificationEmail only when set, and the model package group bootboots", () => {
        assert.equal(plain.ofType("aws:sns/topic:Topic").length, 1);
        assert.equal(plain.ofType("aws:sns/topicSubscription:TopicSubscription").length, 0);
        const subscription = configured.one("aws:sns/topicSubscription:TopicSubscription");
        assert.deepEqual([subscription.inputs.protocol, subscription.inputs.endpoint], ["email", "cats@example.com"]);
        assert.equal(
            plain.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup").inputs.modelPackageGroupName,
            "bootboots",
        );
        const env = plain.one("aws:lambda/function:Function", "job-events").inputs.environment.variables;
        assert.equal(env.TOPIC_ARN, plain.outputs.notificationTopicArn);
        assert.match(
            env.INFERENCE_IMAGE,
            /^763104351884\.dkr\.ecr\.eu-west-2\.amazonaws\.com\/tensorflow-inference:2\.19/,
        );
    });

    it("schedules the retraining check only with retrainSchedule, with its threshold", () => {
        assert.equal(plain.ofType("aws:lambda/function:Function").filter((f) => f.name.includes("retrain")).length, 0);
        const rule = configured.one("aws:cloudwatch/eventRule:EventRule", "retrain");
        assert.equal(rule.inputs.scheduleExpression, "rate(1 day)");
        const fn = configured.one("aws:lambda/function:Function", "retrain-check");
        assert.equal(fn.inputs.environment.variables.RETRAIN_MIN_NEW_LABELS, "30");
        assert.equal(configured.one("aws:cloudwatch/eventTarget:EventTarget", "retrain").inputs.arn, fn.state.arn);
    });

    it("lets the job-events function register in its group and publish to its topic only; the check invoke the trigger only", () => {
        const policy = (name: string) =>
            allowed(configured.ofType("aws:iam/rolePolicy:RolePolicy").find((p) => p.name.includes(name))!);
        const events = policy("job-events");
        assert.deepEqual([...events.keys()].sort(), [
            "events:PutEvents",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:DeleteObjectTagging",
            "s3:GetObject",
            "s3:GetObjectTagging",
            "s3:ListBucket",
            "s3:PutObject",
            "s3:PutObjectTagging",
            "sagemaker:CreateModelPackage",
            "sagemaker:DescribeModelPackage",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:ListModelPackages",
            "sns:Publish",
        ]);
        assert.deepEqual(events.get("s3:PutObjectTagging"), [
            "arn:aws:s3:::bootboots-training-data-123456789012/datasets/*",
        ]);
        assert.deepEqual(events.get("sagemaker:CreateModelPackage"), [
            "arn:aws:sagemaker:eu-west-2:123456789012:model-package-group/bootboots",
            "arn:aws:sagemaker:eu-west-2:123456789012:model-package/bootboots/*",
        ]);
        assert.deepEqual(events.get("sns:Publish"), [configured.outputs.notificationTopicArn]);
        assert.ok(
            events
                .get("s3:PutObject")!
                .every((r) => r.startsWith("arn:aws:s3:::bootboots-models-123456789012/training-output/*/")),
        );
        const check = policy("retrain-check");
        assert.deepEqual([...check.keys()].sort(), [
            "dynamodb:Scan",
            "events:PutEvents",
            "lambda:InvokeFunction",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:ListHyperParameterTuningJobs",
            "sagemaker:ListTrainingJobs",
        ]);
        assert.deepEqual(check.get("lambda:InvokeFunction"), [
            configured.one("aws:lambda/function:Function", "trigger-training").state.arn,
        ]);
        assert.deepEqual(check.get("s3:PutObject"), [
            "arn:aws:s3:::bootboots-training-data-123456789012/retrain/last-check.json",
        ]);
        // SageMaker's List calls have no resource-level permission: the one "*" of these roles.
        assert.deepEqual(check.get("sagemaker:ListTrainingJobs"), ["*"]);
        const retrain = configured.one("aws:lambda/function:Function", "retrain-check");
        assert.equal(retrain.inputs.timeout, 900, "it waits for the trigger, which waits for data prep");
        assert.equal(retrain.inputs.reservedConcurrentExecutions, 1, "one check at a time");
    });

    it("keeps every event no retry could process for 14 days, and sends the jobs topic one message naming it", async () => {
        const invokeConfigs = configured.ofType("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig");
        const asynchronous = ["job-events", "retrain-check", "camera-infer"].map((name) =>
            configured.one("aws:lambda/function:Function", name),
        );
        assert.deepEqual(
            invokeConfigs.map((c) => c.inputs.functionName).sort(),
            asynchronous.map((fn) => fn.state.name).sort(),
            "every asynchronous function of the stack (job events, the check, keep-warm's) has an on-failure destination",
        );
        for (const config of invokeConfigs) {
            assert.equal(config.inputs.maximumRetryAttempts, 2);
            assert.equal(
                config.inputs.destinationConfig.onFailure.destination,
                "arn:aws:events:eu-west-2:123456789012:event-bus/default",
            );
        }
        const queue = configured.one("aws:sqs/queue:Queue", "failed-events");
        assert.equal(queue.inputs.messageRetentionSeconds, 14 * 86_400);
        const rule = configured.one("aws:cloudwatch/eventRule:EventRule", "failed-events");
        assert.deepEqual(JSON.parse(rule.inputs.eventPattern), {
            source: ["lambda"],
            "detail-type": ["Lambda Function Invocation Result - Failure"],
            detail: { requestContext: { functionArn: asynchronous.map((fn) => ({ prefix: fn.state.arn })) } },
        });
        const notice = configured.one("aws:lambda/function:Function", "failed-events");
        const targets = configured
            .ofType("aws:cloudwatch/eventTarget:EventTarget")
            .filter((t) => t.inputs.rule === rule.state.name);
        assert.deepEqual(targets.map((t) => t.inputs.arn).sort(), [queue.state.arn, notice.state.arn].sort());
        // Only that rule may send to the queue.
        const [statement] = JSON.parse(configured.one("aws:sqs/queuePolicy:QueuePolicy").inputs.policy).Statement;
        assert.deepEqual(statement.Principal, { Service: "events.amazonaws.com" });
        assert.deepEqual(statement.Condition, { ArnEquals: { "aws:SourceArn": rule.state.arn } });
        assert.deepEqual([...allowed(configured.one("aws:iam/rolePolicy:RolePolicy", "failed-events")).keys()].sort(), [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sns:Publish",
        ]);
    });
});
