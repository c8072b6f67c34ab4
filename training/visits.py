"""Decisions per visit: a cat's few minutes in the garden are several frames, and the promise
"the mist fires on Boots and never on our own cats" is kept or broken per visit.

A visit is what data prep's manifest says it is (lib/visits.ts: the frames of one camera taken
at most visitGapMinutes apart). Three rules decide on a visit's frames in capture order, each
acting at the first frame where it holds:
- visit: the mean target probability over the visit's last k frames reaches t (k and t chosen
  on the validation visits);
- frame: one frame's target probability reaches the per-frame threshold;
- firmware: one frame's most likely class is the target with a probability of at least 0.80
  (the camera's own rule before this project).

numpy only, so that the rules are tested without TensorFlow.
"""

import json

import numpy as np
from evaluation import decision_threshold, unresolved_limit, wilson_interval

VISIT_RULE_KIND = "window_mean"
RULES = ("visit", "frame", "firmware")


def read_manifest(folder):
    """Each dataset file name's visit and capture time, from the manifest channel; {} without one.

    Args:
        folder: the manifest channel's folder (a Path), or None.

    Returns:
        file name -> {"visit": id or None, "captured_at": ISO time or None}.
    """
    path = folder / "manifest.json" if folder else None
    if path is None or not path.is_file():
        return {}
    images = json.loads(path.read_text()).get("images", [])
    return {
        image["key"].rsplit("/", 1)[-1]: {
            # Datasets built before lib/visits.ts named the visit `group`.
            "visit": image.get("visit") or image.get("group"),
            "captured_at": image.get("capturedAt"),
        }
        for image in images
    }


def group_visits(names, labels, probabilities, frame_info):
    """The frames of each visit, in capture order.

    Args:
        names: the file name of each frame.
        labels: the class index of each frame.
        probabilities: one row of class probabilities per frame.
        frame_info: read_manifest's answer; a frame it does not name is a visit of its own.

    Returns:
        A list of visits, each {"visit", "label", "frames" (names), "probabilities" (rows)}.
    """
    members = {}
    for index, name in enumerate(names):
        info = frame_info.get(name, {})
        key = (info.get("visit") or name, int(labels[index]))
        members.setdefault(key, []).append((info.get("captured_at") or "", name, index))
    visits = []
    for (visit, label), frames in sorted(members.items()):
        frames.sort()
        order = [index for _, _, index in frames]
        visits.append(
            {
                "visit": visit,
                "label": label,
                "frames": [name for _, name, _ in frames],
                "probabilities": np.asarray(probabilities)[order],
            }
        )
    return visits


def window_means(target_probabilities, frames):
    """At each frame, the mean target probability over the visit's last `frames` frames so far.

    Summed left to right in float64, as the infer Lambda sums them (lib/visits.ts windowMean), so
    that a score equal to the threshold here is equal there too."""
    values = [float(v) for v in target_probabilities]
    means = []
    for end in range(len(values)):
        window = values[max(0, end - frames + 1) : end + 1]
        total = 0.0
        for value in window:
            total += value
        means.append(total / len(window))
    return np.array(means)


def first_frame(holds):
    """The 0-based index of the first frame where a rule holds, or None."""
    hits = np.flatnonzero(holds)
    return int(hits[0]) if len(hits) else None


def acted_at(visit, rule, target, settings):
    """Where a rule acts on a visit: the 0-based index of the frame, or None.

    Args:
        visit: one of group_visits' visits.
        rule: "visit", "frame" or "firmware".
        target: the target class's index.
        settings: {"visit_rule": {"frames", "threshold"}, "frame_threshold", "firmware_min_confidence"}.
    """
    probabilities = visit["probabilities"]
    scores = probabilities[:, target]
    if rule == "visit":
        chosen = settings["visit_rule"]
        return first_frame(window_means(scores, chosen["frames"]) >= chosen["threshold"])
    if rule == "frame":
        return first_frame(scores >= settings["frame_threshold"])
    most_likely = probabilities.argmax(axis=1) == target
    return first_frame(most_likely & (scores >= settings["firmware_min_confidence"]))


def visit_scores(visits, target, frames):
    """Each visit's score under the window rule: its highest window mean (it acts iff score >= t)."""
    return np.array([window_means(v["probabilities"][:, target], frames).max() for v in visits])


def choose_visit_rule(visits, target, max_false_alarm_rate, windows):
    """The window and threshold with the highest target-visit recall whose non-target visits acted on stay
    within the limit; a tie goes to the shorter window, which acts sooner.

    Args:
        visits: the validation visits.
        target: the target class's index.
        max_false_alarm_rate: the share of non-target visits that may be acted on.
        windows: the window lengths (frames) to try.

    Returns:
        {"kind", "frames", "threshold"}.
    """
    is_target = np.array([v["label"] == target for v in visits])
    best = None
    for frames in windows:
        scores = visit_scores(visits, target, frames)
        threshold = decision_threshold(scores, is_target, max_false_alarm_rate)
        recall = float((scores[is_target] >= threshold).mean()) if is_target.any() else 0.0
        if best is None or recall > best[0]:
            best = (recall, {"kind": VISIT_RULE_KIND, "frames": int(frames), "threshold": float(threshold)})
    return best[1]


def visit_figures(visits, acted, target):
    """One rule's figures over visits, each with its counts and 95 % Wilson interval.

    Args:
        visits: the visits.
        acted: where the rule acted on each visit (index or None).
        target: the target class's index.

    Returns:
        recall (target visits acted on), false alarms (other visits acted on), and the median
        number of frames until it acted on a target visit (None when it never did).
    """
    is_target = np.array([v["label"] == target for v in visits], dtype=bool)
    did = np.array([a is not None for a in acted], dtype=bool)
    hits, targets = int((did & is_target).sum()), int(is_target.sum())
    alarms, others = int((did & ~is_target).sum()), int((~is_target).sum())
    frames_to_act = [a + 1 for a, t in zip(acted, is_target, strict=True) if t and a is not None]
    return {
        "recall": hits / targets if targets else None,
        "recall_counts": [hits, targets],
        "recall_interval": wilson_interval(hits, targets),
        "false_alarm_rate": alarms / others if others else None,
        "false_alarm_counts": [alarms, others],
        "false_alarm_interval": wilson_interval(alarms, others),
        "median_frames_to_act": float(np.median(frames_to_act)) if frames_to_act else None,
    }


def rule_figures(visits, target, settings):
    """Where each rule acted on each visit, and each rule's figures."""
    acted = {rule: [acted_at(v, rule, target, settings) for v in visits] for rule in RULES}
    return acted, {rule: visit_figures(visits, acted[rule], target) for rule in RULES}


def visit_entries(visits, acted, classes, target, frames):
    """One entry per visit for evaluation.json: its id, class, frames in order, where each rule acted,
    and its score under the chosen window."""
    scores = visit_scores(visits, target, frames) if visits else []
    return [
        {
            "visit": v["visit"],
            "class": classes[v["label"]],
            "frames": v["frames"],
            "acted_at": {rule: acted[rule][i] for rule in RULES},
            "score": float(scores[i]),
        }
        for i, v in enumerate(visits)
    ]


def unresolved_visit_limit(visits, target, max_false_alarm_rate):
    """Why the per-visit limit cannot be checked on so few non-target validation visits, or None."""
    others = sum(1 for v in visits if v["label"] != target)
    return unresolved_limit(others, max_false_alarm_rate, unit="visits")
