import {
    CameraVisit,
    CAMERA_HEADER,
    CAMERA_NAME_PATTERN,
    CAMERA_ROW_SOURCE,
    CameraDecision,
    CameraEvent,
    CameraRefusal,
    JPEG_CONTENT_TYPE,
    MostLikelyCat,
    TRAINING_MODE,
} from "../../lib/cameraApi";
import { Decision, decide } from "../../lib/jobOutput";
import { backoffMs } from "../../lib/backoff";
import { hasFrameHeader, repairJpeg } from "../../lib/jpeg";
import { DEFAULT_CAMERA, VisitState, windowMean } from "../../lib/visits";

/** The parts of an API Gateway HTTP API event (payload format 2.0) the camera API reads. */
export interface HttpApiEvent {
    readonly version?: string;
    readonly headers?: Record<string, string | undefined>;
    readonly queryStringParameters?: Record<string, string | undefined>;
    readonly body?: string;
    readonly isBase64Encoded?: boolean;
    readonly requestContext?: {
        readonly requestId?: string;
        readonly timeEpoch?: number;
        readonly http?: { readonly method?: string; readonly path?: string };
        /** AWS_IAM authorization: who signed the request. */
        readonly authorizer?: { readonly iam?: { readonly userArn?: string } };
    };
}

export interface HttpApiResult {
    readonly statusCode: number;
    readonly headers: Record<string, string>;
    readonly body: string;
}

export interface CameraRequest {
    readonly jpeg: Buffer;
    readonly camera?: string;
    readonly mode: "inference" | "training";
}

export type Refused = { readonly status: number; readonly error: string };

/** A JSON answer; refusals are `{"success": false, "error": "<one sentence>"}`. */
export function httpResult(statusCode: number, body: object): HttpApiResult {
    return {
        statusCode,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
        body: JSON.stringify(body),
    };
}

export function refusal(refused: Refused): HttpApiResult {
    const body: CameraRefusal = { success: false, error: refused.error };
    return httpResult(refused.status, body);
}

/** Standard base64, as the gateway encodes a binary body: padded to whole groups of four. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Checks a request before anything is stored or sent: the route's body is a raw JPEG
 * (the gateway base64-encodes binary bodies), at most `maxJpegBytes`, with an optional
 * camera name and an optional `mode=training`. A JPEG cut off after its frame header is
 * accepted and gets its end marker, as data prep repairs it.
 */
