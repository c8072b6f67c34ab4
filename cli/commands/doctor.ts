import { execFile } from "child_process";
import {
    MIN_TRAINING_IMAGES,
    SPLIT_DEFAULTS,
    SplitSettings,
    VISITS_FOR_EVERY_SIDE,
    labelShortfall,
} from "../../lib/dataset";
import { awsErrorName } from "../../lib/errors";
import {
    CATADATA_KEY,
    catadataKeyProblem,
    createBucketCommand,
    createTableCommand,
    defaultImagesBucketName,
} from "../../lib/prerequisites";
import { STACK_SETTINGS } from "../../lib/stackSettings";
import { countVisits } from "../../lib/visits";
import { COMMANDS } from "../commandTable";
import { CliContext } from "../context";
import { CliError, explainAwsError } from "../errors";
import { iamPolicyDocument } from "../iamPolicy";
import { servingJobName } from "../aws/jobs";
import { StackName } from "../aws/stack";
import { LabelState, listImageKeys, readLabelState } from "../labelling/queue";

export interface DoctorOptions {
    readonly json?: boolean;
    readonly iamPolicy?: boolean;
}

/** ✓ ok, ⚠ a warning that blocks nothing, ✗ a failure, – not checked (what it needs failed). */
export type CheckStatus = "ok" | "warn" | "fail" | "skipped";

/** One line of the report. */
export interface DoctorCheck {
    readonly check: string;
    readonly status: CheckStatus;
    /** True unless the check failed. */
    readonly ok: boolean;
    /** One sentence: what was found, and when not ok what to do. */
    readonly message: string;
}

/** The whole report: every check, and the one thing to do next. */
export interface DoctorReport {
    readonly checks: readonly DoctorCheck[];
    readonly nextStep: string;
    /** True when no check failed (the exit code is then 0). */
    readonly ready: boolean;
}

/** What a check found: a message, and for a failure the step that fixes it. */
type Verdict =
    | { readonly status: "ok" | "warn"; readonly message: string }
    | { readonly status: "fail"; readonly message: string; readonly next: string };

/** What the checks learn on the way, for the ones after them. */
interface Facts {
    region?: string;
    accountId?: string;
    stackDeployed?: boolean;
    imagesBucket?: string;
    imagesPrefix?: string;
    catadataTable?: string;
    labels?: LabelState;
    unlabelled?: number;
    /** The job whose model serves, once the model check ran (undefined: none serves). */
    servingJob?: string;
    classes: readonly string[];
    noCatClass: string;
}

/** One check of the list: its name, the checks it needs to have passed, and what it does. */
interface Check {
    readonly name: string;
    readonly needs?: readonly string[];
    run(context: CliContext, facts: Facts): Promise<Verdict>;
}

const PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/";
const AWS_CLI_INSTALL = "https://aws.amazon.com/cli/";

const ok = (message: string): Verdict => ({ status: "ok", message });
const warn = (message: string): Verdict => ({ status: "warn", message });
const fail = (message: string, next: string): Verdict => ({ status: "fail", message, next });
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A name from a flag, a BOOTBOOTS_* variable or the stack; else the stack config's default. */
async function nameOr(context: CliContext, key: StackName, fallback: string): Promise<string> {
    try {
        return await context.stack.name(key);
    } catch {
        return fallback;
    }
}

/** Where the SDK took the region from, in the order it looks. */
function regionSource(): string {
    if (process.env.AWS_REGION) return "AWS_REGION";
    if (process.env.AWS_DEFAULT_REGION) return "AWS_DEFAULT_REGION";
    return `the profile ${process.env.AWS_PROFILE ?? "default"}`;
}

const pulumiCli: Check = {
    name: "Pulumi CLI",
    run: () =>
        new Promise((resolve) =>
            execFile("pulumi", ["version"], (error, stdout) =>
                resolve(
                    error
                        ? fail(
                              `the Pulumi CLI is not installed or not on PATH (${PULUMI_INSTALL})`,
                              `install the Pulumi CLI: ${PULUMI_INSTALL}`,
                          )
                        : ok(`pulumi ${stdout.trim()}`),
                ),
            ),
        ),
};

