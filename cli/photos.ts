import { createHash } from "crypto";

/**
 * How `bootboots import` names a user's photo (docs/design.md §9): its capture time, so that
 * lib/visits.ts groups a visit's photos, and the first 16 hex digits of its content's sha256,
 * so that the same photo is the same object however often it is imported:
 * `2026-06-01T08-00-00.000Z-0123456789abcdef.jpg`.
 */
export function photoName(capturedAt: Date, contentHash: string): string {
    return `${capturedAt.toISOString().replace(/:/g, "-")}-${contentHash.slice(0, PHOTO_HASH_DIGITS)}.jpg`;
}

const PHOTO_HASH_DIGITS = 16;

/** The content hash a photo's name carries, or undefined for any other name (the camera's, a user's own). */
export function hashOfPhotoName(key: string): string | undefined {
    return /-([0-9a-f]{16})\.jpg$/.exec(key)?.[1];
}

/** sha256 of a photo's bytes, hex. */
export function contentHash(bytes: Uint8Array): string {
    return createHash("sha256").update(bytes).digest("hex");
}

/** The EXIF fields a capture time is read from, as EXIF writes them. */
export interface ExifTimes {
    /** `YYYY:MM:DD HH:MM:SS`, the camera's local time. */
    readonly DateTimeOriginal?: string;
    /** `+HH:MM`: that local time's offset from UTC, where the camera wrote it. */
    readonly OffsetTimeOriginal?: string;
}

/**
 * When a photo was taken: EXIF DateTimeOriginal, at its OffsetTimeOriginal or else in this
 * machine's time zone (the phone's, most likely); without it, the file's modification time.
 */
export function captureTimeOf(exif: ExifTimes | undefined, modified: Date): { at: Date; from: "exif" | "file" } {
    const match = /^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)/.exec(exif?.DateTimeOriginal ?? "");
    if (!match) return { at: modified, from: "file" };
    const [, y, mo, d, h, mi, s] = match;
    const offset = /^[+-]\d\d:\d\d$/.test(exif?.OffsetTimeOriginal ?? "") ? exif!.OffsetTimeOriginal! : "";
    const at = offset
        ? new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${offset}`)
        : new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    return Number.isNaN(at.getTime()) ? { at: modified, from: "file" } : { at, from: "exif" };
}