export function parseCameraRequest(event: HttpApiEvent, maxJpegBytes: number): CameraRequest | Refused {
    const headers = event.headers ?? {};
    const contentType = (headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    const mode = event.queryStringParameters?.mode;
    if (mode !== undefined && mode !== TRAINING_MODE) {
        return {
            status: 400,
            error: `Unknown mode ${JSON.stringify(mode.slice(0, 40))}: leave it out for inference, or send ?mode=${TRAINING_MODE} to store the image for labelling.`,
        };
    }
    const camera = headers[CAMERA_HEADER];
    if (camera !== undefined && !CAMERA_NAME_PATTERN.test(camera)) {
        return { status: 400, error: `The ${CAMERA_HEADER} header must be 1-64 letters, digits, '.', '_' or '-'.` };
    }
    // Base64 grows 4:3, so the encoded length bounds the JPEG before anything is decoded.
    const encodedLength = event.body?.length ?? 0;
    if (encodedLength === 0)
        return { status: 400, error: "The request has no body: send the camera's JPEG as the body." };
    const approxBytes = event.isBase64Encoded ? Math.floor((encodedLength * 3) / 4) : encodedLength;
    if (approxBytes > maxJpegBytes + 2) return tooLarge(approxBytes, maxJpegBytes);
    if (contentType !== JPEG_CONTENT_TYPE) {
        return {
            status: 415,
            error: `The body must be a JPEG sent as Content-Type ${JPEG_CONTENT_TYPE}, not ${JSON.stringify(contentType || "none")}.`,
        };
    }
    if (event.isBase64Encoded && !BASE64.test(event.body!))
        return { status: 400, error: "The request body is not valid base64, so no image could be read from it." };
    const body = Buffer.from(event.body!, event.isBase64Encoded ? "base64" : "latin1");
    if (!hasFrameHeader(body))
        return {
            status: 400,
            error: "The body is not a JPEG (it lacks the FF D8 start or a frame header): send the camera's JPEG as it was taken.",
        };
    const { jpeg } = repairJpeg(body);
    if (jpeg.length > maxJpegBytes) return tooLarge(jpeg.length, maxJpegBytes);
    return { jpeg, mode: mode === TRAINING_MODE ? "training" : "inference", ...(camera ? { camera } : {}) };
}

function tooLarge(bytes: number, maxJpegBytes: number): Refused {
    return {
        status: 413,
        error: `The JPEG is ${(bytes / 1e6).toFixed(2)} MB, over the ${(maxJpegBytes / 1e6).toFixed(2)} MB the endpoint accepts once encoded: lower the camera's resolution or quality.`,
    };
}

/** The likeliest class in the shape the firmware reads, every class's probability, and the top three. */
export function readClasses(probabilities: readonly number[], classes: readonly string[]) {
    const index = probabilities.indexOf(Math.max(...probabilities));
    const mostLikelyCat: MostLikelyCat = { name: classes[index], confidence: probabilities[index], index };
    const predictions = Object.fromEntries(classes.map((c, i) => [c, probabilities[i]]));
    const top3 = classes
        .map((className, i) => ({ className, probability: probabilities[i] }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, 3);
    return { mostLikelyCat, predictions, top3 };
}

/**
 * Which camera sent a frame: the `x-bootboots-camera` header, else the session name of the
 * assumed role that signed it (the AWS IoT credentials provider names it after the thing),
 * else the one default camera.
 */
export function cameraName(request: Pick<CameraRequest, "camera">, event: HttpApiEvent): string {
    if (request.camera) return request.camera;
    const arn = event.requestContext?.authorizer?.iam?.userArn ?? "";
    const session = /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/[^/]+\/(.+)$/.exec(arn)?.[1];
    const name = session?.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
    return name || DEFAULT_CAMERA;
}

/** The visit as the answer gives it. */
function visitOf(state: VisitState): CameraVisit {
    return {
        id: state.visit,
        frames: state.frames,
        startedAt: state.startedAt,
        ...(state.actedAt !== undefined ? { actedAt: state.actedAt } : {}),
    };
}

/**
 * The decision of the model that answered, none when it has no decision.json: by its visit
 * rule over the visit's frames so far (`visit`, this frame included), or by its per-frame
 * threshold when it has no visit rule or the visit is not known.
 */
export function cameraDecision(
    decision: Decision | undefined,
    predictions: Readonly<Record<string, number>>,
    visit?: VisitState,
): CameraDecision | undefined {
    if (!decision) return undefined;
    const frame = decide(decision, predictions);
    const base = {
        targetClass: frame.targetClass,
        probability: frame.probability,
        frameThreshold: decision.threshold,
        maxFalseAlarmRate: decision.max_false_alarm_rate,
        ...(visit ? { visit: visitOf(visit) } : {}),
    };
    const rule = decision.visit_rule;
    if (!rule || !visit)
        return { ...base, rule: "frame", score: frame.probability, threshold: decision.threshold, act: frame.act };
    const score = windowMean(visit.scores, rule.frames);
    return {
        ...base,
        rule: "visit",
        score,
        threshold: rule.threshold,
        act: score >= rule.threshold,
        window: rule.frames,
    };
}

/**
 * The error names of an InvokeEndpoint that may succeed if tried again: throttled, not
 * ready, busy, timed out. (A RegExp, not a Set: a Set does not survive the closure serializer.)
 */
const RETRYABLE_ENDPOINT_ERRORS =
    /^(ThrottlingException|TooManyRequestsException|ModelNotReadyException|ServiceUnavailable|InternalFailure|InternalDependencyException|TimeoutError|RequestTimeout|ECONNRESET)$/;

export function isRetryableEndpointError(error: unknown): boolean {
    const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const status = e?.$metadata?.httpStatusCode;
    return (
        RETRYABLE_ENDPOINT_ERRORS.test(e?.name ?? "") ||
        RETRYABLE_ENDPOINT_ERRORS.test(e?.code ?? "") ||
        status === 429 ||
        (status !== undefined && status >= 500)
    );
}

/** Exponential back-off from 200 ms, at most 2 s, for the n-th retry of InvokeEndpoint (1-based). */
export function endpointBackoffMs(retry: number): number {
    return backoffMs(retry, 200, 2000);
}

/** The catadata row of a stored image: no `cat`, so it joins the labelling backlog. */
export function catadataRow(args: {
    imageName: string;
    createdAt: string;
    camera?: string;
    top3?: readonly { className: string; probability: number }[];
    modelDataUrl?: string;
}): Record<string, unknown> {
    return {
        imageName: args.imageName,
        createdAt: args.createdAt,
        source: CAMERA_ROW_SOURCE,
        ...(args.camera ? { camera: args.camera } : {}),
        ...(args.top3 ? { top3: args.top3.map((t) => ({ className: t.className, probability: t.probability })) } : {}),
        ...(args.modelDataUrl ? { modelDataUrl: args.modelDataUrl } : {}),
    };
}

/** The events-table row of a request whose decision acted. */
export function eventRow(args: {
    fileName: string;
    at: Date;
    camera?: string;
    imageKey: string;
    decision: CameraDecision;
    trainingJobName?: string;
    modelDataUrl?: string;
    retentionDays: number;
}): CameraEvent {
    return {
        day: args.at.toISOString().slice(0, 10),
        eventId: args.fileName.replace(/\.jpg$/, ""),
        at: args.at.toISOString(),
        ...(args.camera ? { camera: args.camera } : {}),
        imageKey: args.imageKey,
        targetClass: args.decision.targetClass,
        probability: args.decision.probability,
        threshold: args.decision.threshold,
        rule: args.decision.rule,
        score: args.decision.score,
        ...(args.decision.visit ? { visit: args.decision.visit.id, visitFrame: args.decision.visit.frames } : {}),
        ...(args.trainingJobName ? { trainingJobName: args.trainingJobName } : {}),
        ...(args.modelDataUrl ? { modelDataUrl: args.modelDataUrl } : {}),
        expiresAt: Math.floor(args.at.getTime() / 1000) + args.retentionDays * 86_400,
    };
}
