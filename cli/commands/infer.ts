import { CameraAnswer } from "../../lib/cameraApi";
import { regionOfApiUrl, postToCameraApi } from "../aws/cameraClient";
import { CliContext } from "../context";
import { CliError, EXIT, InputError } from "../errors";
import { readImageFile } from "../files";
import { percent } from "../format";

export interface InferOptions {
    readonly camera?: string;
    readonly training?: boolean;
    readonly json?: boolean;
}

/** What the camera reads, in one line: the likeliest class, the decision, where the image went. */
function describe(file: string, answer: CameraAnswer): string {
    const stored = `stored for labelling as s3://${answer.image.bucket}/${answer.image.key}`;
    if (answer.mode === "training") return `${file}: ${stored}`;
    const cat = answer.mostLikelyCat;
    if (!cat) return `${file}: ${stored}; no model answered`;
    const d = answer.decision;
    const decision = d
        ? `${d.targetClass} → ${d.act ? "ACT" : "no action"} (${d.probability.toFixed(3)} ${d.act ? "≥" : "<"} threshold ${d.threshold.toFixed(3)} of ${answer.model?.trainingJobName ?? answer.model?.variantName})`
        : "no decision";
    const notStored = answer.notStored?.length ? `; not stored: ${answer.notStored.join(", ")}` : "";
    return `${file}: ${cat.name} ${percent(cat.confidence)} (index ${cat.index}); ${decision}; image ${answer.image.key}${notStored}`;
}

/** Sends each JPEG to the camera API as the camera does, and prints what the camera would read. */
export async function infer(context: CliContext, files: readonly string[], options: InferOptions): Promise<void> {
    const apiUrl = await context.stack.name("cameraApi");
    const region = regionOfApiUrl(new URL(apiUrl)) ?? (await context.aws.s3.config.region());
    const results: ({ file: string; status: number; answer: CameraAnswer } | { file: string; error: string })[] = [];
    for (const file of files) {
        try {
            const jpeg = await readImageFile(file);
            const { status, answer } = await postToCameraApi(apiUrl, jpeg, {
                camera: options.camera,
                training: options.training,
                region,
            });
            results.push({ file, status, answer: answer as CameraAnswer });
        } catch (error) {
            if (!(error instanceof InputError)) throw error;
            results.push({ file, error: error.message });
        }
    }
    if (options.json) {
        context.out(JSON.stringify(results, null, 2));
    } else {
        for (const r of results) {
            if ("error" in r) context.err(`error: ${r.file}: ${r.error}`);
            else {
                context.out(describe(r.file, r.answer));
                for (const warning of r.answer.warnings ?? []) context.err(`  ${warning}`);
            }
        }
    }
    const failed = results.filter((r) => "error" in r).length;
    if (failed) throw new CliError(`${failed} of ${results.length} images got no answer.`, EXIT.partial);
}
