import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy, ecrPullStatements, policyDocument, sagemakerLogStatements } from "../lib/iam";
import { s3ObjectArn } from "../lib/s3Url";
import { ENDPOINT_LOG_GROUP } from "../lib/sagemakerJobs";
import type { StackSettings } from "../lib/stackSettings";
import { variantNameFor } from "../lib/serving";

export interface ServerlessEndpointArgs {
    /** The AWS account id, for the log-group ARNs. */
    readonly accountId: pulumi.Input<string>;
    /** The stack's region, for ARNs and the inference image. */
    readonly region: pulumi.Input<string>;
    /** `s3://<bucket>/<key>.tar.gz` of a trained model. */
    readonly modelDataUrl: pulumi.Input<string>;
    /** The stack's models bucket: a job of it names its variant after the job. */
    readonly modelBucketName: pulumi.Input<string>;
    /** The TF Serving image of the stack's TensorFlow version and region (resolved once, in index.ts). */
    readonly inferenceImage: pulumi.Output<aws.sagemaker.GetPrebuiltEcrImageResult>;
    /** The endpoint's name, memory and concurrency (lib/stackSettings.ts says what each does). */
    readonly settings: Pick<
        StackSettings,
        "endpointName" | "endpointMemoryMb" | "endpointMaxConcurrency" | "endpointProvisionedConcurrency"
    >;
}

/**
 * TF Serving behind a SageMaker serverless endpoint. Model and configuration are
 * auto-named: a new model URL creates new ones first, then updates the endpoint in place.
 */
export class ServerlessEndpoint extends pulumi.ComponentResource {
    public readonly endpoint: aws.sagemaker.Endpoint;
    public readonly model: aws.sagemaker.Model;
    public readonly endpointConfiguration: aws.sagemaker.EndpointConfiguration;
    /** Named after the model, so that each answer says which model gave it (lib/serving.ts). */
    public readonly variantName: pulumi.Output<string>;

    constructor(name: string, args: ServerlessEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bootboots:inference:ServerlessEndpoint", name, {}, opts);

        const image = args.inferenceImage;
        const { settings } = args;
        const modelObjectArn = pulumi.output(args.modelDataUrl).apply(s3ObjectArn);

        const role = new aws.iam.Role(
            `${name}-model`,
            {
                assumeRolePolicy: assumeRolePolicy("sagemaker.amazonaws.com", args.accountId),
                description: "Serves the BootBoots model",
            },
            { parent: this },
        );
        const rolePolicy = new aws.iam.RolePolicy(
            `${name}-model`,
            {
                role: role.id,
                policy: policyDocument([
                    { Sid: "ReadModelArtifact", Effect: "Allow", Action: ["s3:GetObject"], Resource: modelObjectArn },
                    ...ecrPullStatements(image, args.region),
                    ...sagemakerLogStatements(args.region, args.accountId, ENDPOINT_LOG_GROUP),
                ]),
            },
            { parent: this },
        );

        this.model = new aws.sagemaker.Model(
            `${name}-model`,
            {
                executionRoleArn: role.arn,
                primaryContainer: { image: image.registryPath, modelDataUrl: args.modelDataUrl },
                // TF Serving needs no network: the model archive is fetched by SageMaker, not the container.
                enableNetworkIsolation: true,
            },
            { parent: this, dependsOn: [rolePolicy] },
        );

        this.variantName = pulumi
            .all([args.modelDataUrl, args.modelBucketName])
            .apply(([url, bucket]) => variantNameFor(url, bucket));
        this.endpointConfiguration = new aws.sagemaker.EndpointConfiguration(
            `${name}-config`,
            {
                productionVariants: [
                    {
                        variantName: this.variantName,
                        modelName: this.model.name,
                        serverlessConfig: {
                            memorySizeInMb: settings.endpointMemoryMb,
                            maxConcurrency: settings.endpointMaxConcurrency,
                            ...(settings.endpointProvisionedConcurrency > 0
                                ? { provisionedConcurrency: settings.endpointProvisionedConcurrency }
                                : {}),
                        },
                    },
                ],
            },
            { parent: this },
        );

        this.endpoint = new aws.sagemaker.Endpoint(
            `${name}-endpoint`,
            { name: settings.endpointName, endpointConfigName: this.endpointConfiguration.name },
            // Creating or updating a serverless endpoint routinely takes 10-20 minutes.
            { parent: this, customTimeouts: { create: "45m", update: "45m", delete: "30m" } },
        );

        this.registerOutputs({ endpointName: this.endpoint.name, variantName: this.variantName });
    }
}
