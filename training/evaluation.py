"""The evaluation rules: the per-class report, the alarm rates and the decision threshold.
numpy only, so that they are tested without TensorFlow.
"""

import numpy as np


def classification_report(labels, predicted, classes):
    """Accuracy, macro-F1, per-class precision, recall and F1, and the confusion matrix (rows: true class)."""
    k = len(classes)
    matrix = np.zeros((k, k), dtype=int)
    for true, guess in zip(labels, predicted, strict=True):
        matrix[true, guess] += 1
    per_class = {}
    for i, name in enumerate(classes):
        tp = int(matrix[i, i])
        predicted_i = int(matrix[:, i].sum())
        support = int(matrix[i, :].sum())
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return {
        "accuracy": float(np.trace(matrix) / matrix.sum()),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "classes": list(classes),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_rows": "true class",
        "images": int(matrix.sum()),
    }


def evaluation_table(report):
    classes = report["classes"]
    width = max(len(c) for c in classes) + 2
    lines = [f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name in classes:
        c = report["per_class"][name]
        lines.append(f"{name:<{width}}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}{c['support']:>10d}")
    lines.append("confusion matrix (rows = true class, columns = predicted):")
    lines.append(" " * width + "".join(f"{c[:7]:>8}" for c in classes))
    for name, row in zip(classes, report["confusion_matrix"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>8d}" for n in row))
    return "\n".join(lines)


def alarm_rates(target_probabilities, is_target, threshold):
    """Recall of the target class and the false-alarm rate at a threshold.

    The false-alarm rate is the share of the other images called the target."""
    called = target_probabilities >= threshold
    recall = float(called[is_target].mean()) if is_target.any() else 0.0
    false_alarm = float(called[~is_target].mean()) if (~is_target).any() else 0.0
    return recall, false_alarm


def decision_threshold(target_probabilities, is_target, max_false_alarm_rate):
    """The lowest threshold, among the scores seen, whose false-alarm rate stays within the limit.

    An image is called the target when its target probability is at or above the threshold.
    Above every score nothing is called the target, so a threshold always exists.
    """
    negatives = np.sort(target_probabilities[~is_target])
    for candidate in np.unique(target_probabilities):
        false_alarms = len(negatives) - np.searchsorted(negatives, candidate, side="left")
        if not len(negatives) or false_alarms / len(negatives) <= max_false_alarm_rate:
            return float(candidate)
    return float(np.nextafter(np.float32(target_probabilities.max()), np.float32(2)))


# The 95 % two-sided normal quantile.
Z_95 = 1.959963984540054


def wilson_interval(hits, of, z=Z_95):
    """The Wilson score interval of a proportion hits/of (95 % by default); [0, 1] when of is 0.

    Chosen over the normal approximation because it stays inside [0, 1] and is honest at 0/n
    and n/n, which is where a false-alarm rate on a few dozen images sits."""
    if of == 0:
        return [0.0, 1.0]
    p = hits / of
    centre = (p + z * z / (2 * of)) / (1 + z * z / of)
    half = z * np.sqrt(p * (1 - p) / of + z * z / (4 * of * of)) / (1 + z * z / of)
    # At 0/n and n/n the bound is exactly 0 or 1; rounding would leave 1e-17.
    low = 0.0 if hits == 0 else float(max(0.0, centre - half))
    high = 1.0 if hits == of else float(min(1.0, centre + half))
    return [low, high]


def decision_figures(side, target_probabilities, is_target, threshold):
    """The target's recall and false-alarm rate on one side at the threshold, with counts and Wilson intervals."""
    called = target_probabilities >= threshold
    hits, targets = int(called[is_target].sum()), int(is_target.sum())
    alarms, others = int(called[~is_target].sum()), int((~is_target).sum())
    return {
        f"{side}_recall_counts": [hits, targets],
        f"{side}_recall_interval": wilson_interval(hits, targets),
        f"{side}_false_alarm_rate_counts": [alarms, others],
        f"{side}_false_alarm_rate_interval": wilson_interval(alarms, others),
    }


F1_BOOTSTRAP_RESAMPLES = 1000


def add_intervals(report, labels, predicted):
    """Adds to each class of a report its 95 % intervals: Wilson for precision and recall, and for F1
    (a ratio of counts with no closed form) the 2.5th and 97.5th percentiles of a seeded bootstrap
    over the images."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    matrix = np.array(report["confusion_matrix"])
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(labels), (F1_BOOTSTRAP_RESAMPLES, len(labels)))
    true, guess = labels[samples], predicted[samples]
    for i, name in enumerate(report["classes"]):
        entry = report["per_class"][name]
        entry["precision_interval"] = wilson_interval(int(matrix[i, i]), int(matrix[:, i].sum()))
        entry["recall_interval"] = wilson_interval(int(matrix[i, i]), int(matrix[i, :].sum()))
        tp = ((true == i) & (guess == i)).sum(axis=1)
        # F1 = 2 TP / (2 TP + FP + FN); a resample without the class either way counts 0.
        denominator = (true == i).sum(axis=1) + (guess == i).sum(axis=1)
        f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
        entry["f1_interval"] = [float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5))]
    report["interval_method"] = "Wilson score, 95 % (precision, recall); bootstrap percentiles, 95 % (F1)"
    return report


def unresolved_limit(others, max_false_alarm_rate, unit="images"):
    """Why the false-alarm limit cannot be checked on so few non-target images (or visits), or None when it can."""
    if max_false_alarm_rate <= 0:
        return None
    needed = int(np.ceil(1 / max_false_alarm_rate - 1e-9))
    if others >= needed:
        return None
    return (
        f"the validation set has {others} non-target {unit}, fewer than 1 / max_false_alarm_rate = {needed}: "
        f"a false-alarm rate of {max_false_alarm_rate:g} cannot be told from none seen; "
        f"label more {unit} of the other classes"
    )


# Two images whose pooled features are at least this similar (cosine) are near-copies.
NEAR_COPY_SIMILARITY = 0.95
NEAR_COPY_PAIRS_SHOWN = 5


def near_copies(training_features, training_names, test_features, test_names):
    """How many test images have a near-copy in training, and the closest pairs.

    A test image's nearest training image by cosine similarity of the features; it is a
    near-copy at NEAR_COPY_SIMILARITY or more. Frames of one visit that straddle the split
    show here: the test figures then measure memory, not recognition."""

    def unit(rows):
        rows = np.asarray(rows, dtype=np.float64)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)

    similarity = unit(test_features) @ unit(training_features).T
    nearest = similarity.argmax(axis=1)
    best = similarity[np.arange(len(test_names)), nearest]
    order = np.argsort(-best, kind="stable")[:NEAR_COPY_PAIRS_SHOWN]
    return {
        "min_similarity": NEAR_COPY_SIMILARITY,
        "measure": "cosine similarity of the trained model's pooled features",
        "test_images": len(test_names),
        "with_near_copy": int((best >= NEAR_COPY_SIMILARITY).sum()),
        "closest": [
            {"test": test_names[i], "training": training_names[nearest[i]], "similarity": float(best[i])} for i in order
        ],
    }
