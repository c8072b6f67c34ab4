import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
const MOTO_SERVER = path.join(PROJECT_ROOT, ".venv", "bin", "moto_server");

export const TEST_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };

/** The environment of a process that talks to moto: its credentials and region, and no instance metadata. */
export const TEST_ENV = {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_REGION: "eu-west-2",
    AWS_EC2_METADATA_DISABLED: "true",
};

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

export interface Moto {
    readonly endpoint: string;
    reset(): Promise<void>;
    stop(): Promise<void>;
}

/** Starts moto in server mode on 127.0.0.1 (from the .venv that `npm test` creates). */
export async function startMoto(): Promise<Moto> {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    if (!fs.existsSync(MOTO_SERVER)) {
        throw new Error(
            `${MOTO_SERVER} is missing: run 'node scripts/ensure-venv.js' (npm test does) to create the Python test environment.`,
        );
    }
    const child: ChildProcess = spawn(MOTO_SERVER, ["-H", "127.0.0.1", "-p", String(port)], {
        stdio: ["ignore", "ignore", "pipe"],
    });
    process.once("exit", () => child.kill());
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
    const deadline = Date.now() + 30_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
        try {
            const response = await fetch(`${endpoint}/moto-api/`);
            if (response.ok) break;
        } catch {
            // Not listening yet.
        }
        if (Date.now() > deadline) throw new Error(`moto_server did not start on ${endpoint}: ${stderr}`);
        await new Promise((done) => setTimeout(done, 200));
    }
    return {
        endpoint,
        async reset() {
            await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
        },
        stop: () =>
            new Promise((done) => {
                child.once("exit", () => done());
                child.kill();
            }),
    };
}

let shared: Promise<Moto> | undefined;

/**
 * The one moto server of this test process, started by the first suite that asks for it
 * (suites that need no AWS never start it, nor need the Python environment), and stopped
 * when the process exits.
 */
export function sharedMoto(): Promise<Moto> {
    if (!shared) {
        Object.assign(process.env, TEST_ENV);
        delete process.env.AWS_PROFILE;
        shared = startMoto();
    }
    return shared;
}

/** SDK client options that point at moto (or a proxy in front of it). */
export function clientConfig(endpoint: string, maxAttempts = 8) {
    return { endpoint, region: "eu-west-2", credentials: TEST_CREDENTIALS, forcePathStyle: true, maxAttempts };
}
