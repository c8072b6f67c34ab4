import { openSecretUrl } from "../browser";
import { CliContext } from "../context";
import { servingJobName } from "../aws/jobs";
import { classKeys } from "../labelling/queueSession";
import { startLabelServer } from "../labelling/server";

/** The keys of the classes, as a range: `1-7`, `1-9, a-c`. */
function keyRange(classes: readonly string[]): string {
    const keys = classKeys(classes);
    const digits = keys.filter((k) => /\d/.test(k));
    const letters = keys.filter((k) => !/\d/.test(k));
    const range = (ks: string[]) => (ks.length > 1 ? `${ks[0]}-${ks.at(-1)}` : ks[0]);
    return [range(digits), ...(letters.length ? [range(letters)] : [])].join(", ");
}

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
    const { classes } = await context.stack.classes();
    const server = await startLabelServer(
        context,
        { classes, trainingBucket, imagesBucket, catadataTable, modelDataUrl: serving?.modelDataUrl },
        options.port,
        options.review ? "review" : "label",
    );
    context.out(`${options.review ? "Review" : "Labelling"} page: ${server.url}`);
    context.out(
        options.review
            ? `Keys: Enter keeps the label, ${keyRange(classes)} or m change it, u undo. Every change goes to catadata at once, only over the label reviewed. Ctrl-C to stop.`
            : `Keys: ${keyRange(classes)} pick the class (${classes.map((c, i) => `${classKeys(classes)[i]} ${c}`).join(", ")}), m more than one cat, s skip, u undo. Every label goes to catadata at once. Ctrl-C to stop.`,
    );
    if (options.open && context.interactive) openSecretUrl(server.url);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    await server.close();
    context.out("Stopped. Next: npx bootboots train");
}
