import { spawn } from "child_process";
import { CliContext } from "../context";
import { servingJobName } from "../jobs";
import { startLabelServer } from "../labelServer";

export interface LabelOptions {
    readonly port: number;
    /** Open the page in the browser (default: when one is available). */
    readonly open: boolean;
}

/** Opens a URL in the desktop's browser, if there is one; quietly does nothing otherwise. */
function openInBrowser(url: string): void {
    const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
    try {
        const child = spawn(opener, [url], { stdio: "ignore", detached: true });
        child.on("error", () => undefined);
        child.unref();
    } catch {
        // No browser here: the printed address is enough.
    }
}

/** Serves the labelling page for the queue of `bootboots suggest` until Ctrl-C. */
export async function label(context: CliContext, options: LabelOptions): Promise<void> {
    const [trainingBucket, imagesBucket, catadataTable] = await Promise.all([
        context.stack.name("trainingBucket"),
        context.stack.name("imagesBucket"),
        context.stack.name("catadataTable"),
    ]);
    const serving = await servingJobName(context);
    const server = await startLabelServer(
        context,
        { trainingBucket, imagesBucket, catadataTable, modelDataUrl: serving?.modelDataUrl },
        options.port,
    );
    context.out(`Labelling page: ${server.url}`);
    context.out(
        "Keys: 1-7 pick the class, m more than one cat, s skip, u undo. Every label goes to catadata at once. Ctrl-C to stop.",
    );
    if (options.open && context.interactive) openInBrowser(server.url);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    await server.close();
    context.out("Stopped. Next: npx bootboots train");
}
