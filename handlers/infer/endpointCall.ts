import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { sleep } from "../../lib/backoff";
import { contract } from "../../lib/contract";
import { awsErrorName } from "../../lib/errors";
import { servingRequestBody } from "../../lib/serving";
import { endpointBackoffMs, isRetryableEndpointError } from "./cameraRules";

/** The endpoint's answer, or why there is none: a sentence for the camera, and AWS's own words for the log. */
export type EndpointCall =
    | { readonly ok: true; readonly body: string; readonly variantName: string; readonly endpointMs: number }
    | { readonly ok: false; readonly reason: string; readonly logged: string };

/** The camera's wording of a failed attempt; what AWS said goes to the log only (it can name ARNs and the account). */
function failure(reason: string, error: unknown, attempts: number): EndpointCall {
    const logged = `${awsErrorName(error)}: ${(error as Error)?.message ?? String(error)} (${attempts} attempts)`;
    return { ok: false, reason, logged };
}

/**
 * InvokeEndpoint, retried with back-off while the endpoint is throttled, cold or busy, within
 * the deadline; a model that cannot read the image and any other refusal are not retried.
 */
export async function callEndpoint(
    runtime: SageMakerRuntimeClient,
    settings: { readonly endpointName: string; readonly inferenceDeadlineMs: number },
    jpeg: Uint8Array,
): Promise<EndpointCall> {
    const started = Date.now();
    const deadline = started + settings.inferenceDeadlineMs;
    const seconds = Math.round(settings.inferenceDeadlineMs / 1000);
    for (let attempt = 1; ; attempt++) {
        try {
            const response = await runtime.send(
                new InvokeEndpointCommand({
                    EndpointName: settings.endpointName,
                    ContentType: contract.serving.contentType,
                    Accept: "application/json",
                    Body: servingRequestBody(jpeg),
                }),
                { abortSignal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) },
            );
            return {
                ok: true,
                body: Buffer.from(response.Body!).toString("utf8"),
                variantName: response.InvokedProductionVariant ?? "",
                endpointMs: Date.now() - started,
            };
        } catch (error) {
            const wait = endpointBackoffMs(attempt);
            const name = awsErrorName(error);
            if (name === "ModelError") return failure("the model could not read the image", error, attempt);
            if (name === "AbortError" || Date.now() + wait >= deadline)
                return failure(
                    `endpoint ${settings.endpointName} did not answer within ${seconds} s (${attempt} attempts)`,
                    error,
                    attempt,
                );
            if (!isRetryableEndpointError(error)) {
                const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
                return failure(
                    `endpoint ${settings.endpointName} refused the request${status ? ` (HTTP ${status})` : ""}: is a model deployed and in service?`,
                    error,
                    attempt,
                );
            }
            console.log(JSON.stringify({ retry: attempt, error: name, waitMs: wait }));
            await sleep(wait);
        }
    }
}
