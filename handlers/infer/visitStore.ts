import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { awsErrorName } from "../../lib/errors";
import { VisitState, nextVisitState } from "../../lib/visits";

/** Writes of one frame's visit before it is given up: each retry reads the frame that won the race. */
const VISIT_WRITE_ATTEMPTS = 5;

/** A frame to add to its camera's visit: the camera, when it was taken, its target probability. */
export interface VisitFrame {
    readonly camera: string;
    readonly at: Date;
    readonly score: number;
}

/**
 * Each camera's current visit, one DynamoDB item per camera (docs/design.md §11). A frame's
 * write is conditional on the version it read, so two frames arriving at once cannot lose one:
 * the loser reads again and adds its frame to the winner's.
 */
export function visitStore(dynamodb: DynamoDBClient, settings: { visitsTable: string; visitGapMinutes: number }) {
    async function read(camera: string): Promise<VisitState | undefined> {
        const got = await dynamodb.send(
            new GetItemCommand({
                TableName: settings.visitsTable,
                Key: marshall({ camera }),
                ConsistentRead: true,
            }),
        );
        return got.Item ? (unmarshall(got.Item) as VisitState) : undefined;
    }

    /** Writes `next` only over the state it was made from; false when another frame wrote first. */
    async function replace(previous: VisitState | undefined, next: VisitState): Promise<boolean> {
        try {
            await dynamodb.send(
                new PutItemCommand({
                    TableName: settings.visitsTable,
                    Item: marshall(next, { removeUndefinedValues: true }),
                    ConditionExpression: previous ? "version = :version" : "attribute_not_exists(camera)",
                    ...(previous ? { ExpressionAttributeValues: marshall({ ":version": previous.version }) } : {}),
                }),
            );
            return true;
        } catch (error) {
            if (awsErrorName(error) === "ConditionalCheckFailedException") return false;
            throw error;
        }
    }

    /**
     * Adds a frame to its camera's visit and records where the rule first acted: `acts` says
     * whether the rule acts on the visit with this frame. `firstRead` is the read started
     * while the endpoint answered. Returns the state written.
     */
    async function add(
        frame: VisitFrame,
        acts: (state: VisitState) => boolean,
        firstRead: Promise<VisitState | undefined>,
    ): Promise<VisitState> {
        for (let attempt = 1; ; attempt++) {
            const previous = attempt === 1 ? await firstRead : await read(frame.camera);
            const next = nextVisitState(previous, frame, settings.visitGapMinutes);
            const recorded = acts(next) && next.actedAt === undefined ? { ...next, actedAt: next.frames } : next;
            if (await replace(previous, recorded)) return recorded;
            if (attempt >= VISIT_WRITE_ATTEMPTS)
                throw new Error(`the visit of camera ${frame.camera} changed under ${attempt} writes in a row`);
        }
    }

    return { read, add };
}
