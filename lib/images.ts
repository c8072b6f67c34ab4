import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { contract } from "./contract";

/** The prebuilt TensorFlow image (`tensorflow-training` or `tensorflow-inference`) for the region. */
export function tensorflowImage(
    repositoryName: "tensorflow-training" | "tensorflow-inference",
    tensorflowVersion: pulumi.Input<string>,
    region: pulumi.Input<string>,
): pulumi.Output<aws.sagemaker.GetPrebuiltEcrImageResult> {
    const scope = repositoryName === "tensorflow-training" ? "training" : "inference";
    const imageTag = pulumi.output(tensorflowVersion).apply((version) => contract.tensorflowImageTags[version][scope]);
    return aws.sagemaker.getPrebuiltEcrImageOutput({ repositoryName, imageTag, region });
}
