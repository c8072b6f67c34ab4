import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { randomBytes } from "crypto";
import { CameraAnswer, KEEP_WARM_JPEG_BASE64 } from "../../lib/cameraApi";
import type { InferEnv } from "../../lib/functionSettings";
import { maxJpegBytes, readPredictions } from "../../lib/serving";
import { AnsweringModel, answeringModels } from "./answeringModels";
import {
    CameraRequest,
    HttpApiEvent,
    HttpApiResult,
    cameraDecision,
    catadataRow,
    eventRow,
    httpResult,
    parseCameraRequest,
    readClasses,
    refusal,
} from "./cameraRules";
import { callEndpoint } from "./endpointCall";
import { Stored, StoredImage, frameStore, outcomes } from "./frameStore";

export { readModelDecision } from "./answeringModels";

export interface InferClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
    readonly runtime: SageMakerRuntimeClient;
}

/** The infer function's settings: its environment (lib/functionSettings.ts INFER_ENV). */
export type InferSettings = InferEnv;

/** One request under way: what it asked, when, and the image's write, started before anything else. */
interface Frame {
    readonly request: CameraRequest;
    readonly requestId: string;
    readonly at: Date;
    readonly started: number;
    readonly image: Promise<{ stored: Stored; image: StoredImage }>;
}

/**
 * The camera's `POST /infer`, built once per Lambda environment: the decisions of the models
 * that answer are read once and kept, by variant name. Every write is awaited before the
 * answer and none can end the invocation: what was not stored is named in the answer.
 */
