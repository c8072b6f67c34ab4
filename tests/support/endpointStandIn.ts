import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { freePort } from "./moto";

const ROOT = path.resolve(__dirname, "..", "..");
/** The model that the training-script tests (pytest) exported, with sample images per class. */
export const MODEL_FIXTURE = path.join(ROOT, ".test-output", "trained-model");

export interface EndpointStandIn {
    readonly endpoint: string;
    /** Answers from now on name this production variant, as an endpoint update moves traffic. */
    setVariant(name: string): Promise<void>;
    stop(): void;
}

/** The TF Serving stand-in (tests/python/endpoint_server.py) serving MODEL_FIXTURE as endpoint `endpointName`. */
export async function startEndpointStandIn(endpointName: string, variant = "AllTraffic"): Promise<EndpointStandIn> {
    if (!fs.existsSync(path.join(MODEL_FIXTURE, "1", "saved_model.pb"))) {
        throw new Error(
            `${MODEL_FIXTURE} is missing: npm test runs the training-script tests (pytest) first, which export it`,
        );
    }
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
    const endpoint = `http://127.0.0.1:${port}`;
    return {
        endpoint,
        async setVariant(name) {
            const response = await fetch(`${endpoint}/stand-in/variant`, { method: "PUT", body: name });
            if (!response.ok) throw new Error(`the stand-in refused variant ${name}: ${response.status}`);
        },
        stop: () => child.kill(),
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
