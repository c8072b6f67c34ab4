import * as fs from "fs";
import { InputError } from "./errors";

/** A local image's bytes; a file that cannot be read is an InputError naming why. */
export async function readImageFile(file: string): Promise<Buffer> {
    try {
        return await fs.promises.readFile(file);
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why =
            code === "ENOENT"
                ? "no such file"
                : code === "EISDIR"
                  ? "it is a directory"
                  : code === "EACCES"
                    ? "permission denied"
                    : (error as Error).message;
        throw new InputError(`${file}: cannot read it (${why}).`);
    }
}
