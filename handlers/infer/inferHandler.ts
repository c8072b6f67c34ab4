import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { marshall } from "@aws-sdk/util-dynamodb";
import { randomBytes } from "crypto";
import {
    CameraAnswer,
    JPEG_CONTENT_TYPE,
    KEEP_WARM_JPEG_BASE64,
    NotStored,
    cameraImageFileName,
} from "../../lib/cameraApi";
import { contract } from "../../lib/contract";
import type { Decision } from "../../lib/jobOutput";
import { sleep } from "../../lib/backoff";
import { awsErrorName } from "../../lib/errors";
import { maxJpegBytes, modelOfVariant, readPredictions, servingRequestBody } from "../../lib/serving";
import { ReadObject, jobFileSources, readJobFiles } from "../../lib/jobFiles";
import {
    HttpApiEvent,
    HttpApiResult,
    endpointBackoffMs,
    cameraDecision,
    catadataRow,
    eventRow,
    httpResult,
    isRetryableEndpointError,
    parseCameraRequest,
    readClasses,
    refusal,
} from "./cameraRules";
import type { InferEnv } from "../../lib/functionSettings";
import { getObjectIfAny } from "../../lib/s3Objects";

export interface InferClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
    readonly runtime: SageMakerRuntimeClient;
}

/** The infer function's settings: its environment (lib/functionSettings.ts INFER_ENV). */
export type InferSettings = InferEnv;

/** The model that answered, and its decision if it has one. */
interface AnsweringModel {
    readonly variantName: string;
    readonly modelDataUrl: string | null;
    readonly trainingJobName: string | null;
    readonly decision?: Decision;
    /** Why there is no decision, when there is none. */
    readonly noDecision?: string;
}

/** The endpoint gave no answer; a plain Error with a marked name (a subclass loses its message in the serialized closure). */
function endpointFailure(message: string): Error {
    const error = new Error(message);
    error.name = "EndpointFailure";
    return error;
}

/**
 * A model's decision.json: the plain copy beside the archive, else the job's output.tar.gz,
 * else (a model outside the stack's jobs) the model archive itself. Undefined when none has one.
 */
export async function readModelDecision(s3: S3Client, modelDataUrl: string): Promise<Decision | undefined> {
    const read: ReadObject = (bucket, key) => getObjectIfAny(s3, bucket, key);
    return (await readJobFiles(read, jobFileSources(modelDataUrl), ["decision"])).decision;
}

/**
 * The camera's `POST /infer`, built once per Lambda environment: the decisions of the models
 * that answer are read once and kept, by variant name.
 */
