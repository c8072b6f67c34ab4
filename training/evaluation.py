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


def unresolved_limit(others, max_false_alarm_rate):
    """Why the false-alarm limit cannot be checked on so few non-target images, or None when it can."""
    if max_false_alarm_rate <= 0:
        return None
    needed = int(np.ceil(1 / max_false_alarm_rate - 1e-9))
    if others >= needed:
        return None
    return (
        f"the validation set has {others} non-target images, fewer than 1 / max_false_alarm_rate = {needed}: "
        f"a false-alarm rate of {max_false_alarm_rate:g} cannot be told from none seen; "
        "label more images of the other classes"
    )
