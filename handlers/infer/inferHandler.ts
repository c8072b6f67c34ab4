import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { randomBytes } from "crypto";
import { CameraAnswer, CameraDecision, KEEP_WARM_JPEG_BASE64, NO_MODEL_WARNING, NotStored } from "../../lib/cameraApi";
import { awsErrorName } from "../../lib/errors";
import { DEFAULT_CAMERA, VisitState, nextVisitState } from "../../lib/visits";
import type { InferEnv } from "../../lib/functionSettings";
import { maxJpegBytes, readPredictions } from "../../lib/serving";
import { AnsweringModel, answeringModels } from "./answeringModels";
import {
    CameraRequest,
    HttpApiEvent,
    HttpApiResult,
    cameraDecision,
    cameraName,
    catadataRow,
    eventRow,
    httpResult,
    parseCameraRequest,
    readClasses,
    refusal,
} from "./cameraRules";
import { callEndpoint } from "./endpointCall";
import { Stored, StoredImage, frameStore, outcomes } from "./frameStore";
import { visitStore } from "./visitStore";

export { readModelDecision } from "./answeringModels";

/** The camera a stored row names: none for the one default camera, which is what a row without one means. */
const rowCamera = (frame: Frame) => (frame.camera === DEFAULT_CAMERA ? undefined : frame.camera);

export interface InferClients {
    readonly s3: S3Client;
    readonly dynamodb: DynamoDBClient;
    readonly runtime: SageMakerRuntimeClient;
}

/** The infer function's settings: its environment (lib/functionSettings.ts INFER_ENV). */
export type InferSettings = InferEnv;

/** One request under way: what it asked, which camera, when, and the image's write, started before anything else. */
interface Frame {
    readonly request: CameraRequest;
    readonly requestId: string;
    readonly camera: string;
    readonly at: Date;
    readonly started: number;
    readonly image: Promise<{ stored: Stored; image: StoredImage }>;
    /** The camera's visit as it was when the request came (inference only); undefined when it could not be read. */
    readonly visitRead?: Promise<VisitState | undefined>;
}

/** What the visit rule made of a frame: the decision, the visit's write, and a warning when it judged the frame alone. */
interface Judged {
    readonly decision?: CameraDecision;
    readonly visit?: Stored;
    readonly warning?: string;
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
    const visits = visitStore(clients.dynamodb, settings);

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
                camera: frame.camera,
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

