/** Waiting between tries: the one `sleep`, and exponential back-off. */

export function sleep(ms: number): Promise<void> {
    return new Promise((done) => setTimeout(done, ms));
}

/** The wait before the n-th retry (1-based): `first`, doubled each retry, at most `most`. */
export function backoffMs(retry: number, first: number, most = Number.POSITIVE_INFINITY): number {
    return Math.min(most, first * 2 ** (retry - 1));
}
