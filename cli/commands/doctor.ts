import { countVisits } from "../../lib/visits";
import { contract } from "../../lib/contract";
import {
    MIN_TRAINING_IMAGES,
    SPLIT_DEFAULTS,
    SplitSettings,
    VISITS_FOR_EVERY_SIDE,
    labelShortfall,
} from "../../lib/dataset";
import { awsErrorName } from "../../lib/errors";
import { CATADATA_KEY, catadataKeyProblem, createBucketCommand, createTableCommand } from "../../lib/prerequisites";
import { CliContext } from "../context";
import { CliError, explainAwsError } from "../errors";
import { servingJobName } from "../aws/jobs";
import { listImageKeys, readLabelState } from "../labelling/queue";

export interface DoctorOptions {
    readonly json?: boolean;
}

/** One line of the report. */
export interface DoctorCheck {
    readonly check: string;
    readonly ok: boolean;
    /** One sentence: what was found, and when not ok what to do. */
    readonly message: string;
}

/** The whole report: the checks in order, and the one thing to do next. */
export interface DoctorReport {
    readonly checks: readonly DoctorCheck[];
    readonly nextStep: string;
    /** True when nothing blocks the next step (the exit code is then 0). */
    readonly ready: boolean;
}

/** Where the SDK took the region from, in the order it looks. */
function regionSource(): string {
    if (process.env.AWS_REGION) return "AWS_REGION";
    if (process.env.AWS_DEFAULT_REGION) return "AWS_DEFAULT_REGION";
    return `the profile ${process.env.AWS_PROFILE ?? "default"}`;
}

/** A check that stopped the report: what it found, and the next step it calls for. */
class Blocked extends Error {
    constructor(readonly nextStep: string) {
        super(nextStep);
        this.name = "Blocked";
    }
}

/**
 * Checks, in order, what the next step needs, stopping at the first blocker: region and
 * credentials, the stack's outputs, the images bucket and the catadata table, the labels per
 * class against the first job's needs; then whether a model serves, the camera API is deployed,
 * and images wait for labels.
 */
export async function doctor(context: CliContext, options: DoctorOptions): Promise<void> {
    const checks: DoctorCheck[] = [];
    const note: Note = (check, ok, message) => checks.push({ check, ok, message });
    const fail: Fail = (check, message, nextStep) => {
        note(check, false, message);
        throw new Blocked(nextStep);
    };
    let nextStep: string;
    let ready = false;
    try {
        nextStep = await diagnose(context, note, fail);
        ready = true;
    } catch (error) {
        if (!(error instanceof Blocked)) throw error;
        nextStep = error.nextStep;
    }
    const report: DoctorReport = { checks, nextStep, ready };
    if (options.json) context.out(JSON.stringify(report, null, 2));
    else {
        for (const c of checks) context.out(`${c.ok ? "✓" : "✗"} ${c.check}: ${c.message}`);
        context.out(`Next: ${nextStep}`);
    }
    if (!ready) throw new CliError(`Not ready: ${checks.at(-1)!.check}. Next: ${nextStep}.`);
}

/** Adds a line; a ✗ that blocks nothing (no model yet) decides the next step only. */
type Note = (check: string, ok: boolean, message: string) => void;
/** Adds a ✗ line that blocks the next step, and stops the report there. */
type Fail = (check: string, message: string, nextStep: string) => never;