    /**
     * The image and its row, for labelling, and no inference: asked for (`?mode=training`), or
     * no model is deployed yet, when the answer says so in a warning (200 with `success: true`
     * and no `mostLikelyCat`: the firmware then logs that it has no winner and does nothing).
     */
    async function storeOnly(frame: Frame): Promise<HttpApiResult> {
        const { stored, image } = await frame.image;
        const row = store.row(
            catadataRow({ imageName: image.fileName, createdAt: frame.at.toISOString(), camera: rowCamera(frame) }),
        );
        const { notStored, errors } = await outcomes([Promise.resolve(stored), row]);
        console.log(
            JSON.stringify({
                requestId: frame.requestId,
                mode: frame.request.mode,
                model: settings.endpointName ? settings.endpointName : null,
                camera: frame.camera,
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
            mode: frame.request.mode,
            image: { bucket: settings.imagesBucket, key: image.key },
            requestId: frame.requestId,
            ...(frame.request.mode === "inference" ? { warnings: [NO_MODEL_WARNING] } : {}),
        };
        return httpResult(200, answer);
    }

    /**
     * The decision by the model's visit rule: the frame joins its camera's visit (a conditional
     * write, read again when another frame wrote first), and the rule decides on the visit's
     * frames so far. A model without a visit rule decides on the frame alone, and so does a
     * frame whose visit could not be recorded; the answer says so.
     */
    async function judge(frame: Frame, model: AnsweringModel, predictions: Record<string, number>): Promise<Judged> {
        const decision = model.decision;
        if (!decision) return {};
        const score = predictions[decision.target_class] ?? 0;
        const acts = (state: VisitState) => cameraDecision(decision, predictions, state)!.act;
        const alone = decision.visit_rule
            ? undefined
            : "The model has no visit rule (it was trained before visits): this frame was judged alone, at its per-frame threshold.";
        try {
            const visit = await visits.add({ camera: frame.camera, at: frame.at, score }, acts, frame.visitRead!);
            return {
                decision: cameraDecision(decision, predictions, visit),
                visit: { part: "visit", ok: true },
                warning: alone,
            };
        } catch (error) {
            const state = nextVisitState(
                undefined,
                { camera: frame.camera, at: frame.at, score },
                settings.visitGapMinutes,
            );
            return {
                decision: cameraDecision(decision, predictions, state),
                visit: { part: "visit", ok: false, error: `${awsErrorName(error)}: ${(error as Error).message}` },
                warning:
                    alone ?? "The visit could not be recorded (see the function's log): this frame was judged alone.",
            };
        }
    }

    /** The row and, when the decision acts, the event: written once the image has its name. */
    function recordWrites(
        frame: Frame,
        image: StoredImage,
        model: AnsweringModel,
        top3: ReturnType<typeof readClasses>["top3"],
        decision: CameraDecision | undefined,
    ): Promise<Stored>[] {
        const row = catadataRow({
            imageName: image.fileName,
            createdAt: frame.at.toISOString(),
            camera: rowCamera(frame),
            top3,
            modelDataUrl: model.modelDataUrl ?? undefined,
        });
        const writes = [store.row(row)];
        if (decision?.act) {
            const event = eventRow({
                fileName: image.fileName,
                at: frame.at,
                camera: frame.camera,
                imageKey: image.key,
                decision,
                trainingJobName: model.trainingJobName ?? undefined,
                modelDataUrl: model.modelDataUrl ?? undefined,
                retentionDays: settings.eventRetentionDays,
            });
            writes.push(store.event(event));
        }
        return writes;
    }

    /** The answer to a frame the endpoint answered, and its log line. */
    function answered(
        frame: Frame,
        parts: {
            called: { endpointMs: number; variantName: string };
            classes: ReturnType<typeof readClasses>;
            model: AnsweringModel;
            image: StoredImage;
            decision?: CameraDecision;
            notStored: NotStored[];
            errors: string[];
            warnings: string[];
        },
    ): HttpApiResult {
        const { called, classes, model, image, decision, notStored, errors, warnings } = parts;
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
                camera: frame.camera,
                imageKey: image.key,
                variant: model.variantName,
                act: decision?.act ?? null,
                visit: decision?.visit?.id ?? null,
                notStored,
                errors,
                endpointMs: called.endpointMs,
                totalMs,
            }),
        );
        return httpResult(200, answer);
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
        const judged = await judge(frame, model, classes.predictions);
        const { image } = await frame.image;
        const writes = recordWrites(frame, image, model, classes.top3, judged.decision);
        const visitWrite = judged.visit ? [Promise.resolve(judged.visit)] : [];
        const { notStored, errors } = await outcomes([imageWrite, ...visitWrite, ...writes]);
        const warnings = [
            ...(model.noDecision ? [`No decision: ${model.noDecision}.`] : []),
            ...(judged.warning ? [judged.warning] : []),
            ...(notStored.length > 0
                ? [`Not stored: ${notStored.join(", ")} (the answer stands; see the function's log).`]
                : []),
        ];
        return answered(frame, {
            called,
            classes,
            model,
            image,
            decision: judged.decision,
            notStored,
            errors,
            warnings,
        });
    }

    async function handle(event: HttpApiEvent, requestId: string): Promise<HttpApiResult> {
        const started = Date.now();
        const request = parseCameraRequest(event, maxBytes);
        if ("error" in request) {
            console.log(JSON.stringify({ requestId, status: request.status, refused: request.error }));
            return refusal(request);
        }
        // When the gateway received it: the frame's time in its visit.
        const at = event.requestContext?.timeEpoch ? new Date(event.requestContext.timeEpoch) : now();
        const camera = cameraName(request, event);
        // The image is stored, and the camera's visit read, while the endpoint thinks; neither read nor write can reject.
        const frame: Frame = { request, requestId, camera, at, started, image: store.image(at, request.jpeg) };
        if (request.mode === "training" || !settings.endpointName) return storeOnly(frame);
        return inference({ ...frame, visitRead: visits.read(camera).catch(() => undefined) });
    }

    /** The schedule's `{"keepWarm": true}`: one small image to the endpoint, and its model's decision read. */
    async function keepWarm(): Promise<object> {
        if (!settings.endpointName) return { keepWarm: true, skipped: "no model is deployed yet" };
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
