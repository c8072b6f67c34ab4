// Prints, as JSON, what the stack hands a training job: the script archive it uploads, the
// hyperparameters the trigger sends for a given event, the metric definitions and the channels it sends. The Python tests use it so that
// they train with exactly the stack's archive and the trigger's hyperparameters.
//   ts-node scripts/training-inputs.ts <archive out dir> <trigger event JSON> <training counts JSON> <models bucket>
import { jobChannels, trainingHyperParameters } from "../handlers/trigger/trainingJob";
import { parseTriggerEvent } from "../lib/triggerEvent";
import { contract, metricDefinitions } from "../lib/contract";
import { buildSourceArchive } from "../lib/sourceArchive";
import * as path from "path";

const [outDir, eventJson, countsJson, modelBucket] = process.argv.slice(2);
const archive = buildSourceArchive(path.join(__dirname, "..", "training"), outDir);
const event = parseTriggerEvent(JSON.parse(eventJson), { spot: false, instanceType: "ml.m5.xlarge" });
const hyperParameters = trainingHyperParameters(
    event,
    {
        classes: contract.classes,
        trainingScriptUri: `s3://${modelBucket}/${archive.key}`,
        region: "eu-west-2",
        targetClass: "Boots",
        maxFalseAlarmRate: 0.01,
    },
    JSON.parse(countsJson),
);
// The channels the trigger sends, by name: the tests lay out /opt/ml/input/data as SageMaker would.
const channels = jobChannels(
    {
        trainingBucket: "training",
        trainingScriptUri: `s3://${modelBucket}/${archive.key}`,
        baseWeightsUri: "s3://weights",
    },
    "dataset",
).map((channel) => channel.name);
console.log(JSON.stringify({ archive, hyperParameters, metricDefinitions, channels }));
