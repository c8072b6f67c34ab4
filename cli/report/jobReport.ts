import { createHash } from "crypto";
import {
    VISIT_RULES,
    type Decision,
    type NearCopies,
    type PerClassFigures,
    type VisitEvaluation,
    type VisitRule,
} from "../../lib/jobOutput";
import { countsInWords, visitPromise } from "../../lib/visitPromise";
import { VISIT_RULE_NAMES, decisionLines, nearCopyLine } from "../format";

/** An image's target-class probability, and whether it is of the target class. */
export interface TargetScore {
    readonly probability: number;
    readonly isTarget: boolean;
}

/** A test image the model got wrong, with its bytes when they could be read. */
export interface WrongImage {
    /** The dataset file name, as evaluation.json names it. */
    readonly name: string;
    readonly label: string;
    readonly top3: readonly { className: string; probability: number }[];
    readonly jpeg?: Uint8Array;
}

/** One earlier (or this) job in the history chart. */
export interface JobPoint {
    readonly job: string;
    /** Test F1 per class. */
    readonly f1: Readonly<Record<string, number>>;
    /** Training images per class in the job's dataset. */
    readonly trainingImages: Readonly<Record<string, number>>;
}

/** What the report shows: one job's test evaluation, its decision, the jobs before it and its mistakes. */
export interface JobReport {
    readonly job: string;
    readonly datasetId?: string;
    readonly classes: readonly string[];
    readonly confusionMatrix: readonly (readonly number[])[];
    readonly perClass: Readonly<Record<string, PerClassFigures>>;
    readonly intervalMethod?: string;
    readonly accuracy: number;
    readonly macroF1: number;
    readonly decision?: Decision;
    /** The target class's probability and whether the image is of it: each test image, and each validation one (jobs since review). */
    readonly targetScores: { readonly test: readonly TargetScore[]; readonly validation?: readonly TargetScore[] };
    readonly nearCopies?: NearCopies;
    /** Per visit (jobs since visits): the three rules' figures, the visit rule, and each visit's score and whether it was the target's. */
    readonly visits?: {
        readonly figures: VisitEvaluation;
        readonly rule: VisitRule;
        readonly scores: { readonly validation: readonly TargetScore[]; readonly test: readonly TargetScore[] };
    };
    /** Oldest first; the report's job among them. */
    readonly history: readonly JobPoint[];
    /** The mistakes shown (capped), most confident first, and how many there were. */
    readonly wrong: readonly WrongImage[];
    readonly wrongTotal: number;
    readonly generatedAt: string;
}

/** At most this many mistakes are embedded, so that the file stays a few megabytes. */
export const MAX_WRONG_SHOWN = 60;

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"];

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 0.7rem; text-align: right; border-bottom: 1px solid #eee; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; } .warn { color: #a40; } .promise { font-size: 1.1rem; font-weight: 600; }
.thumbs { display: flex; flex-wrap: wrap; gap: 0.8rem; }
figure { margin: 0; width: 10rem; font-size: 12px; } figure img { width: 10rem; height: 7.5rem; object-fit: cover; background: #eee; }
.missing { width: 10rem; height: 7.5rem; background: #eee; display: flex; align-items: center; justify-content: center; }
svg text { font: 12px system-ui, sans-serif; }
`;

/** Text for HTML and SVG: names come from S3 and the labels table, so nothing is taken as markup. */
export function escapeHtml(text: string): string {
    return text.replace(
        /[&<>"']/g,
        (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
    );
}

const fixed = (value: number, digits = 3) => value.toFixed(digits);
const withInterval = (value: number, interval?: readonly [number, number]) =>
    interval
        ? `${fixed(value)} <span class="note">(${fixed(interval[0], 2)}–${fixed(interval[1], 2)})</span>`
        : fixed(value);

/** The confusion matrix as a heat map: each cell shaded by its share of the true class's images. */
export function confusionHeatMap(classes: readonly string[], matrix: readonly (readonly number[])[]): string {
    const cell = 46;
    const left = 80;
    const top = 70;
    const size = cell * classes.length;
    const parts: string[] = [];
    classes.forEach((name, i) => {
        parts.push(
            `<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${escapeHtml(name)}</text>`,
            `<text transform="translate(${left + i * cell + cell / 2 + 4},${top - 8}) rotate(-45)">${escapeHtml(name)}</text>`,
        );
        const rowTotal = matrix[i].reduce((a, b) => a + b, 0);
        matrix[i].forEach((count, j) => {
            const share = rowTotal ? count / rowTotal : 0;
            const shade = Math.round(255 - share * 200);
            parts.push(
                `<rect class="cell" x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" ` +
                    `fill="rgb(${shade},${shade},255)" stroke="#fff"><title>${escapeHtml(name)} as ${escapeHtml(classes[j])}: ${count}</title></rect>`,
                `<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.55 ? "#fff" : "#222"}">${count}</text>`,
            );
        });
    });
    parts.push(
        `<text x="${left + size / 2}" y="${top + size + 24}" text-anchor="middle">predicted class</text>`,
        `<text transform="translate(14,${top + size / 2}) rotate(-90)" text-anchor="middle">true class</text>`,
    );
    return `<svg id="confusion" role="img" aria-label="test confusion matrix" width="${left + size + 10}" height="${top + size + 34}">${parts.join("")}</svg>`;
}