/** An authenticated call: keys that only look right fail here, not at the first real command. */
const awsAccess: Check = {
    name: "AWS",
    async run(context, facts) {
        const { GetCallerIdentityCommand, STSClient } = await import("@aws-sdk/client-sts");
        try {
            facts.region = await context.aws.s3.config.region();
            const sts = new STSClient({ region: facts.region, maxAttempts: 2 });
            const identity = await sts.send(new GetCallerIdentityCommand({}));
            facts.accountId = identity.Account;
            return ok(
                `account ${identity.Account} as ${identity.Arn}, region ${facts.region} (from ${regionSource()})`,
            );
        } catch (error) {
            const first = ((error as Error).message ?? String(error)).split("\n")[0];
            return fail(
                `AWS refused or could not be reached (${awsErrorName(error)}: ${first})`,
                `configure AWS access: install the AWS CLI (${AWS_CLI_INSTALL}), then aws configure, or export AWS_PROFILE=<profile> and AWS_REGION=<region>`,
            );
        }
    },
};

const sameRegion: Check = {
    name: "region",
    needs: ["AWS"],
    async run(context, facts) {
        const stackRegion = await context.stack.optionalOutput("region");
        if (typeof stackRegion === "string" && stackRegion !== facts.region)
            return fail(
                `the CLI's region is ${facts.region} (from ${regionSource()}), the stack's ${stackRegion}`,
                `export AWS_REGION=${stackRegion}`,
            );
        return ok(
            typeof stackRegion === "string" ? `the stack's too` : `${facts.region} (no stack to compare with yet)`,
        );
    },
};

const imagesBucket: Check = {
    name: "images bucket",
    needs: ["AWS"],
    async run(context, facts) {
        const fallback = defaultImagesBucketName(facts.accountId!, facts.region!);
        facts.imagesBucket = await nameOr(context, "imagesBucket", fallback);
        facts.imagesPrefix = await nameOr(context, "imagesPrefix", STACK_SETTINGS.imagesPrefix.default as string);
        const { HeadBucketCommand } = await import("@aws-sdk/client-s3");
        try {
            await context.aws.s3.send(new HeadBucketCommand({ Bucket: facts.imagesBucket }));
            return ok(`s3://${facts.imagesBucket} exists (images under ${facts.imagesPrefix})`);
        } catch (error) {
            const name = awsErrorName(error);
            if (name !== "NotFound" && name !== "NoSuchBucket")
                throw explainAwsError(error, `reading the images bucket ${facts.imagesBucket}`);
            return fail(
                `s3://${facts.imagesBucket} does not exist`,
                `create it: ${createBucketCommand(facts.imagesBucket, facts.region!)}`,
            );
        }
    },
};

