import type { QueueFile } from "./queueSession";
/** Where a suspect label's prediction came from: a job's held-out answers, or the endpoint on a training image. */
export type ReviewSource = "validation" | "test" | "training";

/** A labelled image the model confidently disagrees with. */
export interface ReviewItem {
    /** The image in the images bucket. */
    readonly key: string;
    /** Its catadata row. */
    readonly rowName: string;
    /** The label the dataset had (the row's `cat` then). */
    readonly label: string;
    /** The model's likeliest class, and its probability. */
    readonly guess: string;
    readonly confidence: number;
    /** The model's probability of the label. */
    readonly labelProbability: number;
    readonly top3: readonly { className: string; probability: number }[];
    readonly source: ReviewSource;
}

/** What `bootboots review` writes and `bootboots label --review` works through. */
export interface ReviewQueue extends QueueFile {
    /** The job whose answers were read, and the dataset they are on. */
    readonly trainingJob: string;
    readonly datasetId: string;
    /** Most suspect first. */
    readonly items: readonly ReviewItem[];
}

/** A labelled image and the model's probabilities for it, in `classes` order. */
export interface LabelledAnswer {
    readonly key: string;
    readonly rowName: string;
    readonly label: string;
    readonly probabilities: readonly number[];
    readonly source: ReviewSource;
}

/** A guess at or above this probability, against the label, makes the label suspect (default of --min-confidence). */
export const DEFAULT_MIN_CONFIDENCE = 0.6;

/**
 * The suspect labels: the model's likeliest class is not the label, at `minConfidence` or
 * more. Most suspect first: the guess's probability minus the label's, so an image the model
 * is sure is something else, and gives its label almost nothing, comes first.
 */
export function suspectLabels(
    answers: readonly LabelledAnswer[],
    classes: readonly string[],
    minConfidence = DEFAULT_MIN_CONFIDENCE,
): ReviewItem[] {
    const items: ReviewItem[] = [];
    for (const answer of answers) {
        const best = answer.probabilities.indexOf(Math.max(...answer.probabilities));
        const guess = classes[best];
        const labelIndex = classes.indexOf(answer.label);
        if (guess === answer.label || answer.probabilities[best] < minConfidence) continue;
        items.push({
            key: answer.key,
            rowName: answer.rowName,
            label: answer.label,
            guess,
            confidence: answer.probabilities[best],
            labelProbability: labelIndex >= 0 ? answer.probabilities[labelIndex] : 0,
            top3: answer.probabilities
                .map((probability, i) => ({ className: classes[i], probability }))
                .sort((a, b) => b.probability - a.probability)
                .slice(0, 3),
            source: answer.source,
        });
    }
    return items.sort(
        (a, b) => b.confidence - b.labelProbability - (a.confidence - a.labelProbability) || (a.key < b.key ? -1 : 1),
    );
}