/** Target recall and false-alarm rate at every threshold (a step at each score), for the curve. */
export function thresholdCurve(
    scores: readonly TargetScore[],
): { threshold: number; recall: number; falseAlarmRate: number }[] {
    const targets = scores.filter((s) => s.isTarget).length;
    const others = scores.length - targets;
    const thresholds = [...new Set([0, ...scores.map((s) => s.probability), 1])].sort((a, b) => a - b);
    return thresholds.map((threshold) => {
        const called = scores.filter((s) => s.probability >= threshold);
        const hits = called.filter((s) => s.isTarget).length;
        return {
            threshold,
            recall: targets ? hits / targets : 0,
            falseAlarmRate: others ? (called.length - hits) / others : 0,
        };
    });
}

interface Axes {
    readonly width: number;
    readonly height: number;
    readonly left: number;
    readonly bottom: number;
    readonly xMax: number;
    readonly yMax: number;
}
const xOf = (a: Axes, x: number) => a.left + (x / a.xMax) * (a.width - a.left - 20);
const yOf = (a: Axes, y: number) => a.height - a.bottom - (y / a.yMax) * (a.height - a.bottom - 20);

function axes(a: Axes, xLabel: string, yLabel: string, xTicks: readonly number[], format = (x: number) => `${x}`) {
    const parts = [
        `<line x1="${a.left}" y1="${yOf(a, 0)}" x2="${xOf(a, a.xMax)}" y2="${yOf(a, 0)}" stroke="#444"/>`,
        `<line x1="${a.left}" y1="${yOf(a, 0)}" x2="${a.left}" y2="${yOf(a, a.yMax)}" stroke="#444"/>`,
    ];
    for (const tick of xTicks)
        parts.push(
            `<text x="${xOf(a, tick)}" y="${yOf(a, 0) + 16}" text-anchor="middle">${format(tick)}</text>`,
            `<line x1="${xOf(a, tick)}" y1="${yOf(a, 0)}" x2="${xOf(a, tick)}" y2="${yOf(a, 0) + 4}" stroke="#444"/>`,
        );
    for (const tick of [0, 0.25, 0.5, 0.75, 1])
        parts.push(
            `<text x="${a.left - 6}" y="${yOf(a, tick * a.yMax) + 4}" text-anchor="end">${tick * a.yMax}</text>`,
            `<line x1="${a.left}" y1="${yOf(a, tick * a.yMax)}" x2="${xOf(a, a.xMax)}" y2="${yOf(a, tick * a.yMax)}" stroke="#eee"/>`,
        );
    parts.push(
        `<text x="${(a.left + a.width) / 2}" y="${a.height - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
        `<text transform="translate(14,${(a.height - a.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
    );
    return parts.join("");
}

const polyline = (a: Axes, points: readonly [number, number][], colour: string, attributes = "") =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" ${attributes} points="${points
        .map(([x, y]) => `${xOf(a, x).toFixed(1)},${yOf(a, y).toFixed(1)}`)
        .join(" ")}"/>`;

