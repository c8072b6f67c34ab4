import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseStackConfig } from "../config";
import { configTableRows } from "../lib/stackSettings";

describe("stack config rules", () => {
    const cases: [Record<string, string>, RegExp][] = [
        [{ endpointMemoryMb: "1500" }, /endpointMemoryMb = "1500": must be a multiple of 1024/],
        [{ endpointMemoryMb: "8192" }, /endpointMemoryMb = "8192"/],
        [
            { modelDataUrl: "https://example.com/model.tar.gz" },
            /modelDataUrl = "https:.*s3:\/\/<bucket>\/<key>\.tar\.gz.*Example: pulumi config set modelDataUrl s3:\/\//,
        ],
        [{ modelDataUrl: "s3://bucket/model.zip" }, /modelDataUrl = "s3:\/\/bucket\/model\.zip"/],
        [
            { validationSplit: "1.5" },
            /validationSplit = "1.5": must be a number greater than 0 and less than 1\. Example: pulumi config set validationSplit 0.2/,
        ],
        [{ validationSplit: "abc" }, /validationSplit = "abc": must be a number/],
        [{ testSplit: "0" }, /testSplit = "0": must be a number greater than 0 and less than 1/],
        [
            { validationSplit: "0.3", testSplit: "0.25" },
            /testSplit = "0.25": with validationSplit 0.3 it must stay below 0.20 \(together below 0.5\), so that most images train\. Example: pulumi config set testSplit 0.1/,
        ],
        [{ targetClass: "Garfield" }, /targetClass = "Garfield": must be one of classes/],
        [
            { classes: "Tom,Jerry,NoCat" },
            /targetClass = "Boots": must be one of classes \(Tom, Jerry, NoCat\)\. Example: pulumi config set targetClass Tom/,
        ],
        [{ maxFalseAlarmRate: "1" }, /maxFalseAlarmRate = "1": must be at least 0 and below 1/],
        [
            { endpointMaxConcurrency: "5", endpointProvisionedConcurrency: "6" },
            /endpointProvisionedConcurrency = "6": must be an integer from 0 to 5/,
        ],
        [{ noCatClass: "Nobody" }, /noCatClass = "Nobody": must be one of classes/],
        [{ classes: '["Boots","Boots"]' }, /classes = .*appears more than once/],
        [
            { classes: "Boots,boots,NoCat" },
            /bootboots-ai:classes = "Boots,boots,NoCat": classes "Boots" and "boots" differ only by case\. Example: pulumi config set classes/,
        ],
        [{ maxTuningCostUsd: "-1" }, /maxTuningCostUsd = "-1": must be a cost in USD, at least 0/],
        [{ adoptExistingBuckets: "yes" }, /adoptExistingBuckets = "yes": must be true or false/],
        [{ classes: "[]" }, /classes = "\[\]": must be a non-empty list/],
        [
            { cameraRateLimit: "0" },
            /cameraRateLimit = "0": must be requests per second above 0, at most 10000\. Example: pulumi config set cameraRateLimit 5/,
        ],
        [{ cameraBurstLimit: "2.5" }, /cameraBurstLimit = "2.5": must be an integer from 1 to 5000/],
        [{ cameraReservedConcurrency: "-1" }, /cameraReservedConcurrency = "-1": must be an integer from 0 to 1000/],
        [{ keepWarmMinutes: "90" }, /keepWarmMinutes = "90": must be an integer from 0 to 60/],
        [{ eventRetentionDays: "0" }, /eventRetentionDays = "0": must be an integer from 1 to 3650/],
        [{ eventsTableName: "x" }, /eventsTableName = "x": must be a DynamoDB table name/],
        [
            { cameraRoleName: "arn:aws:iam::123456789012:role/cam" },
            /cameraRoleName = "arn:aws:iam::123456789012:role\/cam": must be the name \(not the ARN\) of an existing IAM role/,
        ],
        [
            { imagesPrefix: "catcam-training" },
            /imagesPrefix = "catcam-training": must be a key prefix that ends with '\/'/,
        ],
        [{ maxNoCatSamples: "0" }, /maxNoCatSamples = "0": must be an integer from 1/],
        [{ visitGapMinutes: "0" }, /visitGapMinutes = "0": must be an integer from 1 to 10080/],
        [
            { splitWindowMinutes: "60" },
            /Config bootboots-ai:splitWindowMinutes is no longer read: splitWindowMinutes was replaced by visitGapMinutes: a visit is now .*\. Run: pulumi config rm splitWindowMinutes$/,
        ],
        [{ splitNumberBlock: "2.5" }, /splitNumberBlock = "2.5": must be an integer from 1/],
        [
            { trainingInstanceType: "m5.xlarge" },
            /trainingInstanceType = "m5.xlarge".*Example: pulumi config set trainingInstanceType ml.m5.xlarge/,
        ],
        [{ spotTraining: "maybe" }, /spotTraining = "maybe": must be true or false/],
        [{ trainingNetworkIsolation: "off" }, /trainingNetworkIsolation = "off": must be true or false/],
        [{ checkImagesBucket: "no" }, /checkImagesBucket = "no": must be true or false/],
        [{ notificationEmail: "me" }, /notificationEmail = "me": must be an e-mail address/],
        [{ retrainSchedule: "daily" }, /retrainSchedule = "daily": must be an EventBridge schedule expression/],
        [{ retrainMinNewLabels: "0" }, /retrainMinNewLabels = "0": must be an integer from 1 to 100000/],
        [{ tensorflowVersion: "2.3" }, /tensorflowVersion = "2.3".*2\.19/],
        [{ endpointName: "my_endpoint" }, /endpointName = "my_endpoint"/],
        [{ endpointMaxConcurrency: "201" }, /endpointMaxConcurrency = "201": must be an integer from 1 to 200/],
        [{ imagesBucketName: "Bad_Bucket" }, /imagesBucketName = "Bad_Bucket"/],
    ];
    for (const [config, message] of cases) {
        it(`rejects ${JSON.stringify(config)}`, () => {
            assert.throws(() => parseStackConfig((key) => config[key]), message);
        });
    }

    it("has the documented defaults", () => {
        const config = parseStackConfig(() => undefined);
        assert.deepEqual(config, {
            modelDataUrl: undefined,
            imagesBucketName: undefined,
            imagesPrefix: "catcam-training/",
            catadataTableName: "catadata",
            checkImagesBucket: true,
            classes: ["Boots", "Chi", "Kappa", "Mu", "NoCat", "Tau", "Wolf"],
            noCatClass: "NoCat",
            validationSplit: 0.2,
            testSplit: 0.1,
            maxNoCatSamples: 200,
            visitGapMinutes: 10,
            splitNumberBlock: 20,
            targetClass: "Boots",
            maxFalseAlarmRate: 0.01,
            trainingInstanceType: "ml.m5.xlarge",
            spotTraining: true,
            trainingNetworkIsolation: true,
            tensorflowVersion: "2.19",
            endpointName: "bootboots",
            endpointMemoryMb: 2048,
            endpointMaxConcurrency: 5,
            endpointProvisionedConcurrency: 0,
            maxTuningCostUsd: 10,
            adoptExistingBuckets: false,
            notificationEmail: undefined,
            retrainSchedule: undefined,
            retrainMinNewLabels: 50,
            cameraRateLimit: 5,
            cameraBurstLimit: 10,
            cameraReservedConcurrency: 5,
            cameraRoleName: undefined,
            keepWarmMinutes: 0,
            eventsTableName: "bootboots-events",
            eventRetentionDays: 365,
        });
        // The camera function reserves what the endpoint serves at once.
        assert.equal(
            parseStackConfig((k) => (({ endpointMaxConcurrency: "12" }) as Record<string, string>)[k])
                .cameraReservedConcurrency,
            12,
        );
    });

    it("is documented in design.md's config table, key by key, with each default and rule from lib/stackSettings.ts", () => {
        const design = fs.readFileSync(path.join(__dirname, "..", "docs", "design.md"), "utf8");
        const section = design.slice(
            design.indexOf("## 2. Stack config"),
            design.indexOf("A bad value stops the program"),
        );
        const rows = section.split("\n").filter((line) => /^\| `/.test(line));
        const expected = configTableRows();
        assert.deepEqual(rows, expected, `design.md §2 should hold exactly these rows:\n${expected.join("\n")}`);
    });

    it("accepts classes as a comma list", () => {
        assert.deepEqual(
            parseStackConfig((k) => (({ classes: "A, B,NoCat", targetClass: "A" }) as Record<string, string>)[k])
                .classes,
            ["A", "B", "NoCat"],
        );
    });
});
