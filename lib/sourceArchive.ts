import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { CODE_PREFIX } from "./layout";

/** The training script archive that SageMaker downloads as `sagemaker_submit_directory`. */
export interface SourceArchive {
    /** Local path of the gzip tar. */
    readonly path: string;
    /** Files at the archive's root, in archive order. */
    readonly files: readonly string[];
    readonly sha256: string;
    /** `code/sourcedir-<content hash>.tar.gz` in the models bucket. */
    readonly key: string;
}

const LEFT_OUT = /(^|\/)(__pycache__|\.pytest_cache)(\/|$)|\.pyc$/;

function listFiles(dir: string, relative = ""): string[] {
    return fs.readdirSync(path.join(dir, relative), { withFileTypes: true }).flatMap((entry) => {
        const name = relative ? `${relative}/${entry.name}` : entry.name;
        if (LEFT_OUT.test(name)) return [];
        return entry.isDirectory() ? listFiles(dir, name) : [name];
    });
}

/**
 * Packs `sourceDir` as a gzip tar (SageMaker needs tar.gz, not zip) with its files at the
 * root. Sorted entries, a fixed mtime and portable headers make the bytes depend on the
 * file contents only, so an unchanged script means an unchanged key and no update.
 */
export function buildSourceArchive(sourceDir: string, outDir = path.join(os.tmpdir(), "bootboots-ai")): SourceArchive {
    const files = listFiles(sourceDir).sort();
    fs.mkdirSync(outDir, { recursive: true });
    const staging = path.join(outDir, `sourcedir-${process.pid}-${Date.now()}.tar.gz`);
    tar.create({ sync: true, gzip: true, portable: true, mtime: new Date(0), cwd: sourceDir, file: staging }, files);
    const sha256 = createHash("sha256").update(fs.readFileSync(staging)).digest("hex");
    const fileName = `sourcedir-${sha256.slice(0, 16)}.tar.gz`;
    const archivePath = path.join(outDir, fileName);
    fs.renameSync(staging, archivePath);
    return { path: archivePath, files, sha256, key: `${CODE_PREFIX}${fileName}` };
}
