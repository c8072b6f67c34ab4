// Runs one deployed Lambda (its __index.js) in this process, for tests/support/deployedLambda.ts:
// the parent sends {id, event, context} and gets back {id, result | error, logs}. What the
// handler logs is sent with its answer, so that the parent replays it in order.
"use strict";
const util = require("util");

const logs = [];
for (const level of ["log", "info", "warn", "error"]) {
    console[level] = (...args) => logs.push({ level, text: util.format(...args) });
}

let handler;
try {
    handler = require(process.env.LAMBDA_RUNNER_INDEX).handler;
} catch (error) {
    process.send({ loadError: { name: error.name, message: error.message, stack: error.stack } });
    process.exit(1);
}
process.send({ ready: typeof handler });

process.on("message", async ({ id, event, context }) => {
    try {
        const result = await handler(event, context);
        process.send({ id, result: result === undefined ? null : result, logs: logs.splice(0) });
    } catch (error) {
        process.send({
            id,
            error: { name: error?.name, message: error?.message ?? String(error), stack: error?.stack },
            logs: logs.splice(0),
        });
    }
});
