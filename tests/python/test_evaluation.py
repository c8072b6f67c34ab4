"""The job's pure rules (training/evaluation.py, training/checkpoints.py), run without TensorFlow."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TRAINING = Path(__file__).resolve().parents[2] / "training"
sys.path.insert(0, str(TRAINING))

import evaluation as rule  # noqa: E402
import visits  # noqa: E402
from checkpoints import EarlyStoppingState  # noqa: E402
from evaluation import alarm_rates, classification_report, decision_threshold  # noqa: E402


def test_the_rules_import_no_tensorflow():
    code = (
        f"import sys; sys.path.insert(0, {str(TRAINING)!r}); "
        "import evaluation, checkpoints, visits; print('tensorflow' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_classification_report_counts_by_true_row_and_averages_f1_over_classes():
    report = classification_report([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], ["Boots", "Chi", "NoCat"])
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["per_class"]["Boots"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["per_class"]["Chi"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)


def test_alarm_rates_call_the_target_at_or_above_the_threshold():
    p = np.array([0.9, 0.6, 0.6, 0.2, 0.1])
    is_target = np.array([True, True, False, False, False])
    assert alarm_rates(p, is_target, 0.6) == (1.0, pytest.approx(1 / 3))
    assert alarm_rates(p, is_target, 0.61) == (0.5, 0.0)


def test_decision_threshold_is_the_lowest_score_within_the_false_alarm_limit():
    p = np.array([0.95, 0.8, 0.7, 0.65, 0.3, 0.2, 0.1])
    is_target = np.array([True, True, False, True, False, False, False])
    # At 0.7 one of four others is called Boots (25 %); at 0.8, none.
    assert decision_threshold(p, is_target, 0.0) == pytest.approx(0.8)
    assert decision_threshold(p, is_target, 0.25) == pytest.approx(0.65)
    # No score keeps within the limit: the threshold goes above every score, and nothing acts.
    always = np.array([0.5, 0.5])
    threshold = decision_threshold(always, np.array([False, False]), 0.0)
    assert threshold > 0.5
    assert alarm_rates(always, np.array([False, False]), threshold) == (0.0, 0.0)


def test_early_stopping_counts_patience_once_for_the_job():
    """The rule itself: one record across phases, stopped after `patience` epochs without gain, restored from JSON."""
    import json

    rule = {"min_delta": 0.001, "patience": 2, "enabled": True}
    state = EarlyStoppingState()
    for epoch, value in enumerate([0.5, 0.7, 0.7005], start=1):
        state.update(epoch, value, **rule)
    # A resume, as from a checkpoint: the wait goes on where it was.
    state = EarlyStoppingState.from_json(json.loads(json.dumps(state.to_json())))
    assert (state.best_epoch, state.wait, state.stopped) == (2, 1, False)
    state.update(4, 0.69, **rule)
    assert (state.best_epoch, state.wait, state.stopped) == (2, 2, True)
    assert state.history == [0.5, 0.7, 0.7005, 0.69]


def test_the_decision_threshold_rule():
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    is_target = np.array([True, True, False, True, False, False, False, False, False, False])
    # No false alarm allowed: the lowest score above every other image's, 0.9.
    assert rule.decision_threshold(scores, is_target, 0.0) == pytest.approx(0.9)
    # One in seven allowed: 0.7 calls the 0.8 negative a target (1/7), 0.6 would call two.
    assert rule.decision_threshold(scores, is_target, 1 / 7) == pytest.approx(0.7)
    assert rule.alarm_rates(scores, is_target, 0.7) == pytest.approx((1.0, 1 / 7))
    # A negative scores highest and none may be called: the threshold lies above every score.
    top_negative = np.array([0.99, 0.5]), np.array([False, True])
    assert rule.decision_threshold(*top_negative, 0.0) > 0.99
    assert rule.alarm_rates(*top_negative, rule.decision_threshold(*top_negative, 0.0)) == (0.0, 0.0)


def test_wilson_intervals_stay_within_0_and_1_and_match_the_published_values():
    # 45 of 50: the interval the example gives, 0.79 to 0.96.
    low, high = rule.wilson_interval(45, 50)
    assert (round(low, 4), round(high, 4)) == (0.7864, 0.9565)
    # None of 24 seen: the upper bound stays well above 1 %.
    assert rule.wilson_interval(0, 24)[0] == 0.0
    assert rule.wilson_interval(0, 24)[1] == pytest.approx(0.1380, abs=1e-4)
    assert rule.wilson_interval(7, 7)[1] == 1.0
    assert rule.wilson_interval(0, 0) == [0.0, 1.0]


def test_decision_figures_count_hits_and_alarms_at_the_threshold_and_say_when_the_limit_is_unresolvable():
    probabilities = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.05])
    is_target = np.array([True, True, True, False, False, False])
    figures = rule.decision_figures("validation", probabilities, is_target, 0.75)
    assert figures["validation_recall_counts"] == [2, 3]
    assert figures["validation_false_alarm_rate_counts"] == [0, 3]
    assert figures["validation_recall_interval"] == rule.wilson_interval(2, 3)
    assert rule.unresolved_limit(99, 0.01).startswith("the validation set has 99 non-target images, fewer than")
    assert rule.unresolved_limit(100, 0.01) is None
    assert rule.unresolved_limit(5, 0.0) is None


def test_near_copies_counts_test_images_whose_nearest_training_image_is_at_least_095_similar():
    training = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    # A scaled copy (1.0), one at cos 0.96, one at cos 0.9 and a zero vector (no direction, never a copy).
    test = np.array([[3.0, 0.0, 0.0], [0.96, 0.28, 0.0], [0.0, 0.9, 0.43589], [0.0, 0.0, 0.0]])
    leak = rule.near_copies(training, ["a", "b", "c"], test, ["w", "x", "y", "z"])
    assert leak["test_images"] == 4 and leak["with_near_copy"] == 2
    assert [(p["test"], p["training"]) for p in leak["closest"]] == [("w", "a"), ("x", "a"), ("y", "b"), ("z", "a")]
    assert [round(p["similarity"], 2) for p in leak["closest"]] == [1.0, 0.96, 0.9, 0.0]


def test_each_class_gets_wilson_intervals_for_precision_and_recall_and_a_bootstrap_one_for_f1():
    labels = np.array([0] * 40 + [1] * 10)
    predicted = np.array([0] * 36 + [1] * 4 + [1] * 9 + [0])
    report = rule.add_intervals(classification_report(labels, predicted, ["A", "B"]), labels, predicted)
    b = report["per_class"]["B"]
    # B: 9 of 10 found, 9 of 13 calls right.
    assert b["recall_interval"] == pytest.approx(rule.wilson_interval(9, 10))
    assert b["precision_interval"] == pytest.approx(rule.wilson_interval(9, 13))
    low, high = b["f1_interval"]
    assert low < b["f1"] < high and 0 <= low and high <= 1
    # Seeded: the same images give the same interval.
    again = rule.add_intervals(classification_report(labels, predicted, ["A", "B"]), labels, predicted)
    assert again["per_class"]["B"]["f1_interval"] == b["f1_interval"]
    perfect = rule.add_intervals(classification_report(labels, labels, ["A", "B"]), labels, labels)
    assert perfect["per_class"]["A"]["f1_interval"] == [1.0, 1.0]


def a_visit(label, target_probabilities, name="v"):
    """A visit of two classes' probabilities: the target's as given, the other's the rest."""
    p = np.asarray(target_probabilities, dtype=float)
    frames = [f"{name}-{i}" for i in range(len(p))]
    return {"visit": name, "label": label, "frames": frames, "probabilities": np.c_[p, 1 - p]}


