import { Command, CommanderError, Option } from "commander";
import packageJson from "../package.json";
import { AwsClients, CliContext } from "./context";
import { CliError, EXIT } from "./errors";
import { STACK_NAMES, StackOptions, StackResolver } from "./aws/stack";
import { COMMANDS, Positional } from "./commandTable";

export interface CliIO {
    readonly out: (text: string) => void;
    readonly err: (text: string) => void;
    /** stdout is a terminal (default false: output for pipes and files). */
    readonly interactive?: boolean;
}

/** Line output, with a progress line on a terminal that the next line or progress replaces. */
function lineOutput(io: CliIO): Pick<CliContext, "out" | "err" | "progress" | "interactive"> {
    const clear = "\r\x1b[2K";
    let progressShown = false;
    const endProgress = () => {
        if (progressShown) io.out(clear);
        progressShown = false;
    };
    return {
        interactive: io.interactive === true,
        out: (text) => (endProgress(), io.out(`${text}\n`)),
        err: (text) => (endProgress(), io.err(`${text}\n`)),
        progress: (text) => {
            if (!io.interactive) return;
            if (text === undefined) return endProgress();
            io.out(`${clear}${text}`);
            progressShown = true;
        },
    };
}

function examples(...lines: string[]): string {
    return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

/** One command of the table: its options, its examples, and its action. */
function addCommand(
    program: Command,
    spec: (typeof COMMANDS)[number],
    run: (action: (context: CliContext) => Promise<void>, command: Command) => Promise<void>,
): void {
    const command = program.command(spec.usage).description(spec.description);
    for (const o of spec.options) {
        const option = new Option(o.flags, o.description);
        if (o.parse) option.argParser(o.parse);
        if (o.choices) option.choices(o.choices);
        if (o.default !== undefined) option.default(o.default);
        command.addOption(option);
    }
    command.addHelpText(
        "after",
        `${examples(...spec.examples)}\nThe stack's names (--stack, --training-bucket, …) work with every command: bootboots --help lists them.\n`,
    );
    // commander hands the positional arguments, then the options, then the command itself.
    command.action((...received: unknown[]) => {
        const self = received.pop() as Command;
        const options = received.pop();
        return run((context) => spec.run(context, received as Positional[], options), self);
    });
}

function buildProgram(
    io: CliIO,
    run: (action: (context: CliContext) => Promise<void>, command: Command) => Promise<void>,
): Command {
    const program = new Command("bootboots")
        .description(
            "Train, watch, compare, deploy and use the BootBoots cat classifier, using the names from `pulumi stack output`.",
        )
        .version(packageJson.version, "--version", "print the version")
        .option("--stack <name>", "the Pulumi stack to read outputs from (default: the selected stack)");
    for (const source of Object.values(STACK_NAMES)) {
        const arg = "arg" in source ? source.arg : "name";
        program.addOption(
            new Option(
                `${source.flag} <${arg}>`,
                `instead of the stack output ${source.output} (or set ${source.env})`,
            ),
        );
    }
    program.addHelpText(
        "after",
        examples(
            "npx bootboots train --epochs 30",
            "npx bootboots status --watch",
            "npx bootboots compare",
            "npx bootboots deploy",
            "npx bootboots classify garden-cam/*.jpg",
            "BOOTBOOTS_ENDPOINT=bootboots npx bootboots classify cat.jpg --json",
        ) +
            `\nExit codes: ${EXIT.ok} success, ${EXIT.failed} failure (one sentence says why), ${EXIT.usage} usage error, ${EXIT.partial} done but some images failed.\n`,
    );

    for (const spec of COMMANDS) addCommand(program, spec, run);

    for (const command of [program, ...program.commands]) {
        command
            .exitOverride()
            .configureOutput({ writeOut: io.out, writeErr: io.err })
            // A usage error is one line and a pointer to the help, not the whole help.
            .showHelpAfterError(`(see 'bootboots ${command === program ? "" : `${command.name()} `}--help')`);
    }
    return program;
}

/** Runs the command line and returns its exit code (EXIT). */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
    const program = buildProgram(io, async (action, command) => {
        const globals = command.optsWithGlobals() as StackOptions;
        await action({ ...lineOutput(io), stack: new StackResolver(globals), aws: new AwsClients() });
    });
    try {
        await program.parseAsync([...argv], { from: "user" });
        return EXIT.ok;
    } catch (error) {
        if (error instanceof CommanderError) {
            // Help and --version end the same way as a success; anything else commander refuses is a usage error.
            return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
        }
        if (error instanceof CliError) {
            io.err(`error: ${error.message}\n`);
            return error.exitCode;
        }
        io.err(`error: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
        return EXIT.failed;
    }
}
