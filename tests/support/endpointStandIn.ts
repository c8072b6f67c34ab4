import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { freePort } from "./moto";
import { Proxy, startProxy } from "./proxy";

const ROOT = path.resolve(__dirname, "..", "..");
/** The model that the training-script tests (pytest) exported, with sample images per class. */
export const MODEL_FIXTURE = path.join(ROOT, ".test-output", "trained-model");

export interface EndpointStandIn {
    /** InvokeEndpoint's address: a proxy that refuses what SageMaker Runtime would refuse, then the server. */
    readonly endpoint: string;
    /** What reached the endpoint, and what it refused (`proxy.invalid`). */
    readonly proxy: Proxy;
    /** Answers from now on name this production variant, as an endpoint update moves traffic. */
    setVariant(name: string): Promise<void>;
    stop(): void;
}

/** Every file under `dir`, recursively, as paths relative to ROOT with forward slashes. */
function filesUnder(dir: string): string[] {
    return fs
        .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
        .filter((entry) => entry.name !== "__pycache__")
        .flatMap((entry) =>
            entry.isDirectory() ? filesUnder(`${dir}/${entry.name}`) : entry.isFile() ? [`${dir}/${entry.name}`] : [],
        );
}

/** sha256 of the code that makes the fixture models, as test_train.py's fixture_source_digest computes it. */
function fixtureSourceDigest(): string {
    const digest = createHash("sha256");
    const files = [...filesUnder("training"), "tests/python/conftest.py", "tests/python/test_train.py"];
    // Sorted by UTF-16 code units, as Python sorts these (ASCII) paths.
    for (const file of files.sort()) {
        digest
            .update(`${file}\0`)
            .update(fs.readFileSync(path.join(ROOT, file)))
            .update("\0");
    }
    return digest.digest("hex");
}

/**
 * Refuses a fixture model that is missing or was exported by other code than today's training/
 * and pytest suite (a stale .test-output from before a change), naming what to run.
 */
export function checkModelFixture(fixture = MODEL_FIXTURE): void {
    const stamp = path.join(fixture, "source.sha256");
    if (!fs.existsSync(path.join(fixture, "1", "saved_model.pb")) || !fs.existsSync(stamp)) {
        throw new Error(
            `${fixture} is missing: npm test runs the training-script tests (pytest) first, which export it`,
        );
    }
    if (fs.readFileSync(stamp, "utf8").trim() !== fixtureSourceDigest()) {
        throw new Error(
            `${fixture} was exported by other code than today's training/ and tests/python: run .venv/bin/python -m pytest tests/python first`,
        );
    }
}

/** The TF Serving stand-in (tests/python/endpoint_server.py) serving MODEL_FIXTURE as endpoint `endpointName`. */
export async function startEndpointStandIn(endpointName: string, variant = "AllTraffic"): Promise<EndpointStandIn> {
    checkModelFixture();
    const port = await freePort();
    const child: ChildProcess = spawn(
        path.join(ROOT, ".venv", "bin", "python"),
        [
            path.join(ROOT, "tests", "python", "endpoint_server.py"),
            "--model-dir",
            MODEL_FIXTURE,
            "--endpoint-name",
            endpointName,
            "--port",
            String(port),
            "--variant",
            variant,
        ],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2" } },
    );
    process.once("exit", () => child.kill());
    await new Promise<void>((resolve, reject) => {
        let log = "";
        child.stdout!.on("data", (chunk) => {
            log += chunk;
            if (log.includes("listening")) resolve();
        });
        child.stderr!.on("data", (chunk) => (log += chunk));
        child.on("exit", (code) => reject(new Error(`endpoint stand-in exited (${code}): ${log}`)));
    });
    const server = `http://127.0.0.1:${port}`;
    const proxy = await startProxy(server);
    return {
        endpoint: proxy.endpoint,
        proxy,
        async setVariant(name) {
            const response = await fetch(`${server}/stand-in/variant`, { method: "PUT", body: name });
            if (!response.ok) throw new Error(`the stand-in refused variant ${name}: ${response.status}`);
        },
        stop: () => {
            child.kill();
            void proxy.close();
        },
    };
}

/** The fixture's sample images, by class. */
export function sampleFiles(classes: readonly string[]): { file: string; className: string }[] {
    return classes.flatMap((className) =>
        fs
            .readdirSync(path.join(MODEL_FIXTURE, "samples", className))
            .sort()
            .map((name) => ({ file: path.join(MODEL_FIXTURE, "samples", className, name), className })),
    );
}