def test_the_window_mean_covers_the_visits_last_frames_so_far():
    np.testing.assert_allclose(visits.window_means([0.2, 0.8, 0.5, 0.9], 1), [0.2, 0.8, 0.5, 0.9])
    np.testing.assert_allclose(visits.window_means([0.2, 0.8, 0.5, 0.9], 2), [0.2, 0.5, 0.65, 0.7])
    np.testing.assert_allclose(visits.window_means([0.2, 0.8, 0.5, 0.9], 3), [0.2, 0.5, 0.5, 0.7333333])


def test_each_rule_acts_at_the_first_frame_where_it_holds():
    settings = {"visit_rule": {"frames": 2, "threshold": 0.6}, "frame_threshold": 0.7, "firmware_min_confidence": 0.8}
    weak_entrance = a_visit(0, [0.3, 0.75, 0.7, 0.95])
    assert visits.acted_at(weak_entrance, "visit", 0, settings) == 2
    assert visits.acted_at(weak_entrance, "frame", 0, settings) == 1
    assert visits.acted_at(weak_entrance, "firmware", 0, settings) == 3
    # The firmware's rule also needs the target to be the most likely class.
    tie = {**a_visit(0, [0.85]), "probabilities": np.array([[0.85, 0.9]])}
    assert visits.acted_at(tie, "firmware", 0, settings) is None
    assert visits.acted_at(a_visit(0, [0.1, 0.2]), "visit", 0, settings) is None


