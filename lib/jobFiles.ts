import { DECISION_FILE, Decision, EVALUATION_FILE, JobEvaluation, parseDecision } from "./jobOutput";
import { parseS3Url } from "./s3Url";
import { readTarGzEntries } from "./tarball";

/** Reads an object's bytes, or undefined when there is no such object. */
export type ReadObject = (bucket: string, key: string) => Promise<Uint8Array | undefined>;

/** The job's output archive, which SageMaker writes beside model.tar.gz. */
export const OUTPUT_ARCHIVE = "output.tar.gz";

/** What train.py left for a job: its evaluation and decision, and where they were read from. */
export interface JobFiles {
    readonly evaluation?: JobEvaluation;
    readonly decision?: Decision;
    /** "plain": beside model.tar.gz; "archive": out of output.tar.gz; "model": out of the model archive; "none": neither. */
    readonly source: "plain" | "archive" | "model" | "none";
}

/** Where a model's files may be: its job's output folder, and (for a model outside the stack's jobs) its archive. */
export interface JobFileSources {
    readonly bucket: string;
    /** `training-output/<job>/output/`: the plain copies and output.tar.gz. */
    readonly outputDir: string;
    /** The model archive, the last place a decision.json may be. */
    readonly modelKey?: string;
}

/** The folder of a job's output: `training-output/<job>/output/`. */
export function jobOutputDir(modelKey: string): string {
    return modelKey.slice(0, modelKey.lastIndexOf("/") + 1);
}

/** The places of a model's files, from its `s3://…/model.tar.gz` URL. */
export function jobFileSources(modelDataUrl: string): Required<JobFileSources> {
    const parsed = parseS3Url(modelDataUrl);
    if (!parsed) throw new Error(`Not an S3 URL: ${modelDataUrl}`);
    return { bucket: parsed.bucket, outputDir: jobOutputDir(parsed.key), modelKey: parsed.key };
}

/**
 * Where a model's decision.json may be, in the order read (readJobFiles with "decision"): the plain
 * file beside the model archive, the job's output.tar.gz beside it, then the model archive itself.
 * The infer function's role may read exactly these of the configured model.
 */
export function decisionSources(modelDataUrl: string) {
    const { bucket, outputDir, modelKey } = jobFileSources(modelDataUrl);
    return {
        bucket,
        plainKey: `${outputDir}${DECISION_FILE}`,
        outputArchiveKey: `${outputDir}${OUTPUT_ARCHIVE}`,
        modelKey,
    };
}

const FILE_NAMES = { evaluation: EVALUATION_FILE, decision: DECISION_FILE } as const;
type Wanted = keyof typeof FILE_NAMES;

const parseJson = (bytes: Uint8Array | undefined) =>
    bytes ? JSON.parse(Buffer.from(bytes).toString("utf8")) : undefined;

/** The files found, the decision checked, and evaluation.json's own decision when there is no decision.json. */
function jobFilesOf(found: Partial<Record<Wanted, unknown>>, source: JobFiles["source"]): JobFiles {
    const evaluation = found.evaluation as JobEvaluation | undefined;
    const decision = parseDecision(found.decision ?? evaluation?.decision);
    return { ...(evaluation ? { evaluation } : {}), ...(decision ? { decision } : {}), source };
}

/**
 * A job's files, the first of `wanted` deciding where they come from: the plain copies beside its
 * model.tar.gz (stored by the job-events Lambda when the job completed), else, for older jobs,
 * out of output.tar.gz, else (a model outside the stack's jobs) a decision.json in the model archive.
 */
export async function readJobFiles(
    read: ReadObject,
    sources: JobFileSources,
    wanted: readonly Wanted[],
): Promise<JobFiles> {
    const { bucket, outputDir, modelKey } = sources;
    const first = await read(bucket, `${outputDir}${FILE_NAMES[wanted[0]]}`);
    if (first) {
        const found: Partial<Record<Wanted, unknown>> = { [wanted[0]]: parseJson(first) };
        for (const name of wanted.slice(1))
            found[name] = parseJson(await read(bucket, `${outputDir}${FILE_NAMES[name]}`));
        return jobFilesOf(found, "plain");
    }
    const archive = await read(bucket, `${outputDir}${OUTPUT_ARCHIVE}`);
    if (archive) {
        const entries = readTarGzEntries(archive, [EVALUATION_FILE, DECISION_FILE]);
        return jobFilesOf(
            { evaluation: parseJson(entries.get(EVALUATION_FILE)), decision: parseJson(entries.get(DECISION_FILE)) },
            "archive",
        );
    }
    const model = modelKey && wanted.includes("decision") ? await read(bucket, modelKey) : undefined;
    if (model)
        return jobFilesOf(
            { decision: parseJson(readTarGzEntries(model, [DECISION_FILE]).get(DECISION_FILE)) },
            "model",
        );
    return { source: "none" };
}
