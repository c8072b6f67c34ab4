import { strict as assert } from "assert";
import { InjectedResponse } from "../support/proxy";
import { TuningStandIn, tuningStandIn } from "../support/tuningStandIn";
import {
    ENDPOINT,
    MODEL_BUCKET,
    STRONG,
    WEAK,
    cli,
    ensureDataset,
    ensureFixtureJobs,
    serve,
    useCliWorld,
} from "../support/cliWorld";
import { readmeShows } from "../support/readmeExamples";

describe("the bootboots command: tune", function () {
    this.timeout(300_000);
    const w = useCliWorld();
    let tuning: TuningStandIn;

    before(async () => {
        await ensureDataset();
        await ensureFixtureJobs();
    });
    /** The Price List API's answer for one SageMaker training instance, as GetProducts returns it (JSON strings). */
    const priceList = (usdPerHour: string) => ({
        status: 200,
        headers: { "content-type": "application/x-amz-json-1.1" },
        body: JSON.stringify({
            FormatVersion: "aws_v1",
            PriceList: [
                JSON.stringify({
                    product: {
                        productFamily: "ML Instance",
                        attributes: {
                            instanceName: "ml.m5.xlarge",
                            component: "Training",
                            regionCode: "eu-west-2",
                        },
                    },
                    terms: {
                        OnDemand: {
                            "SKU.TERM": {
                                priceDimensions: {
                                    "SKU.TERM.DIM": { unit: "Hrs", pricePerUnit: { USD: usdPerHour } },
                                },
                            },
                        },
                    },
                }),
            ],
        }),
    });
    const answer = (pricing: InjectedResponse) => {
        w.proxy.options = {
            inject: (request) =>
                request.headers["x-amz-target"] === "AWSPriceListService.GetProducts"
                    ? pricing
                    : tuning.inject(request),
        };
    };

    beforeEach(() => {
        tuning = tuningStandIn();
        answer(priceList("0.2300000000"));
        w.stub.setOutputs({
            ...Object.fromEntries(Object.entries(w.outputs).filter(([, v]) => v !== undefined)),
            endpointName: ENDPOINT,
        });
    });
    afterEach(() => (w.proxy.options = {}));

    it("shows the worst case from the Price List and starts a tuning job through the trigger", async () => {
        const run = await cli("tune", "--skip-data-prep", "--max-jobs", "12", "--parallel", "3");
        assert.equal(run.code, 0, run.err);
        assert.ok(
            run.out.includes(
                "Worst case: 12 training jobs on ml.m5.xlarge, each up to 2.0 h: 24.0 instance-hours, $5.52 at the on-demand price in eu-west-2 ($0.230/h; spot costs less).",
            ),
            run.out,
        );
        readmeShows("tune-cost", run.out);
        const [, name] =
            /^Tuning job (bootboots-[0-9a-f]{22}) on dataset \S+: up to 12 training jobs, 3 at a time\.$/m.exec(
                run.out,
            )!;
        assert.equal(tuning.created.size, 1);
        assert.deepEqual(tuning.created.get(name).HyperParameterTuningJobConfig.ResourceLimits, {
            MaxNumberOfTrainingJobs: 12,
            MaxParallelTrainingJobs: 3,
        });
        const gets = w.proxy.requests
            .filter((r) => r.headers["x-amz-target"] === "AWSPriceListService.GetProducts")
            .map((r) => JSON.parse(r.body.toString()));
        assert.deepEqual(
            gets.at(-1).Filters.map((f: { Field: string; Value: string }) => `${f.Field}=${f.Value}`),
            ["regionCode=eu-west-2", "instanceName=ml.m5.xlarge", "component=Training"],
        );
    });

    it("refuses above maxTuningCostUsd without --yes, and starts with it", async () => {
        const refused = await cli("tune", "--skip-data-prep", "--max-jobs", "50", "--parallel", "5");
        assert.equal(refused.code, 1);
        assert.match(refused.out, /100\.0 instance-hours, \$23\.00 at the on-demand price/);
        assert.equal(
            refused.err,
            "error: Nothing was started: $23.00 is above maxTuningCostUsd ($10.00). Add --yes to start it anyway, or lower --max-jobs or --max-runtime.\n",
        );
        assert.equal(tuning.created.size, 0);
        const accepted = await cli("tune", "--skip-data-prep", "--max-jobs", "50", "--parallel", "5", "--yes");
        assert.equal(accepted.code, 0, accepted.err);
        assert.equal(tuning.created.size, 1);
    });

    it("says when the price cannot be read, shows instance-hours only, and asks for --yes", async () => {
        answer({
            status: 400,
            headers: { "x-amzn-errortype": "AccessDeniedException", "content-type": "application/x-amz-json-1.1" },
            body: JSON.stringify({ __type: "AccessDeniedException", Message: "not allowed" }),
        });
        const creates = () =>
            w.proxy.requests.filter((r) => r.headers["x-amz-target"] === "SageMaker.CreateHyperParameterTuningJob")
                .length;
        const createdBefore = creates();
        const run = await cli("tune", "--skip-data-prep");
        assert.equal(run.code, 1);
        assert.match(
            run.out,
            /^Worst case: 12 training jobs on ml\.m5\.xlarge, each up to 2\.0 h: 24\.0 instance-hours\.$/m,
        );
        assert.match(run.out, /^No price: the AWS Price List could not be read \(Access denied while reading prices/m);
        assert.match(run.err, /Nothing was started: its cost is unknown\. Add --yes/);
        assert.equal(tuning.created.size, 0, "no tuning job was created");
        assert.equal(creates(), createdBefore, "no CreateHyperParameterTuningJob was sent");
    });

    it("refuses bad values naming the flag", async () => {
        const low = await cli("tune", "--max-jobs", "1");
        assert.equal(low.code, 2);
        assert.match(low.err, /option '--max-jobs <n>' argument '1' is invalid\. expected an integer from 2 to 100\./);
        const over = await cli("tune", "--max-jobs", "3", "--parallel", "4");
        assert.equal(over.code, 2);
        assert.match(over.err, /--parallel 4 is more than --max-jobs 3/);
        assert.equal(tuning.created.size, 0);
    });

    it("status follows a tuning job (completed, running, stopped early, failed, the best so far), and deploy deploys its best job through the gate", async () => {
        const run = await cli("tune", "--skip-data-prep", "--json");
        const name = JSON.parse(run.out).tuningJobName;
        tuning.progress[name] = {
            TrainingJobStatusCounters: {
                Completed: 5,
                InProgress: 3,
                Stopped: 2,
                NonRetryableError: 1,
                RetryableError: 0,
            },
            BestTrainingJob: {
                TrainingJobName: STRONG,
                FinalHyperParameterTuningJobObjectiveMetric: { MetricName: "validation:macro_f1", Value: 0.8731 },
                TunedHyperParameters: { learning_rate: "0.00031", batch_size: "16" },
            },
        };
        const status = await cli("status", name);
        assert.equal(status.code, 0, status.err);
        assert.ok(
            status.out.includes(
                `Tuning job ${name}: InProgress: 5 completed, 3 running, 2 stopped early, 1 failed of up to 12; best validation:macro_f1 0.8731 (${STRONG})`,
            ),
            status.out,
        );
        assert.match(status.out, /best hyperparameters: learning_rate=0\.00031 batch_size=16/);
        let polls = 0;
        const described = tuning.inject.bind(tuning);
        w.proxy.options = {
            inject: (request) => {
                if (request.headers["x-amz-target"] === "SageMaker.DescribeHyperParameterTuningJob" && ++polls === 2) {
                    tuning.progress[name] = {
                        ...tuning.progress[name],
                        HyperParameterTuningJobStatus: "Completed",
                        TrainingJobStatusCounters: {
                            Completed: 9,
                            InProgress: 0,
                            Stopped: 2,
                            NonRetryableError: 1,
                        },
                    };
                }
                return described(request);
            },
        };
        const watched = await cli("status", name, "--watch", "--interval", "1");
        assert.equal(watched.code, 0, watched.err);
        assert.match(watched.out, /^InProgress: 5 completed, 3 running/m);
        assert.match(watched.out, /^Completed: 9 completed, 0 running, 2 stopped early, 1 failed of up to 12/m);
        assert.ok(watched.out.includes(`Deploy the best: npx bootboots deploy ${name}`));
        // The weaker model serves, so the gate compares the best job with it and lets it through.
        await serve(WEAK);
        const deployed = await cli("deploy", name, "--no-up");
        assert.equal(deployed.code, 0, deployed.err);
        assert.ok(deployed.err.includes(`Tuning job ${name}: its best training job is ${STRONG}`), deployed.err);
        assert.ok(
            deployed.out.includes(`Gate passed: ${STRONG} is not significantly worse than ${WEAK}.`),
            deployed.out,
        );
        assert.match(deployed.out, /^macro-F1\s+\S+\s+\S+\s+\+\S+/m, "the comparison's table is shown");
        assert.deepEqual(w.stub.calls().at(-1)?.slice(0, 4), [
            "config",
            "set",
            "modelDataUrl",
            `s3://${MODEL_BUCKET}/training-output/${STRONG}/output/model.tar.gz`,
        ]);
    });
});