function legend(entries: readonly [string, string][], x: number, y: number): string {
    return entries
        .map(
            ([label, colour], i) =>
                `<rect x="${x}" y="${y + i * 18 - 9}" width="12" height="12" fill="${colour}"/><text x="${x + 18}" y="${y + i * 18 + 2}">${escapeHtml(label)}</text>`,
        )
        .join("");
}

/** What a threshold chart marks: the chosen threshold, the false-alarm limit, and the target's name. */
interface ChartMarks {
    readonly threshold: number;
    readonly limit: number;
    readonly targetClass: string;
}

/** A frame decision's marks on the per-frame chart. */
const frameMarks = (d: Decision | undefined): ChartMarks | undefined =>
    d && { threshold: d.threshold, limit: d.max_false_alarm_rate, targetClass: d.target_class };

/** The chosen threshold and the false-alarm limit, as dashed lines with their labels. */
function markLines(a: Axes, m: ChartMarks): string[] {
    return [
        `<line class="chosen-threshold" x1="${xOf(a, m.threshold)}" y1="${yOf(a, 0)}" x2="${xOf(a, m.threshold)}" y2="${yOf(a, 1)}" stroke="#333" stroke-dasharray="5 3"/>`,
        `<text x="${xOf(a, m.threshold) + 4}" y="${yOf(a, 1) + 12}">chosen ${fixed(m.threshold)}</text>`,
        `<line class="false-alarm-limit" x1="${a.left}" y1="${yOf(a, m.limit)}" x2="${xOf(a, 1)}" y2="${yOf(a, m.limit)}" stroke="${PALETTE[1]}" stroke-dasharray="2 3"/>`,
        `<text x="${xOf(a, 1) - 4}" y="${yOf(a, m.limit) - 4}" text-anchor="end">limit ${m.limit}</text>`,
    ];
}

/**
 * Recall and false-alarm rate of the target class against the threshold on one side, the chosen
 * threshold and the limit marked: per image (the frame's probability) or per visit (its score).
 */
export function thresholdChart(
    scores: readonly TargetScore[],
    marks: ChartMarks | undefined,
    side: "validation" | "test",
    unit: "images" | "visits" = "images",
): string {
    const a: Axes = { width: 640, height: 320, left: 50, bottom: 40, xMax: 1, yMax: 1 };
    const curve = thresholdCurve(scores);
    // A step curve: each figure holds from one threshold to the next.
    const steps = (figure: (p: (typeof curve)[number]) => number) =>
        curve.flatMap((p, i): [number, number][] =>
            i + 1 < curve.length
                ? [
                      [p.threshold, figure(p)],
                      [curve[i + 1].threshold, figure(p)],
                  ]
                : [[p.threshold, figure(p)]],
        );
    const parts = [
        axes(
            a,
            unit === "images" ? "threshold on the target probability" : "threshold on the visit's score",
            `share of ${unit}`,
            [0, 0.25, 0.5, 0.75, 1],
        ),
        polyline(
            a,
            steps((p) => p.recall),
            PALETTE[0],
            'class="recall-curve"',
        ),
        polyline(
            a,
            steps((p) => p.falseAlarmRate),
            PALETTE[1],
            'class="false-alarm-curve"',
        ),
    ];
    const m = marks;
    if (m) parts.push(...markLines(a, m));
    const target = m?.targetClass ?? "target";
    parts.push(
        legend(
            unit === "images"
                ? [
                      [`${target} recall`, PALETTE[0]],
                      ["false-alarm rate", PALETTE[1]],
                  ]
                : [
                      [`${target} visits acted on`, PALETTE[0]],
                      ["other visits acted on", PALETTE[1]],
                  ],
            a.width - 190,
            a.height / 2,
        ),
    );
    const id = unit === "images" ? `threshold-${side}` : `visits-${side}`;
    return `<svg id="${id}" role="img" aria-label="recall and false-alarm rate per ${unit === "images" ? "image" : "visit"} against the threshold (${side})" width="${a.width}" height="${a.height}">${parts.join("")}</svg>`;
}

