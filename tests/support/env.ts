/**
 * Sets environment variables for a suite and returns what puts back exactly those: their
 * earlier values, or their absence. Nothing else in `process.env` is touched, so a suite
 * never removes what another suite (or the shared moto) set.
 */
export function setEnv(variables: Record<string, string>): () => void {
    const previous = Object.fromEntries(Object.keys(variables).map((key) => [key, process.env[key]]));
    Object.assign(process.env, variables);
    return () => {
        for (const [key, value] of Object.entries(previous)) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
    };
}
