import { CAMERA_HEADER, CameraAnswer, CameraRefusal, JPEG_CONTENT_TYPE, TRAINING_MODE } from "../../lib/cameraApi";
import { CliError, InputError } from "../errors";

/** The camera API's region from its host (`<id>.execute-api.<region>.amazonaws.com`), if it says. */
export function regionOfApiUrl(url: URL): string | undefined {
    return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1];
}

/**
 * Posts one JPEG to the camera API exactly as the camera does: the raw bytes, SigV4-signed for
 * `execute-api` with the SDK's own signer and the user's credentials (the default chain:
 * AWS_PROFILE, SSO, environment, instance role).
 */
export async function postToCameraApi(
    apiUrl: string,
    jpeg: Uint8Array,
    options: { camera?: string; training?: boolean; region: string },
): Promise<{ status: number; answer: CameraAnswer | CameraRefusal }> {
    const [{ SignatureV4 }, { Hash }, { defaultProvider }] = await Promise.all([
        import("@smithy/signature-v4"),
        import("@smithy/core/serde"),
        import("@aws-sdk/credential-provider-node"),
    ]);
    const url = new URL(apiUrl);
    if (options.training) url.searchParams.set("mode", TRAINING_MODE);
    const headers: Record<string, string> = { host: url.host, "content-type": JPEG_CONTENT_TYPE };
    if (options.camera) headers[CAMERA_HEADER] = options.camera;
    const signer = new SignatureV4({
        credentials: defaultProvider(),
        region: options.region,
        service: "execute-api",
        sha256: Hash.bind(null, "sha256"),
    });
    let signed;
    try {
        signed = await signer.sign({
            method: "POST",
            protocol: url.protocol,
            hostname: url.hostname,
            port: url.port ? Number(url.port) : undefined,
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            headers,
            body: jpeg,
        });
    } catch (error) {
        throw new CliError(
            `No AWS credentials to sign the request with (${(error as Error).message}): set AWS_PROFILE, or run aws sso login.`,
        );
    }
    let response: Response;
    try {
        response = await fetch(url, {
            method: "POST",
            headers: signed.headers as Record<string, string>,
            body: Buffer.from(jpeg),
        });
    } catch (error) {
        throw new CliError(
            `The camera API at ${url.origin} could not be reached (${(error as Error).cause ?? (error as Error).message}): check cameraApiUrl and your network.`,
        );
    }
    const text = await response.text();
    let answer: CameraAnswer | CameraRefusal;
    try {
        answer = JSON.parse(text);
    } catch {
        throw new CliError(
            `The camera API answered ${response.status} with no JSON (${text.slice(0, 120)}): is ${apiUrl} the stack's cameraApiUrl?`,
        );
    }
    if (response.status === 403) {
        const detail = (answer as { message?: string }).message ?? text.slice(0, 200);
        throw new CliError(
            `The camera API refused the request (403: ${detail}): your credentials need execute-api:Invoke on the route; attach the stack output cameraInvokePolicyArn to your user or role.`,
        );
    }
    if (response.status >= 400 && "error" in answer) throw new InputError(`${answer.error} (${response.status})`);
    return { status: response.status, answer };
}
