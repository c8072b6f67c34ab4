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