export function createInferHandler(clients: InferClients, settings: InferSettings, now: () => Date = () => new Date()) {
    const maxBytes = maxJpegBytes();
    const modelOf = answeringModels(clients.s3, settings);
    const store = frameStore(clients, settings, () => randomBytes(2).toString("hex"));

    /** The one failure path: the writes under way finish, the log gets AWS's words, the camera ours. */
    async function fail(
        frame: Frame,
        writes: Promise<Stored>[],
        reason: string,
        logged: string,
    ): Promise<HttpApiResult> {
        const { image } = await frame.image;
        const { notStored, errors } = await outcomes(writes);
        console.log(
            JSON.stringify({
                requestId: frame.requestId,
                status: 503,
                camera: frame.request.camera,
                imageKey: image.key,
                endpointError: logged,
                notStored,
                errors,
            }),
        );
        const kept = notStored.includes("image")
            ? "the image was not stored either"
            : `the image was kept for labelling as ${image.key}`;
        return refusal({ status: 503, error: `No answer: ${reason}; ${kept}, try again.` });
    }

    async function training(frame: Frame): Promise<HttpApiResult> {
        const { stored, image } = await frame.image;
        const row = store.row(
            catadataRow({ imageName: image.fileName, createdAt: frame.at.toISOString(), camera: frame.request.camera }),
        );
        const { notStored, errors } = await outcomes([Promise.resolve(stored), row]);
        console.log(
            JSON.stringify({
                requestId: frame.requestId,
                mode: "training",
                camera: frame.request.camera,
                imageKey: image.key,
                notStored,
                errors,
                totalMs: Date.now() - frame.started,
            }),
        );
        if (notStored.length > 0)
            return refusal({
                status: 503,
                error: `The image could not be stored for labelling (${notStored.join(" and ")} failed): try again.`,
            });
        const answer: CameraAnswer = {
            success: true,
            mode: "training",
            image: { bucket: settings.imagesBucket, key: image.key },
            requestId: frame.requestId,
        };
        return httpResult(200, answer);
    }

    /** The row and, when the decision acts, the event: written once the image has its name. */
    function recordWrites(
        frame: Frame,
        image: StoredImage,
        model: AnsweringModel,
        classes: ReturnType<typeof readClasses>,
    ) {
        const decision = cameraDecision(model.decision, classes.predictions);
        const row = catadataRow({
            imageName: image.fileName,
            createdAt: frame.at.toISOString(),
            camera: frame.request.camera,
            top3: classes.top3,
            modelDataUrl: model.modelDataUrl ?? undefined,
        });
        const writes = [store.row(row)];
        if (decision?.act) {
            const event = eventRow({
                fileName: image.fileName,
                at: frame.at,
                camera: frame.request.camera,
                imageKey: image.key,
                decision,
                trainingJobName: model.trainingJobName ?? undefined,
                modelDataUrl: model.modelDataUrl ?? undefined,
                retentionDays: settings.eventRetentionDays,
            });
            writes.push(store.event(event));
        }
        return { decision, writes };
    }

    async function inference(frame: Frame): Promise<HttpApiResult> {
        const called = await callEndpoint(clients.runtime, settings, frame.request.jpeg);
        const imageWrite = frame.image.then((w) => w.stored);
        if (!called.ok) return fail(frame, [imageWrite], called.reason, called.logged);
        const predictions = readPredictions(called.body, settings.classes);
        if ("error" in predictions)
            return fail(
                frame,
                [imageWrite],
                `${predictions.error}; is the deployed model trained on the stack's classes?`,
                predictions.error,
            );
        const classes = readClasses(predictions.probabilities, settings.classes);
        const model = await modelOf(called.variantName);
        const { image } = await frame.image;
        const { decision, writes } = recordWrites(frame, image, model, classes);
        const { notStored, errors } = await outcomes([imageWrite, ...writes]);
        const warnings = [
            ...(model.noDecision ? [`No decision: ${model.noDecision}.`] : []),
            ...(notStored.length > 0
                ? [`Not stored: ${notStored.join(", ")} (the answer stands; see the function's log).`]
                : []),
        ];
        const totalMs = Date.now() - frame.started;
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
            image: { bucket: settings.imagesBucket, key: image.key },
            requestId: frame.requestId,
            ...(notStored.length > 0 ? { notStored } : {}),
            ...(warnings.length > 0 ? { warnings } : {}),
            timings: { endpointMs: called.endpointMs, totalMs },
        };
        console.log(
            JSON.stringify({
                requestId: frame.requestId,
                status: 200,
                camera: frame.request.camera,
                imageKey: image.key,
                variant: model.variantName,
                act: decision?.act ?? null,
                notStored,
                errors,
                endpointMs: called.endpointMs,
                totalMs,
            }),
        );
        return httpResult(200, answer);
    }

    async function handle(event: HttpApiEvent, requestId: string): Promise<HttpApiResult> {
        const started = Date.now();
        const request = parseCameraRequest(event, maxBytes);
        if ("error" in request) {
            console.log(JSON.stringify({ requestId, status: request.status, refused: request.error }));
            return refusal(request);
        }
        const at = now();
        // The image is stored while the endpoint thinks: it feeds labelling whatever the answer.
        const frame: Frame = { request, requestId, at, started, image: store.image(at, request.jpeg) };
        return request.mode === "training" ? training(frame) : inference(frame);
    }

    /** The schedule's `{"keepWarm": true}`: one small image to the endpoint, and its model's decision read. */
    async function keepWarm(): Promise<object> {
        const called = await callEndpoint(clients.runtime, settings, Buffer.from(KEEP_WARM_JPEG_BASE64, "base64"));
        if (!called.ok) throw new Error(`Keep-warm got no answer: ${called.reason} (${called.logged}).`);
        const model = await modelOf(called.variantName);
        return {
            keepWarm: true,
            variantName: called.variantName,
            decision: model.decision !== undefined,
            endpointMs: called.endpointMs,
        };
    }

    // An HTTP API event from the gateway, or `{"keepWarm": true}` from the schedule.
    return async (event: unknown, context?: { awsRequestId?: string }): Promise<HttpApiResult | object> => {
        const received = (event ?? {}) as HttpApiEvent & { keepWarm?: unknown };
        if (received.keepWarm === true) return keepWarm();
        return handle(received, received.requestContext?.requestId ?? context?.awsRequestId ?? "");
    };
}
