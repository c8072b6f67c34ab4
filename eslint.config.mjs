// typescript-eslint's recommended rules over the TypeScript sources; the build (tsc) checks types.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "dist/", ".venv/", ".node24/", ".test-output/", "**/*.js", "**/*.mjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        rules: {
            // Unused names are already refused by tsc (noUnusedLocals, noUnusedParameters); `_`-prefixed ones are meant.
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
    {
        // The tests and benchmarks read untyped JSON: AWS requests seen by the proxies and the Pulumi engine's registrations.
        files: ["tests/**/*.ts", "bench/**/*.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
);
