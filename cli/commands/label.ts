import { openInBrowser } from "../browser";
import { CliContext } from "../context";
import { servingJobName } from "../aws/jobs";
import { startLabelServer } from "../labelling/server";

export interface LabelOptions {
    readonly port: number;
    /** Open the page in the browser (default: when one is available). */
    readonly open: boolean;
    /** Work through the review queue of suspect labels instead of the labelling queue. */
    readonly review?: boolean;
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
        options.review ? "review" : "label",
    );
    context.out(`${options.review ? "Review" : "Labelling"} page: ${server.url}`);
    context.out(
        options.review
            ? "Keys: Enter keeps the label, 1-7 or m change it, u undo. Every change goes to catadata at once, only over the label reviewed. Ctrl-C to stop."
            : "Keys: 1-7 pick the class, m more than one cat, s skip, u undo. Every label goes to catadata at once. Ctrl-C to stop.",
    );
    if (options.open && context.interactive) openInBrowser(server.url);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    await server.close();
    context.out("Stopped. Next: npx bootboots train");
}
