import type { InvokeCommandOutput } from "@aws-sdk/client-lambda";

/**
 * The JSON a synchronous Lambda invocation returned, or the function's own error message
 * when it failed (`FunctionError` set: a throw, a timeout, an out-of-memory).
 */
export function readInvokeResult<T>(
    response: InvokeCommandOutput,
): { result: T } | { functionError: string; detail: string } {
    const text = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
    if (response.FunctionError) {
        let detail = text;
        try {
            detail = JSON.parse(text).errorMessage ?? text;
        } catch {
            // The payload was not JSON; report it as it came.
        }
        return { functionError: response.FunctionError, detail };
    }
    return { result: JSON.parse(text) as T };
}