def test_the_visit_rule_keeps_non_target_visits_within_the_limit_and_prefers_the_shorter_window():
    # A household cat with one Boots-like frame in each visit: one frame alone would act on every visit,
    # a mean over two frames (at most 0.5) separates them from Boots's visits (0.75).
    others = [a_visit(1, [0.1, 0.9, 0.1, 0.1], f"o{i}") for i in range(50)]
    boots = [a_visit(0, [0.6, 0.7, 0.8], f"b{i}") for i in range(10)]
    rule = visits.choose_visit_rule(boots + others, 0, 0.0, [1, 2, 3])
    assert rule["kind"] == "window_mean" and rule["frames"] == 2
    for v in others:
        assert visits.window_means(v["probabilities"][:, 0], 2).max() < rule["threshold"]
    assert all(visits.window_means(v["probabilities"][:, 0], 2).max() >= rule["threshold"] for v in boots)
    # Where one frame separates them, the one-frame window wins the tie and acts sooner.
    clean = [a_visit(1, [0.1, 0.2], f"c{i}") for i in range(50)]
    assert visits.choose_visit_rule(boots + clean, 0, 0.0, [1, 2, 3])["frames"] == 1


def test_visit_figures_count_visits_with_wilson_intervals_and_the_median_frames_to_act():
    group = [a_visit(0, [0.9], "b1"), a_visit(0, [0.1, 0.9], "b2"), a_visit(0, [0.1], "b3"), a_visit(1, [0.9], "o1")]
    figures = visits.visit_figures(group, [0, 1, None, 0], 0)
    assert figures["recall_counts"] == [2, 3] and figures["false_alarm_counts"] == [1, 1]
    assert figures["recall_interval"] == pytest.approx(rule.wilson_interval(2, 3))
    assert figures["median_frames_to_act"] == 1.5
    assert visits.visit_figures(group[2:3], [None], 0)["median_frames_to_act"] is None


def test_frames_group_into_visits_in_capture_order_from_the_manifest(tmp_path):
    manifest = {
        "images": [
            {"key": "datasets/x/test/Boots/b.jpg", "visit": "cam@1", "capturedAt": "2026-01-01T00:00:00Z"},
            {"key": "datasets/x/test/Boots/a.jpg", "visit": "cam@1", "capturedAt": "2026-01-01T00:00:30Z"},
            {"key": "datasets/x/test/Chi/c.jpg", "group": "time:old", "capturedAt": None},
        ]
    }
    (tmp_path / "manifest.json").write_text(__import__("json").dumps(manifest))
    info = visits.read_manifest(tmp_path)
    grouped = visits.group_visits(["a.jpg", "b.jpg", "c.jpg", "d.jpg"], [0, 0, 1, 1], np.eye(2)[[0, 0, 1, 1]], info)
    assert [(v["visit"], v["frames"]) for v in grouped] == [
        ("cam@1", ["b.jpg", "a.jpg"]),
        ("d.jpg", ["d.jpg"]),
        ("time:old", ["c.jpg"]),
    ]
    assert visits.read_manifest(None) == {} and visits.read_manifest(tmp_path / "none") == {}


def test_too_few_non_target_visits_is_said_in_visits():
    few = [a_visit(1, [0.1], f"o{i}") for i in range(12)]
    assert visits.unresolved_visit_limit(few, 0, 0.01).startswith(
        "the validation set has 12 non-target visits, fewer than 1 / max_false_alarm_rate = 100"
    )
    assert visits.unresolved_visit_limit(few * 10, 0, 0.01) is None