/** Test F1 of each class against its training images, one line per class through the jobs in order. */
export function labelledEnoughChart(classes: readonly string[], history: readonly JobPoint[]): string {
    const most = Math.max(1, ...history.flatMap((h) => classes.map((c) => h.trainingImages[c] ?? 0)));
    const step = 10 ** Math.floor(Math.log10(most));
    const xMax = Math.ceil(most / step) * step;
    const a: Axes = { width: 640, height: 340, left: 50, bottom: 40, xMax, yMax: 1 };
    const ticks = Array.from({ length: 5 }, (_, i) => Math.round((xMax * i) / 4));
    const parts = [axes(a, "training images of the class", "test F1", ticks)];
    classes.forEach((name, i) => {
        const colour = PALETTE[i % PALETTE.length];
        const points = history
            .filter((h) => name in h.f1 && name in h.trainingImages)
            .map((h): [number, number, string] => [h.trainingImages[name], h.f1[name], h.job]);
        if (points.length > 1)
            parts.push(
                polyline(
                    a,
                    points.map(([x, y]) => [x, y]),
                    colour,
                    'opacity="0.6"',
                ),
            );
        for (const [x, y, job] of points)
            parts.push(
                `<circle class="job-point" cx="${xOf(a, x).toFixed(1)}" cy="${yOf(a, y).toFixed(1)}" r="4" fill="${colour}"><title>${escapeHtml(job)}, ${escapeHtml(name)}: ${x} training images, F1 ${fixed(y)}</title></circle>`,
            );
    });
    parts.push(
        legend(
            classes.map((c, i) => [c, PALETTE[i % PALETTE.length]]),
            a.width - 110,
            40,
        ),
    );
    return `<svg id="labelled-enough" role="img" aria-label="test F1 against training images per class" width="${a.width}" height="${a.height}">${parts.join("")}</svg>`;
}

function perClassTable(report: JobReport): string {
    const rows = report.classes.map((name) => {
        const c = report.perClass[name];
        return `<tr><td>${escapeHtml(name)}</td><td>${withInterval(c.precision, c.precision_interval)}</td><td>${withInterval(c.recall, c.recall_interval)}</td><td>${withInterval(c.f1, c.f1_interval)}</td><td>${c.support}</td></tr>`;
    });
    return `<table id="per-class"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${rows.join("")}</table>`;
}

function historyTable(classes: readonly string[], history: readonly JobPoint[]): string {
    const newest = history.at(-1);
    if (!newest) return `<p>No job here has its dataset any more, so there are no training counts to draw.</p>`;
    const before = history.length > 1 ? history[history.length - 2] : undefined;
    const rows = classes.map((name) => {
        const change =
            before && name in before.f1 && name in newest.f1
                ? `${newest.f1[name] - before.f1[name] >= 0 ? "+" : "−"}${fixed(Math.abs(newest.f1[name] - before.f1[name]))}`
                : "-";
        return `<tr><td>${escapeHtml(name)}</td><td>${newest.trainingImages[name] ?? "-"}</td><td>${name in newest.f1 ? fixed(newest.f1[name]) : "-"}</td><td>${change}</td></tr>`;
    });
    return `<table><tr><th>class</th><th>training images</th><th>test F1</th><th>since the job before</th></tr>${rows.join("")}</table>`;
}

function thumbnails(report: JobReport): string {
    if (report.wrongTotal === 0) return `<p>The model got every test image right.</p>`;
    const figures = report.wrong.map((w) => {
        const guesses = w.top3.map((g) => `${escapeHtml(g.className)} ${fixed(g.probability, 2)}`).join(", ");
        const picture = w.jpeg
            ? `<img src="data:image/jpeg;base64,${Buffer.from(w.jpeg).toString("base64")}" alt="${escapeHtml(w.name)}">`
            : `<div class="missing">image not found</div>`;
        return `<figure class="wrong">${picture}<figcaption><b>${escapeHtml(w.label)}</b>, guessed ${guesses}<br><span class="note">${escapeHtml(w.name)}</span></figcaption></figure>`;
    });
    const shown =
        report.wrong.length < report.wrongTotal
            ? `<p class="note">The ${report.wrong.length} most confident of ${report.wrongTotal} mistakes.</p>`
            : "";
    return `${shown}<div class="thumbs">${figures.join("")}</div>`;
}

