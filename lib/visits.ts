/**
 * The one definition of a visit (docs/design.md §4), used by data prep's split, the camera API,
 * train.py (through the manifest) and the CLI: a cat is in the garden for a few minutes, and the
 * camera takes a photo on each PIR trigger, so one visit is several frames.
 *
 * - Frames of one camera whose capture times follow each other within `visitGapMinutes` are one
 *   visit: a gap, not fixed clock windows, so a visit that crosses the hour stays one.
 * - Frames named by a plain number (`540.jpeg`, the old camera's) keep their blocks of
 *   `splitNumberBlock` numbers.
 * - Any other name is a visit of its own.
 */
export interface VisitGrouping {
    /** The longest gap, in minutes, between two frames of one visit (stack setting, default 10). */
    readonly visitGapMinutes: number;
    /** Numbered names: a block of this many numbers is one visit (stack setting, default 20). */
    readonly splitNumberBlock: number;
}

/**
 * The capture time an image's file name carries, ISO-8601 in UTC unless it names an offset:
 * the camera's `2026-02-21T15:30:33.123Z.jpg`, and names whose time parts are joined by `-`
 * or `_` where a file system forbids `:` (`2026-02-21T15-30-33_Boots.jpg`).
 */
export function captureTime(fileName: string): Date | undefined {
    const match = /(\d{4})-(\d\d)-(\d\d)T(\d\d)[:_-](\d\d)[:_-](\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?/.exec(fileName);
    if (!match) return undefined;
    const [, year, month, day, hour, minute, second, fraction = "", zone = "Z"] = match;
    const offset = zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
    const time = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction.slice(0, 4)}${offset}`);
    return Number.isNaN(time.getTime()) ? undefined : time;
}

/** The camera of a frame whose row names none: a stack with one camera. */
export const DEFAULT_CAMERA = "default";

/** A frame to group: its image's name and, when its row says, its camera. */
export interface Frame {
    readonly imageName: string;
    readonly camera?: string;
}

/** A frame's visit: its id and, for a frame named by its capture time, that time. */
export interface FrameVisit {
    /** `<camera>@<first frame's time>`, `block:<n>`, or the image's own name. */
    readonly visit: string;
    /** The capture time, ISO-8601 UTC, when the name carries one: the frames' order within the visit. */
    readonly capturedAt?: string;
}

/** Whether a frame taken at `at` continues a visit whose newest frame was taken at `lastAt` (ms). */
export function continuesVisit(lastAt: number, at: number, gapMinutes: number): boolean {
    return Math.abs(at - lastAt) <= gapMinutes * 60_000;
}

/** The id of a visit that starts with a frame of `camera` at `startedAt`. */
export function visitId(camera: string, startedAt: Date): string {
    return `${camera}@${startedAt.toISOString()}`;
}

const fileNameOf = (imageName: string) => imageName.slice(imageName.lastIndexOf("/") + 1);

/** The block of a frame named by a plain number, or undefined. */
function numberBlock(imageName: string, block: number): string | undefined {
    const number = /^(\d+)\.jpe?g$/i.exec(fileNameOf(imageName))?.[1];
    return number ? `block:${BigInt(number) / BigInt(block)}` : undefined;
}

/**
 * Each frame's visit, by name: the timed frames of each camera sorted by capture time, a new
 * visit wherever the gap to the previous frame exceeds visitGapMinutes. Group the frames of one
 * class at a time for a split (a visit's frames then share a label).
 */
export function groupVisits(frames: readonly Frame[], rule: VisitGrouping): Map<string, FrameVisit> {
    const visits = new Map<string, FrameVisit>();
    const timedByCamera = new Map<string, { imageName: string; at: Date }[]>();
    for (const frame of frames) {
        const at = captureTime(fileNameOf(frame.imageName));
        if (at) {
            const camera = frame.camera || DEFAULT_CAMERA;
            const timed = timedByCamera.get(camera) ?? [];
            timed.push({ imageName: frame.imageName, at });
            timedByCamera.set(camera, timed);
            continue;
        }
        visits.set(frame.imageName, { visit: numberBlock(frame.imageName, rule.splitNumberBlock) ?? frame.imageName });
    }
    for (const [camera, timed] of timedByCamera) {
        timed.sort((a, b) => a.at.getTime() - b.at.getTime() || (a.imageName < b.imageName ? -1 : 1));
        let current = "";
        let lastAt = Number.NEGATIVE_INFINITY;
        for (const { imageName, at } of timed) {
            if (!continuesVisit(lastAt, at.getTime(), rule.visitGapMinutes)) current = visitId(camera, at);
            lastAt = at.getTime();
            visits.set(imageName, { visit: current, capturedAt: at.toISOString() });
        }
    }
    return visits;
}

/** How many visits the frames make. */
export function countVisits(frames: readonly Frame[], rule: VisitGrouping): number {
    return new Set([...groupVisits(frames, rule).values()].map((v) => v.visit)).size;
}

/** The frames' target probabilities a camera's visit state keeps: enough for any window train.py tries. */
export const VISIT_SCORES_KEPT = 10;

/**
 * What the infer Lambda keeps per camera (one DynamoDB item, docs/design.md §11): the current
 * visit, its frames' target probabilities in arrival order (the newest VISIT_SCORES_KEPT), and
 * a version that makes each write conditional on the one it read.
 */
export interface VisitState {
    readonly camera: string;
    readonly visit: string;
    readonly startedAt: string;
    /** When its newest frame was taken, ms since the epoch. */
    readonly lastAt: number;
    /** Frames seen in the visit, this one included. */
    readonly frames: number;
    readonly scores: readonly number[];
    /** The 1-based frame at which the visit rule first acted, once it has. */
    readonly actedAt?: number;
    readonly version: number;
    /** Epoch seconds after which DynamoDB's TTL removes the item: a day after the visit could go on. */
    readonly expiresAt: number;
}

/** The state after a frame of `camera` taken at `at` with the target probability `score`. */
export function nextVisitState(
    previous: VisitState | undefined,
    frame: { readonly camera: string; readonly at: Date; readonly score: number },
    gapMinutes: number,
): VisitState {
    const at = frame.at.getTime();
    const goesOn = previous !== undefined && continuesVisit(previous.lastAt, at, gapMinutes);
    const scores = [...(goesOn ? previous.scores : []), frame.score].slice(-VISIT_SCORES_KEPT);
    const lastAt = goesOn ? Math.max(previous.lastAt, at) : at;
    return {
        camera: frame.camera,
        visit: goesOn ? previous.visit : visitId(frame.camera, frame.at),
        startedAt: goesOn ? previous.startedAt : frame.at.toISOString(),
        lastAt,
        frames: goesOn ? previous.frames + 1 : 1,
        scores,
        ...(goesOn && previous.actedAt !== undefined ? { actedAt: previous.actedAt } : {}),
        version: (previous?.version ?? 0) + 1,
        expiresAt: Math.floor(lastAt / 1000) + gapMinutes * 60 + 86_400,
    };
}

/** The mean of the last `frames` scores: the visit rule's score at the newest frame. */
export function windowMean(scores: readonly number[], frames: number): number {
    const window = scores.slice(-Math.max(1, frames));
    return window.reduce((sum, s) => sum + s, 0) / window.length;
}
