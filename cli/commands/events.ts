import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { CameraEvent } from "../../lib/cameraApi";
import { CliContext } from "../context";
import { CliError, explainAwsError } from "../errors";
import { table } from "../format";

export interface EventsOptions {
    /** `7d`, `24h`, `30m` or an ISO date/time. */
    readonly since: string;
    readonly limit: number;
    readonly json?: boolean;
}

/** The start of the window a `--since` names, or undefined when it names none. */
export function parseSince(since: string, now: Date): Date | undefined {
    const relative = /^(\d+)([dhm])$/.exec(since.trim());
    if (relative) {
        const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as "d" | "h" | "m"];
        return new Date(now.getTime() - Number(relative[1]) * unitMs);
    }
    const absolute = /^\d{4}-\d\d-\d\d/.test(since) ? new Date(since) : undefined;
    return absolute && !Number.isNaN(absolute.getTime()) ? absolute : undefined;
}

/** The UTC days from `until` back to `since`, newest first: the table's partitions to read. */
export function daysBetween(since: Date, until: Date): string[] {
    const days: string[] = [];
    for (
        let t = Date.UTC(until.getUTCFullYear(), until.getUTCMonth(), until.getUTCDate());
        t >= since.getTime() - 86_400_000 + 1;
        t -= 86_400_000
    ) {
        days.push(new Date(t).toISOString().slice(0, 10));
    }
    return days;
}

/** The events from now back to `since`, newest first, day by day until `limit` are found. */
async function eventsSince(context: CliContext, since: Date, now: Date, limit: number): Promise<CameraEvent[]> {
    const tableName = await context.stack.name("eventsTable");
    const { QueryCommand } = await import("@aws-sdk/client-dynamodb");
    const { unmarshall } = await import("@aws-sdk/util-dynamodb");
    const found: CameraEvent[] = [];
    for (const day of daysBetween(since, now)) {
        let start: Record<string, AttributeValue> | undefined;
        do {
            let page;
            try {
                page = await context.aws.dynamodb.send(
                    new QueryCommand({
                        TableName: tableName,
                        KeyConditionExpression: "#d = :day",
                        ExpressionAttributeNames: { "#d": "day" },
                        ExpressionAttributeValues: { ":day": { S: day } },
                        ScanIndexForward: false,
                        ExclusiveStartKey: start,
                    }),
                );
            } catch (error) {
                throw explainAwsError(
                    error,
                    `reading the events table ${tableName} (${context.stack.origin("eventsTable")})`,
                );
            }
            found.push(
                ...(page.Items ?? [])
                    .map((item) => unmarshall(item) as CameraEvent)
                    .filter((e) => Date.parse(e.at) >= since.getTime()),
            );
            start = page.LastEvaluatedKey;
        } while (start && found.length < limit);
        if (found.length >= limit) break;
    }
    return found;
}

/** The latest requests whose decision acted (the events table), newest first. */
export async function events(context: CliContext, options: EventsOptions): Promise<void> {
    const now = new Date();
    const since = parseSince(options.since, now);
    if (!since)
        throw new CliError(
            `--since ${JSON.stringify(options.since)} is neither a duration (7d, 24h, 30m) nor a date (2026-12-01).`,
            2,
        );
    const found = await eventsSince(context, since, now, options.limit);
    const latest = found.slice(0, options.limit);
    if (options.json) return context.out(JSON.stringify(latest, null, 2));
    if (latest.length === 0) return context.out(`No decision acted since ${since.toISOString()}.`);
    context.out(
        table(
            ["time (UTC)", "camera", "class", "probability", "threshold", "model", "image"],
            latest.map((e) => [
                e.at,
                e.camera ?? "-",
                e.targetClass,
                e.probability.toFixed(3),
                e.threshold.toFixed(3),
                e.trainingJobName ?? e.modelDataUrl ?? "-",
                e.imageKey,
            ]),
        ),
    );
    context.out(
        `${latest.length} event${latest.length === 1 ? "" : "s"} since ${since.toISOString()}${found.length > latest.length ? ` (--limit ${options.limit}; more exist)` : ""}.`,
    );
}