export function createInferHandler(clients: InferClients, settings: InferSettings, now: () => Date = () => new Date()) {
    const maxBytes = maxJpegBytes();
    const models = new Map<string, Promise<AnsweringModel>>();

    function answeringModel(variantName: string): Promise<AnsweringModel> {
        let model = models.get(variantName);
        if (!model) {
            model = resolveModel(variantName);
            models.set(variantName, model);
            // A failed read is tried again by the next request, not remembered.
            model.catch(() => models.delete(variantName));
        }
        return model;
    }

    async function resolveModel(variantName: string): Promise<AnsweringModel> {
        const model = modelOfVariant(variantName, settings);
        if (!model) {
            return {
                variantName,
                modelDataUrl: null,
                trainingJobName: null,
                noDecision: `variant ${variantName} serves a model this stack no longer knows, so there is no threshold to act on`,
            };
        }
        const decision = await readModelDecision(clients.s3, model.modelDataUrl);
        const base = { variantName, modelDataUrl: model.modelDataUrl, trainingJobName: model.trainingJobName ?? null };
        if (decision) return { ...base, decision };
        return {
            ...base,
            noDecision: `model ${model.trainingJobName ?? model.modelDataUrl} has no decision.json (trained before thresholds, or not a BootBoots job), so there is no threshold to act on`,
        };
    }

    /** InvokeEndpoint, retried with back-off while the endpoint is throttled, cold or busy, within the deadline. */
    async function invokeEndpoint(jpeg: Uint8Array): Promise<{ body: string; variantName: string }> {
        const deadline = Date.now() + settings.inferenceDeadlineMs;
        for (let retry = 0; ; retry++) {
            try {
                const response = await clients.runtime.send(
                    new InvokeEndpointCommand({
                        EndpointName: settings.endpointName,
                        ContentType: contract.serving.contentType,
                        Accept: "application/json",
                        Body: servingRequestBody(jpeg),
                    }),
                    { abortSignal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) },
                );
                return {
                    body: Buffer.from(response.Body!).toString("utf8"),
                    variantName: response.InvokedProductionVariant ?? "",
                };
            } catch (error) {
                const wait = endpointBackoffMs(retry + 1);
                const name = awsErrorName(error);
                if (name === "ModelError") {
                    throw endpointFailure(
                        `the model could not read the image (${String((error as Error).message).slice(0, 200)})`,
                    );
                }
                if (name === "AbortError" || Date.now() + wait >= deadline) {
                    throw endpointFailure(
                        `endpoint ${settings.endpointName} did not answer within ${Math.round(settings.inferenceDeadlineMs / 1000)} s (${name}, ${retry + 1} attempts)`,
                    );
                }
                if (!isRetryableEndpointError(error))
                    throw endpointFailure(
                        `endpoint ${settings.endpointName} failed: ${name}: ${(error as Error).message}`,
                    );
                console.log(JSON.stringify({ retry: retry + 1, error: name, waitMs: wait }));
                await sleep(wait);
            }
        }
    }

    /** Waits for the writes under way (image, row, event); what failed is named, not thrown. */
    async function store(
        writes: { part: NotStored; write: Promise<unknown> }[],
    ): Promise<{ notStored: NotStored[]; errors: string[] }> {
        const outcomes = await Promise.allSettled(writes.map((w) => w.write));
        const notStored: NotStored[] = [];
        const errors: string[] = [];
        outcomes.forEach((outcome, i) => {
            if (outcome.status === "rejected") {
                notStored.push(writes[i].part);
                errors.push(
                    `${writes[i].part}: ${awsErrorName(outcome.reason)}: ${(outcome.reason as Error)?.message ?? outcome.reason}`,
                );
            }
        });
        return { notStored, errors };
    }

    const putImage = (key: string, jpeg: Buffer) =>
        clients.s3.send(
            new PutObjectCommand({
                Bucket: settings.imagesBucket,
                Key: key,
                Body: jpeg,
                ContentType: JPEG_CONTENT_TYPE,
            }),
        );
    const putRow = (row: Record<string, unknown>) =>
        clients.dynamodb.send(
            new PutItemCommand({
                TableName: settings.catadataTable,
                Item: marshall(row),
                ConditionExpression: "attribute_not_exists(imageName)",
            }),
        );

    async function keepWarm(): Promise<object> {
        const started = Date.now();
        const { variantName } = await invokeEndpoint(Buffer.from(KEEP_WARM_JPEG_BASE64, "base64"));
        const model = await answeringModel(variantName);
        return {
            keepWarm: true,
            variantName,
            decision: model.decision !== undefined,
            endpointMs: Date.now() - started,
        };
    }

    async function handle(event: HttpApiEvent, requestId: string): Promise<HttpApiResult> {
        const started = Date.now();
        const request = parseCameraRequest(event, maxBytes);
        if ("error" in request) {
            console.log(JSON.stringify({ requestId, status: request.status, refused: request.error }));
            return refusal(request);
        }
        const at = now();
        const fileName = cameraImageFileName(at, randomBytes(2).toString("hex"));
        const imageKey = `${settings.imagesPrefix}${fileName}`;
        const image = { bucket: settings.imagesBucket, key: imageKey };
        const row = { imageName: fileName, createdAt: at.toISOString(), camera: request.camera };

        if (request.mode === "training") {
            const { notStored, errors } = await store([
                { part: "image", write: putImage(imageKey, request.jpeg) },
                { part: "row", write: putRow(catadataRow(row)) },
            ]);
            console.log(
                JSON.stringify({
                    requestId,
                    mode: "training",
                    camera: request.camera,
                    imageKey,
                    notStored,
                    errors,
                    totalMs: Date.now() - started,
                }),
            );
            if (notStored.length > 0) {
                return refusal({
                    status: 503,
                    error: `The image could not be stored for labelling (${notStored.join(" and ")} failed): try again.`,
                });
            }
            const answer: CameraAnswer = { success: true, mode: "training", image, requestId };
            return httpResult(200, answer);
        }

        // The image is stored while the endpoint thinks: it feeds labelling whatever the answer.
        const imageStored = { part: "image" as const, write: putImage(imageKey, request.jpeg) };
        let endpoint: { body: string; variantName: string };
        const endpointStarted = Date.now();
        try {
            endpoint = await invokeEndpoint(request.jpeg);
        } catch (error) {
            if ((error as Error)?.name !== "EndpointFailure") throw error;
            const reason = (error as Error).message;
            const { notStored, errors } = await store([imageStored]);
            console.log(
                JSON.stringify({
                    requestId,
                    status: 503,
                    camera: request.camera,
                    imageKey,
                    endpointError: reason,
                    notStored,
                    errors,
                }),
            );
            const kept =
                notStored.length === 0
                    ? `the image was kept for labelling as ${imageKey}`
                    : "the image was not stored either";
            return refusal({ status: 503, error: `No answer: ${reason}; ${kept}, try again.` });
        }
        const endpointMs = Date.now() - endpointStarted;
        const predictions = readPredictions(endpoint.body, settings.classes);
        if ("error" in predictions) {
            const { notStored, errors } = await store([imageStored]);
            console.log(
                JSON.stringify({
                    requestId,
                    status: 503,
                    imageKey,
                    endpointError: predictions.error,
                    notStored,
                    errors,
                }),
            );
            return refusal({
                status: 503,
                error: `No answer: ${predictions.error}; is the deployed model trained on the stack's classes?`,
            });
        }
        const classes = readClasses(predictions.probabilities, settings.classes);
        const warnings: string[] = [];
        let model: AnsweringModel;
        try {
            model = await answeringModel(endpoint.variantName);
        } catch (error) {
            model = {
                variantName: endpoint.variantName,
                modelDataUrl: null,
                trainingJobName: null,
                noDecision: `the threshold of variant ${endpoint.variantName} could not be read (${awsErrorName(error)})`,
            };
        }
        if (model.noDecision) warnings.push(`No decision: ${model.noDecision}.`);
        const decision = cameraDecision(model.decision, classes.predictions);

        const writes: { part: NotStored; write: Promise<unknown> }[] = [
            imageStored,
            {
                part: "row",
                write: putRow(
                    catadataRow({ ...row, top3: classes.top3, modelDataUrl: model.modelDataUrl ?? undefined }),
                ),
            },
        ];
        if (decision?.act) {
            const item = eventRow({
                fileName,
                at,
                camera: request.camera,
                imageKey,
                decision,
                trainingJobName: model.trainingJobName ?? undefined,
                modelDataUrl: model.modelDataUrl ?? undefined,
                retentionDays: settings.eventRetentionDays,
            });
            writes.push({
                part: "event",
                write: clients.dynamodb.send(
                    new PutItemCommand({ TableName: settings.eventsTable, Item: marshall(item) }),
                ),
            });
        }
        const { notStored, errors } = await store(writes);
        if (notStored.length > 0)
            warnings.push(`Not stored: ${notStored.join(", ")} (the answer stands; see the function's log).`);

        const totalMs = Date.now() - started;
        const answer: CameraAnswer = {
            success: true,
            mode: "inference",
            mostLikelyCat: classes.mostLikelyCat,
            ...(decision ? { decision } : {}),
            predictions: classes.predictions,
            model: {
                trainingJobName: model.trainingJobName,
                modelDataUrl: model.modelDataUrl,
                variantName: model.variantName,
            },
            image,
            requestId,
            ...(notStored.length > 0 ? { notStored } : {}),
            ...(warnings.length > 0 ? { warnings } : {}),
            timings: { endpointMs, totalMs },
        };
        console.log(
            JSON.stringify({
                requestId,
                status: 200,
                camera: request.camera,
                imageKey,
                variant: model.variantName,
                act: decision?.act ?? null,
                notStored,
                errors,
                endpointMs,
                totalMs,
            }),
        );
        return httpResult(200, answer);
    }

    // An HTTP API event from the gateway, or `{"keepWarm": true}` from the schedule.
    return async (event: unknown, context?: { awsRequestId?: string }): Promise<HttpApiResult | object> => {
        const received = (event ?? {}) as HttpApiEvent & { keepWarm?: unknown };
        if (received.keepWarm === true) return keepWarm();
        return handle(received, received.requestContext?.requestId ?? context?.awsRequestId ?? "");
    };
}
