import { DECISION_FILE, Decision, EVALUATION_FILE, JobEvaluation } from "./jobOutput";
import { readTarGzEntries } from "./tarball";

/** Reads an object's bytes, or undefined when there is no such object. */
export type ReadObject = (bucket: string, key: string) => Promise<Uint8Array | undefined>;

/** What train.py left for a job: its evaluation and decision, and where they were read from. */
export interface JobFiles {
    readonly evaluation?: JobEvaluation;
    readonly decision?: Decision;
    /** "plain": evaluation.json beside model.tar.gz; "archive": out of output.tar.gz; "none": neither exists. */
    readonly source: "plain" | "archive" | "none";
}

/** The folder of a job's output: `training-output/<job>/output/`. */
export function jobOutputDir(modelKey: string): string {
    return modelKey.slice(0, modelKey.lastIndexOf("/") + 1);
}

/**
 * A job's evaluation.json and decision.json: the plain copies beside its model.tar.gz (stored
 * by the job-events Lambda when the job completed), else, for older jobs, out of output.tar.gz.
 */
export async function readJobFiles(read: ReadObject, bucket: string, outputDir: string): Promise<JobFiles> {
    const plain = await read(bucket, `${outputDir}${EVALUATION_FILE}`);
    if (plain) {
        const evaluation = JSON.parse(Buffer.from(plain).toString("utf8")) as JobEvaluation;
        const decision = await read(bucket, `${outputDir}${DECISION_FILE}`);
        return {
            evaluation,
            decision: decision ? (JSON.parse(Buffer.from(decision).toString("utf8")) as Decision) : evaluation.decision,
            source: "plain",
        };
    }
    const archive = await read(bucket, `${outputDir}output.tar.gz`);
    if (!archive) return { source: "none" };
    const entries = readTarGzEntries(archive, [EVALUATION_FILE, DECISION_FILE]);
    const parse = <T>(name: string) => {
        const bytes = entries.get(name);
        return bytes ? (JSON.parse(bytes.toString("utf8")) as T) : undefined;
    };
    const evaluation = parse<JobEvaluation>(EVALUATION_FILE);
    return { evaluation, decision: parse<Decision>(DECISION_FILE) ?? evaluation?.decision, source: "archive" };
}
