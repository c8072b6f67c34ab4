import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** One IAM statement: every statement in the stack names its actions and resources. */
export interface PolicyStatement {
    readonly Sid: string;
    readonly Effect: "Allow" | "Deny";
    /** Only in a resource's own policy (a queue's, a topic's): the service it lets in. */
    readonly Principal?: { readonly Service: string };
    readonly Action: readonly string[];
    readonly Resource: pulumi.Input<string> | readonly pulumi.Input<string>[];
    readonly Condition?: Record<string, Record<string, pulumi.Input<string> | readonly pulumi.Input<string>[]>>;
}

export function policyDocument(statements: readonly PolicyStatement[]): pulumi.Output<string> {
    return pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * A service role's trust policy: only the service, and only on behalf of this account's
 * resources (`aws:SourceAccount`), so that no other account's resource can make the service
 * act as this role (the confused deputy).
 */
export function assumeRolePolicy(service: string, accountId: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: service },
                Action: "sts:AssumeRole",
                Condition: { StringEquals: { "aws:SourceAccount": accountId } },
            },
        ],
    });
}

/** Pulling a prebuilt SageMaker image: the token call has no resource scope, the layer reads do. */
export function ecrPullStatements(
    image: pulumi.Output<aws.sagemaker.GetPrebuiltEcrImageResult>,
    region: pulumi.Input<string>,
): PolicyStatement[] {
    return [
        { Sid: "EcrToken", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
        {
            Sid: "PullImage",
            Effect: "Allow",
            Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            Resource: pulumi.interpolate`arn:aws:ecr:${region}:${image.registryId}:repository/${image.repositoryName}`,
        },
    ];
}

/** Writing to the log groups of a SageMaker job or endpoint family. */
export function sagemakerLogStatements(
    region: pulumi.Input<string>,
    accountId: pulumi.Input<string>,
    logGroupPrefix: string,
): PolicyStatement[] {
    return [
        {
            Sid: "WriteLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            Resource: pulumi.interpolate`arn:aws:logs:${region}:${accountId}:log-group:${logGroupPrefix}*`,
        },
        {
            Sid: "PutMetrics",
            Effect: "Allow",
            Action: ["cloudwatch:PutMetricData"],
            // PutMetricData has no resource scope; the namespace condition narrows it.
            Resource: "*",
            Condition: { StringLike: { "cloudwatch:namespace": ["/aws/sagemaker/*"] } },
        },
    ];
}
