import { gunzipSync } from "zlib";

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number): string {
    const text = header.toString("utf8", offset, offset + length);
    const end = text.indexOf("\0");
    return end === -1 ? text : text.slice(0, end);
}

/**
 * The named regular files of a .tar.gz, read in memory (`./name` and `name` alike). The
 * archives read here (SageMaker's output.tar.gz and model.tar.gz) are ustar with PAX or GNU
 * long-name records at most; the `tar` package, with its dependencies, would make a Lambda's
 * zip some sixty times larger for this.
 */
export function readTarGzEntries(archive: Uint8Array, names: readonly string[]): Map<string, Buffer> {
    const tarBytes = gunzipSync(archive);
    const found = new Map<string, Buffer>();
    let longName: string | undefined;
    for (let offset = 0; offset + BLOCK <= tarBytes.length;) {
        const header = tarBytes.subarray(offset, offset + BLOCK);
        if (header.every((byte) => byte === 0)) break;
        const size = parseInt(field(header, 124, 12).trim() || "0", 8);
        const type = String.fromCharCode(header[156] || 0x30);
        const data = tarBytes.subarray(offset + BLOCK, offset + BLOCK + size);
        offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
        if (type === "L") {
            longName = field(data, 0, data.length);
            continue;
        }
        if (type === "x") {
            longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString("utf8"))?.[1] ?? longName;
            continue;
        }
        const prefix = field(header, 345, 155);
        const name = (longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100))).replace(
            /^\.\//,
            "",
        );
        longName = undefined;
        if (type === "0" && names.includes(name)) found.set(name, Buffer.from(data));
    }
    return found;
}
