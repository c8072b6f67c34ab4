/** A setting the stack hands a function as an environment variable; missing means a broken deployment. */
export function requiredEnv(env: NodeJS.ProcessEnv, name: string): string {
    const value = env[name];
    if (!value) throw new Error(`Environment variable ${name} is not set: redeploy the stack.`);
    return value;
}