/** The three rules side by side on the test visits, as an HTML table. */
function visitRulesHtml(figures: VisitEvaluation, targetClass: string): string {
    const test = figures.test;
    if (!test) return "";
    const rows = VISIT_RULES.map(
        (rule) =>
            `<tr><td>${escapeHtml(VISIT_RULE_NAMES[rule])}</td><td>${countsInWords(test[rule].recall_counts, test[rule].recall_interval)}</td>` +
            `<td>${countsInWords(test[rule].false_alarm_counts, test[rule].false_alarm_interval)}</td><td>${test[rule].median_frames_to_act ?? "never"}</td></tr>`,
    );
    return `<table id="visit-rules"><tr><th>rule</th><th>${escapeHtml(targetClass)} visits acted on</th><th>other visits acted on</th><th>frames to act (median)</th></tr>${rows.join("")}</table>`;
}

/** The section per visit: the promise in words, the three rules, and the curves on validation and test. */
function visitSection(report: JobReport): string {
    const v = report.visits;
    if (!v?.figures.test) return "<h2>Per visit</h2><p>This job was trained before decisions per visit.</p>";
    const target = report.decision?.target_class ?? "target";
    const marks = {
        threshold: v.rule.threshold,
        limit: report.decision?.max_false_alarm_rate ?? 0,
        targetClass: target,
    };
    return `<h2>Per visit</h2>
${visitPromise(v.figures.test.visit, target)
    .map((line) => `<p class="promise">${escapeHtml(line)}</p>`)
    .join("\n")}
<p class="note">The visit rule acts at the first frame where the mean ${escapeHtml(target)} probability over the visit's last ${v.rule.frames} frame(s) reaches ${fixed(v.rule.threshold)}; the other two act on one frame. ${escapeHtml(v.figures.interval_method)}.</p>
${v.rule.limit_unresolved ? `<p class="warn">Note: ${escapeHtml(v.rule.limit_unresolved)}.</p>` : ""}
${visitRulesHtml(v.figures, target)}
<p class="note">On the validation visits, where the job chose the threshold:</p>${thresholdChart(v.scores.validation, marks, "validation", "visits")}
<p class="note">On the held-out test visits:</p>${thresholdChart(v.scores.test, marks, "test", "visits")}`;
}

/**
 * One self-contained HTML file: charts drawn here as inline SVG, images embedded as data URLs,
 * no script, and a Content-Security-Policy that lets nothing load from anywhere else.
 */
export function jobReportHtml(report: JobReport): string {
    const styleHash = createHash("sha256").update(STYLE).digest("base64");
    const csp = `default-src 'none'; img-src data:; style-src 'sha256-${styleHash}'`;
    const d = report.decision;
    const title = `BootBoots report: ${report.job}`;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>Dataset ${escapeHtml(report.datasetId ?? "unknown")}. Held-out test set: accuracy ${fixed(report.accuracy)}, macro-F1 ${fixed(report.macroF1)}, ${report.targetScores.test.length} images. Generated ${escapeHtml(report.generatedAt)}.</p>
${
    d
        ? decisionLines(d)
              .map((line) => `<p class="${line.startsWith("Note:") ? "warn" : ""}">${escapeHtml(line)}</p>`)
              .join("\n")
        : "<p>This job has no decision threshold.</p>"
}
${report.nearCopies ? `<p>${escapeHtml(nearCopyLine(report.nearCopies))}</p>` : ""}
${visitSection(report)}
<h2>Confusion matrix (test)</h2>
${confusionHeatMap(report.classes, report.confusionMatrix)}
<h2>Per class (test)</h2>
${perClassTable(report)}
${report.intervalMethod ? `<p class="note">Intervals: ${escapeHtml(report.intervalMethod)}.</p>` : ""}
<h2>Threshold per frame</h2>
${
    report.targetScores.validation
        ? `<p class="note">On validation, where the job chose it:</p>${thresholdChart(report.targetScores.validation, frameMarks(d), "validation")}<p class="note">On the held-out test set:</p>`
        : ""
}
${thresholdChart(report.targetScores.test, frameMarks(d), "test")}
<h2>Have I labelled enough?</h2>
<p class="note">Each class's test F1 against its training images, over the last ${report.history.length} job(s): a line that still climbs says more labels of that cat will help.</p>
${labelledEnoughChart(report.classes, report.history)}
${historyTable(report.classes, report.history)}
<h2>Test images it got wrong</h2>
${thumbnails(report)}
</body></html>
`;
}
