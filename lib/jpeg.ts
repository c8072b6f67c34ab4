/** A JPEG starts with SOI (FF D8) and a marker (FF); data prep and the CLI check the same way. */
export function isJpeg(bytes: Uint8Array): boolean {
    return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Whether the file ends with EOI (FF D9); a truncated JPEG does not. */
export function hasEndMarker(bytes: Uint8Array): boolean {
    return bytes.length >= 2 && bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9;
}

/** The JPEG with its end marker added when it lacks one (as the camera's truncated uploads do), and whether it was added. */
export function repairJpeg(bytes: Buffer): { jpeg: Buffer; repaired: boolean } {
    return hasEndMarker(bytes)
        ? { jpeg: bytes, repaired: false }
        : { jpeg: Buffer.concat([bytes, Buffer.from([0xff, 0xd9])]), repaired: true };
}

/** SOF0–SOF15, the frame headers (C4 is DHT, C8 reserved, CC DAC). */
const isFrameHeader = (marker: number) => marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
/** Markers that stand alone, without a length: TEM and RST0–RST7. */
const standsAlone = (marker: number) => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);

/**
 * Whether a JPEG has a frame header (SOF) before its scan: the segments after SOI are walked by
 * their lengths, so bytes that merely start like a JPEG, or a file cut off before its frame
 * header, are told from an image a decoder can read the size of.
 */
export function hasFrameHeader(bytes: Uint8Array): boolean {
    if (!isJpeg(bytes)) return false;
    let offset = 2;
    while (offset + 1 < bytes.length) {
        if (bytes[offset] !== 0xff) return false;
        const marker = bytes[offset + 1];
        // Fill bytes: FF may repeat before a marker.
        if (marker === 0xff) {
            offset += 1;
            continue;
        }
        if (isFrameHeader(marker)) return offset + 9 < bytes.length;
        if (marker === 0xda || marker === 0xd9) return false;
        if (standsAlone(marker)) {
            offset += 2;
            continue;
        }
        if (offset + 3 >= bytes.length) return false;
        offset += 2 + ((bytes[offset + 2] << 8) | bytes[offset + 3]);
    }
    return false;
}