async function diagnose(context: CliContext, note: Note, fail: Fail): Promise<string> {
    const pass = (check: string, message: string) => note(check, true, message);
    const s3 = context.aws.s3;
    let region: string;
    try {
        region = await s3.config.region();
        await s3.config.credentials();
    } catch (error) {
        return fail(
            "AWS",
            `no region or credentials (${(error as Error).message.split("\n")[0]})`,
            "configure AWS access: aws configure, or export AWS_PROFILE=<profile> and AWS_REGION=<region>",
        );
    }
    const profile = process.env.AWS_ACCESS_KEY_ID
        ? "keys from the environment"
        : `profile ${process.env.AWS_PROFILE ?? "default"}`;

    let trainingBucket: string;
    try {
        trainingBucket = await context.stack.name("trainingBucket");
    } catch (error) {
        pass("AWS", `region ${region} (from ${regionSource()}), ${profile}`);
        return fail("stack", (error as Error).message, "deploy the stack: pulumi up");
    }
    const stackRegion = await context.stack.optionalOutput("region");
    if (typeof stackRegion === "string" && stackRegion !== region) {
        return fail(
            "AWS",
            `the CLI's region is ${region} (from ${regionSource()}), the stack's ${stackRegion}`,
            `export AWS_REGION=${stackRegion}`,
        );
    }
    pass("AWS", `region ${region} (from ${regionSource()}), ${profile}`);
    pass(
        "stack",
        `deployed${context.stack.stack ? ` (stack ${context.stack.stack})` : ""}; training bucket ${trainingBucket}`,
    );

    const [imagesBucket, imagesPrefix, catadataTable] = await Promise.all([
        context.stack.name("imagesBucket"),
        context.stack.name("imagesPrefix"),
        context.stack.name("catadataTable"),
    ]);
    const { HeadBucketCommand } = await import("@aws-sdk/client-s3");
    try {
        await s3.send(new HeadBucketCommand({ Bucket: imagesBucket }));
        pass("images bucket", `s3://${imagesBucket} exists (images under ${imagesPrefix})`);
    } catch (error) {
        const name = awsErrorName(error);
        if (name === "NotFound" || name === "NoSuchBucket")
            return fail(
                "images bucket",
                `s3://${imagesBucket} does not exist`,
                `create it: ${createBucketCommand(imagesBucket, region)}`,
            );
        throw explainAwsError(error, `reading the images bucket ${imagesBucket}`);
    }
    const { DescribeTableCommand } = await import("@aws-sdk/client-dynamodb");
    let table;
    try {
        table = (await context.aws.dynamodb.send(new DescribeTableCommand({ TableName: catadataTable }))).Table;
    } catch (error) {
        if (awsErrorName(error) !== "ResourceNotFoundException")
            throw explainAwsError(error, `reading the catadata table ${catadataTable}`);
        return fail(
            "catadata table",
            `${catadataTable} does not exist in ${region}`,
            `create it: ${createTableCommand(catadataTable, region)}`,
        );
    }
    const hash = table?.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName;
    const problem = catadataKeyProblem(catadataTable, {
        hashKey: hash,
        hashKeyType: table?.AttributeDefinitions?.find((a) => a.AttributeName === hash)?.AttributeType,
        hasRangeKey: Boolean(table?.KeySchema?.some((k) => k.KeyType === "RANGE")),
    });
    if (problem)
        return fail(
            "catadata table",
            problem,
            `create a table keyed by ${CATADATA_KEY.name} and set catadataTableName to it: ${createTableCommand(`${catadataTable}-labels`, region)} && pulumi config set catadataTableName ${catadataTable}-labels && pulumi up`,
        );
    pass("catadata table", `${catadataTable} is keyed by ${CATADATA_KEY.name} (${CATADATA_KEY.type})`);

    const classes = contract.classes;
    // A stack from before a setting existed lacks it in its output: the default holds there.
    const split: SplitSettings = {
        ...SPLIT_DEFAULTS,
        ...((await context.stack.optionalOutput("splitSettings")) as Partial<SplitSettings> | undefined),
    };
    const [labels, keys] = await Promise.all([
        readLabelState(context, catadataTable, imagesPrefix, classes),
        listImageKeys(context, imagesBucket, imagesPrefix),
    ]);
    const visits = Object.fromEntries(
        classes.map((c) => [
            c,
            countVisits(
                labels.labelledNames[c].map((imageName) => ({ imageName })),
                split,
            ),
        ]),
    );
    const shortfall = labelShortfall(labels.labelCounts, visits, classes, contract.noCatClass, split);
    // A class whose labels share visits says so: its frames of one visit count once.
    const counts = classes
        .map((c) =>
            visits[c] < labels.labelCounts[c]
                ? `${c} ${labels.labelCounts[c]} (${visits[c]} visit${visits[c] === 1 ? "" : "s"})`
                : `${c} ${labels.labelCounts[c]}`,
        )
        .join(", ");
    const lacking = classes.filter((c) => shortfall.perClass[c] > 0);
    const unlabelled = keys.filter((key) => !labels.labelled.has(key)).length;
    const label =
        unlabelled > 0
            ? "npx bootboots suggest, then npx bootboots label"
            : `put more camera images under s3://${imagesBucket}/${imagesPrefix}, then label them`;
    if (lacking.length > 0 || shortfall.forTraining > 0) {
        const wants = [
            ...lacking.map(
                (c) =>
                    `${shortfall.perClass[c]} more ${c}${visits[c] < labels.labelCounts[c] ? " from other visits" : ""}`,
            ),
            ...(shortfall.forTraining > 0 ? [`about ${shortfall.forTraining} more of any cat`] : []),
        ].join(", ");
        return fail(
            "labels",
            `${counts}: the first job needs ${MIN_TRAINING_IMAGES} training images and every class on every side (labels from ${VISITS_FOR_EVERY_SIDE} visits each), about ${shortfall.estimatedTraining} training images now`,
            `label ${wants} (${label})`,
        );
    }
    pass(
        "labels",
        `${counts}: about ${shortfall.estimatedTraining} training images, every class on every side (npx bootboots train --dry-run counts exactly)`,
    );

    const serving = await servingJobName(context);
    const cameraApi = await context.stack.optionalOutput("cameraApiUrl");
    note("model", Boolean(serving), serving ? `${serving.jobName} is serving` : "no model is serving yet");
    note(
        "camera API",
        typeof cameraApi === "string",
        typeof cameraApi === "string"
            ? `deployed at ${cameraApi}`
            : "not deployed yet (pulumi up deploys it)",
    );
    note("unlabelled images", true, `${unlabelled} under s3://${imagesBucket}/${imagesPrefix}`);
    if (!serving)
        return "npx bootboots train, then npx bootboots status --watch, then npx bootboots deploy (10–20 minutes)";
    return unlabelled > 0
        ? "npx bootboots suggest and npx bootboots label, then npx bootboots train to improve the model"
        : "npx bootboots classify <image.jpg>, then point the camera at the camera API";
}
