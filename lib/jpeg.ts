/** A JPEG starts with SOI (FF D8) and a marker (FF); data prep and the CLI check the same way. */
export function isJpeg(bytes: Uint8Array): boolean {
    return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Whether the file ends with EOI (FF D9); a truncated JPEG does not. */
export function hasEndMarker(bytes: Uint8Array): boolean {
    return bytes.length >= 2 && bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9;
}
