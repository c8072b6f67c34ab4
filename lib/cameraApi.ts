import type { StackSettings } from "./stackSettings";

/**
 * The camera's inference API (docs/design.md, "Camera API"): what the camera sends, what it
 * reads back, and the rows it leaves. Shared by the infer Lambda, the stack and the CLI.
 */

/** The one route: the camera posts a raw JPEG here. */
export const CAMERA_ROUTE_KEY = "POST /infer";
const [CAMERA_ROUTE_METHOD, ROUTE_PATH] = CAMERA_ROUTE_KEY.split(" ");
export const CAMERA_ROUTE_PATH = ROUTE_PATH;
/** The route in an `execute-api:Invoke` ARN, after `arn:aws:execute-api:<region>:<account>:<api id>/`. */
export const CAMERA_ROUTE_RESOURCE = `$default/${CAMERA_ROUTE_METHOD}${CAMERA_ROUTE_PATH}`;
/** Names the camera that sent the image (optional). */
export const CAMERA_HEADER = "x-bootboots-camera";
export const CAMERA_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const JPEG_CONTENT_TYPE = "image/jpeg";
/** `?mode=training`: store the image and its row for labelling, and skip inference. */
export const TRAINING_MODE = "training";
/** What a catadata row written by the camera API says of where it came from. */
export const CAMERA_ROW_SOURCE = "camera";

/** What the API answers, with the image kept, before any model is deployed. */
export const NO_MODEL_WARNING =
    "No model is deployed yet: the image was kept for labelling (npx bootboots label), and the camera acts once a model is deployed (npx bootboots deploy).";

/** The gateway answers after 30 s whatever happens: the endpoint gets what is left of that. */
export const GATEWAY_TIMEOUT_MS = 30_000;
export const INFERENCE_DEADLINE_MS = 24_000;

export interface MostLikelyCat {
    readonly name: string;
    readonly confidence: number;
    /** The class's index in model-output order: the firmware fires on index 0 (Boots) today. */
    readonly index: number;
}

/** The visit a frame belongs to, as the camera API keeps it (lib/visits.ts). */
export interface CameraVisit {
    /** `<camera>@<first frame's time>`. */
    readonly id: string;
    /** Frames seen so far, this one included. */
    readonly frames: number;
    readonly startedAt: string;
    /** The 1-based frame at which the visit rule first acted, once it has. */
    readonly actedAt?: number;
}

/**
 * The decision on a frame: per visit (the model's visit rule over the visit's frames so far),
 * or, for a model trained before visits, per frame (its per-frame threshold).
 */
export interface CameraDecision {
    readonly targetClass: string;
    /** This frame's target probability. */
    readonly probability: number;
    /** "visit": the mean over the visit's last `window` frames decided; "frame": this frame alone. */
    readonly rule: "visit" | "frame";
    /** What was compared with the threshold: the window mean, or this frame's probability. */
    readonly score: number;
    /** The rule's threshold, chosen on validation by the answering model's training job. */
    readonly threshold: number;
    /** score ≥ threshold: the camera's deterrent should fire. */
    readonly act: boolean;
    /** The visit rule's window, in frames. */
    readonly window?: number;
    /** The model's per-frame threshold (the frame rule's). */
    readonly frameThreshold: number;
    readonly maxFalseAlarmRate: number;
    readonly visit?: CameraVisit;
}

/** What was not written after the answer was known; the answer still stands. */
export type NotStored = "image" | "row" | "event" | "visit";

export interface CameraAnswer {
    readonly success: true;
    readonly mode: "inference" | "training";
    readonly mostLikelyCat?: MostLikelyCat;
    /** Absent when the answering model has no decision.json: no act is invented. */
    readonly decision?: CameraDecision;
    readonly predictions?: Record<string, number>;
    readonly model?: {
        readonly trainingJobName: string | null;
        readonly modelDataUrl: string | null;
        readonly variantName: string;
    };
    readonly image: { readonly bucket: string; readonly key: string };
    readonly requestId: string;
    readonly notStored?: readonly NotStored[];
    /** One sentence each: what the answer lacks and why (no decision, something not stored). */
    readonly warnings?: readonly string[];
    readonly timings?: { readonly endpointMs: number; readonly totalMs: number };
}

export interface CameraRefusal {
    readonly success: false;
    readonly error: string;
}

/** One row of the events table: a request whose decision acted. */
export interface CameraEvent {
    /** UTC day `YYYY-MM-DD`: the partition key, so that the latest days are read without a scan. */
    readonly day: string;
    /** The image's file name without `.jpg`: time-sortable and unique (the sort key). */
    readonly eventId: string;
    readonly at: string;
    readonly camera?: string;
    readonly imageKey: string;
    readonly targetClass: string;
    readonly probability: number;
    readonly threshold: number;
    /** The rule that acted, its score, and the visit with the frame it acted at (1-based). */
    readonly rule?: "visit" | "frame";
    readonly score?: number;
    readonly visit?: string;
    readonly visitFrame?: number;
    readonly trainingJobName?: string;
    readonly modelDataUrl?: string;
    /** Epoch seconds after which DynamoDB's TTL removes the row. */
    readonly expiresAt: number;
}

/**
 * The stored image's file name: the UTC capture time (with `-` for `:`, which S3 consoles
 * and shells handle badly) and a short id, so names sort by time: `2026-12-01T06-15-00.123Z-ab12.jpg`.
 */
export function cameraImageFileName(at: Date, shortId: string): string {
    return `${at.toISOString().replace(/:/g, "-")}-${shortId}.jpg`;
}

/** Those names as an IAM resource wildcard (`?` one character): the camera API may write no other. */
export const CAMERA_IMAGE_NAME_GLOB = "????-??-??T??-??-??.???Z-????.jpg";

/** A 32×32 grey JPEG (641 bytes) that the keep-warm schedule sends: small, and one the model decodes. */
export const KEEP_WARM_JPEG_BASE64 =
    "/9j/4AAQSkZJRgABAQEBLAEsAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAgACADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwAooooAKKKKACiiigAooooA/9k=";

/** The camera API's stack settings (lib/stackSettings.ts), passed whole to the component. */
export type CameraSettings = Pick<
    StackSettings,
    | "cameraRateLimit"
    | "cameraBurstLimit"
    | "cameraReservedConcurrency"
    | "keepWarmMinutes"
    | "cameraRoleName"
    | "eventsTableName"
    | "eventRetentionDays"
>;

/** EventBridge's rate expression for the keep-warm schedule (it wants the singular for 1). */
export function keepWarmSchedule(minutes: number): string {
    return `rate(${minutes} minute${minutes === 1 ? "" : "s"})`;
}