const catadataTable: Check = {
    name: "catadata table",
    needs: ["AWS"],
    async run(context, facts) {
        const table = await nameOr(context, "catadataTable", STACK_SETTINGS.catadataTableName.default as string);
        const { DescribeTableCommand } = await import("@aws-sdk/client-dynamodb");
        let described;
        try {
            described = (await context.aws.dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table;
        } catch (error) {
            if (awsErrorName(error) !== "ResourceNotFoundException")
                throw explainAwsError(error, `reading the catadata table ${table}`);
            return fail(
                `${table} does not exist in ${facts.region}`,
                `create it: ${createTableCommand(table, facts.region!)}`,
            );
        }
        const hash = described?.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName;
        const problem = catadataKeyProblem(table, {
            hashKey: hash,
            hashKeyType: described?.AttributeDefinitions?.find((a) => a.AttributeName === hash)?.AttributeType,
            hasRangeKey: Boolean(described?.KeySchema?.some((k) => k.KeyType === "RANGE")),
        });
        if (problem)
            return fail(
                problem,
                `create a table keyed by ${CATADATA_KEY.name} and set catadataTableName to it: ${createTableCommand(`${table}-labels`, facts.region!)} && pulumi config set catadataTableName ${table}-labels && pulumi up`,
            );
        facts.catadataTable = table;
        return ok(`${table} is keyed by ${CATADATA_KEY.name} (${CATADATA_KEY.type})`);
    },
};

const stack: Check = {
    name: "stack",
    needs: ["Pulumi CLI", "images bucket", "catadata table"],
    async run(context, facts) {
        try {
            const trainingBucket = await context.stack.name("trainingBucket");
            facts.stackDeployed = true;
            const named = context.stack.stack ? ` (stack ${context.stack.stack})` : "";
            return ok(`deployed${named}; training bucket ${trainingBucket}`);
        } catch (error) {
            return fail(
                (error as Error).message.replace(/\.$/, ""),
                "deploy the stack: pulumi up (it prints the camera API's address)",
            );
        }
    },
};

/** The labels of every class the stack has, and those of names it does not have. */
const knownClasses: Check = {
    name: "classes",
    needs: ["catadata table", "images bucket"],
    async run(context, facts) {
        facts.labels = await readLabelState(context, facts.catadataTable!, facts.imagesPrefix!, facts.classes);
        const unknown = Object.entries(facts.labels.unknownLabels).sort((a, b) => b[1] - a[1]);
        const list = facts.classes.join(",");
        if (unknown.length === 0) return ok(facts.classes.join(", "));
        const named = unknown.map(([name, n]) => `${name} (${n})`).join(", ");
        const total = unknown.reduce((n, [, c]) => n + c, 0);
        const labels = total === 1 ? "1 label names" : `${total} labels name`;
        return warn(
            `${labels} a class not in classes: ${named}; add it (pulumi config set classes ${list},${unknown[0][0]}) or relabel ${total === 1 ? "it" : "them"}`,
        );
    },
};

const enoughLabels: Check = {
    name: "labels",
    needs: ["classes"],
    async run(context, facts) {
        const split: SplitSettings = {
            ...SPLIT_DEFAULTS,
            ...((await context.stack.optionalOutput("splitSettings")) as Partial<SplitSettings> | undefined),
        };
        const labels = facts.labels!;
        const keys = await listImageKeys(context, facts.imagesBucket!, facts.imagesPrefix!);
        facts.unlabelled = keys.filter((key) => !labels.labelled.has(key)).length;
        const visits = Object.fromEntries(
            facts.classes.map((c) => [
                c,
                countVisits(
                    labels.labelledNames[c].map((imageName) => ({ imageName })),
                    split,
                ),
            ]),
        );
        const shortfall = labelShortfall(labels.labelCounts, visits, facts.classes, facts.noCatClass, split);
        const counts = facts.classes
            .map((c) =>
                visits[c] < labels.labelCounts[c]
                    ? `${c} ${labels.labelCounts[c]} (${plural(visits[c], "visit")})`
                    : `${c} ${labels.labelCounts[c]}`,
            )
            .join(", ");
        const lacking = facts.classes.filter((c) => shortfall.perClass[c] > 0);
        if (lacking.length === 0 && shortfall.forTraining === 0)
            return ok(
                `${counts}: about ${shortfall.estimatedTraining} training images, every class on every side (npx bootboots train --dry-run counts exactly)`,
            );
        const wants = [
            ...lacking.map(
                (c) =>
                    `${shortfall.perClass[c]} more ${c}${visits[c] < labels.labelCounts[c] ? " from other visits" : ""}`,
            ),
            ...(shortfall.forTraining > 0 ? [`about ${shortfall.forTraining} more of any cat`] : []),
        ].join(", ");
        const how =
            facts.unlabelled > 0
                ? "npx bootboots suggest, then npx bootboots label"
                : "npx bootboots import <your photos> --label <cat>, or point the camera at the camera API";
        return fail(
            `${counts}: the first job needs ${MIN_TRAINING_IMAGES} training images and every class on every side (labels from ${VISITS_FOR_EVERY_SIDE} visits each), about ${shortfall.estimatedTraining} training images now`,
            `label ${wants} (${how})`,
        );
    },
};

/** Frigate's rule of thumb: keep the largest cat within about three times the smallest. */
const balance: Check = {
    name: "balance",
    needs: ["classes"],
    async run(_context, facts) {
        const counts = facts.classes
            .filter((c) => c !== facts.noCatClass)
            .map((c) => [c, facts.labels!.labelCounts[c]] as const);
        const [largest, most] = counts.reduce((a, b) => (b[1] > a[1] ? b : a));
        const few = counts.filter(([, n]) => n * 3 < most);
        if (most === 0 || few.length === 0) return ok(`every cat has at least a third of ${largest}'s ${most} labels`);
        return warn(
            few
                .map(
                    ([c, n]) =>
                        `${c} has ${n}, under a third of ${largest}'s ${most}: label about ${Math.ceil(most / 3) - n} more ${c}`,
                )
                .join("; "),
        );
    },
};

const serving: Check = {
    name: "model",
    needs: ["stack"],
    async run(context, facts) {
        facts.servingJob = (await servingJobName(context))?.jobName;
        return facts.servingJob ? ok(`${facts.servingJob} is serving`) : warn("no model is serving yet");
    },
};

const cameraApi: Check = {
    name: "camera API",
    needs: ["stack"],
    async run(context) {
        const url = await context.stack.optionalOutput("cameraApiUrl");
        return typeof url === "string" ? ok(`deployed at ${url}`) : fail("not deployed", "deploy the stack: pulumi up");
    },
};

/** Every check, in the order of a new user's path: install, access, what must exist, the stack, the labels. */
const CHECKS: readonly Check[] = [
    pulumiCli,
    awsAccess,
    sameRegion,
    imagesBucket,
    catadataTable,
    stack,
    knownClasses,
    enoughLabels,
    balance,
    serving,
    cameraApi,
];

/** Runs every check whose needs passed; the others are marked as not checked, naming what they wait for. */
async function runChecks(
    context: CliContext,
): Promise<{ checks: DoctorCheck[]; failures: { check: string; next: string }[]; facts: Facts }> {
    const { classes, noCatClass } = await context.stack.classes();
    const facts: Facts = { classes, noCatClass };
    const passed = new Set<string>();
    const checks: DoctorCheck[] = [];
    const failures: { check: string; next: string }[] = [];
    for (const check of CHECKS) {
        const waiting = (check.needs ?? []).filter((need) => !passed.has(need));
        if (waiting.length > 0) {
            checks.push({
                check: check.name,
                status: "skipped",
                ok: true,
                message: `not checked: it needs ${waiting.join(" and ")}`,
            });
            continue;
        }
        const verdict = await check.run(context, facts);
        checks.push({
            check: check.name,
            status: verdict.status,
            ok: verdict.status !== "fail",
            message: verdict.message,
        });
        if (verdict.status === "fail") failures.push({ check: check.name, next: verdict.next });
        else passed.add(check.name);
    }
    return { checks, failures, facts };
}

/** What to do once nothing blocks (so the model check ran): train, deploy, or improve the model. */
function progressStep(facts: Facts): string {
    if (!facts.servingJob)
        return "npx bootboots train, then npx bootboots status --watch, then npx bootboots deploy (10–20 minutes)";
    return "npx bootboots suggest and npx bootboots label, then npx bootboots train to improve the model";
}

const SYMBOL: Record<CheckStatus, string> = { ok: "✓", warn: "⚠", fail: "✗", skipped: "–" };

/**
 * Checks everything the next steps need, all at once (doctor's checks are a list, as the AWS
 * CDK CLI's are): the Pulumi CLI, AWS access (an authenticated call), the images bucket and
 * catadata table, the stack, the classes, the labels and their balance, the model and the
 * camera API. Prints each, then the next step once; exits 0 only when nothing failed.
 */
export async function doctor(context: CliContext, options: DoctorOptions): Promise<void> {
    if (options.iamPolicy) return printIamPolicy(context);
    const { checks, failures, facts } = await runChecks(context);
    const nextStep = failures[0]?.next ?? progressStep(facts);
    const report: DoctorReport = { checks, nextStep, ready: failures.length === 0 };
    if (options.json) context.out(JSON.stringify(report, null, 2));
    else {
        for (const c of checks) context.out(`${SYMBOL[c.status]} ${c.check}: ${c.message}`);
        context.out(`Next: ${nextStep}`);
    }
    if (failures.length > 0) throw new CliError(`Not ready: ${failures.map((f) => f.check).join(", ")}.`);
}

/** The least-privilege policy of the `bootboots` user: every command's declared actions, on the stack's names. */
async function printIamPolicy(context: CliContext): Promise<void> {
    const outputs = ["sagemakerRoleArn", "region", "dataPrepFunctionName", "triggerTrainingFunctionName"];
    const [roleArn, region, dataPrep, trigger] = await Promise.all(outputs.map((o) => context.stack.optionalOutput(o)));
    if (typeof roleArn !== "string" || typeof region !== "string")
        throw new CliError(
            "The stack is not deployed yet, so its names are unknown: run pulumi up, then doctor --iam-policy.",
        );
    const name = (key: StackName) => context.stack.name(key).catch(() => "");
    const names = {
        region,
        accountId: roleArn.split(":")[4],
        trainingBucket: await name("trainingBucket"),
        modelBucket: await name("modelBucket"),
        imagesBucket: await name("imagesBucket"),
        imagesPrefix: await name("imagesPrefix"),
        catadataTable: await name("catadataTable"),
        eventsTable: await name("eventsTable"),
        functions: [dataPrep, trigger].filter((f): f is string => typeof f === "string"),
        endpointName: String(
            (await context.stack.optionalOutput("endpointName")) ?? STACK_SETTINGS.endpointName.default,
        ),
        failedEventsQueueUrl: (await context.stack.optionalOutput("failedEventsQueueUrl")) as string | undefined,
        cameraApiUrl: (await context.stack.optionalOutput("cameraApiUrl")) as string | undefined,
    };
    context.out(
        JSON.stringify(
            iamPolicyDocument(
                COMMANDS.flatMap((c) => c.aws),
                names,
            ),
            null,
            2,
        ),
    );
}
