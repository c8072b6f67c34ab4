"""The serving export (a SavedModel whose serving_default takes JPEG bytes) and the held-out
evaluation through it.
"""

import json
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from data import labelled_files
from evaluation import (
    add_intervals,
    alarm_rates,
    classification_report,
    decision_figures,
    decision_threshold,
    unresolved_limit,
)
from job import DECISION, SERVING, TrainingError
from model import base_of
from visits import choose_visit_rule, group_visits, read_manifest, rule_figures, unresolved_visit_limit, visit_entries

# Images per call when the exported model evaluates the held-out files.
SERVING_BATCH = 16


def serving_model(model):
    """The trained layers that inference needs, without dropout and without the optimizer."""
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    x = model.get_layer("mobilenet_v2_preprocess")(inputs)
    x = base_of(model)(x, training=False)
    x = model.get_layer("pooling")(x)
    outputs = model.get_layer("probabilities")(x)
    return keras.Model(inputs, outputs, name="bootboots_serving")


class JpegServing(tf.Module):
    """TF Serving's view of the model: JPEG bytes in, class probabilities out."""

    def __init__(self, model, image_size):
        super().__init__()
        self.model = model
        self.image_size = image_size

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes):
        def decode(data):
            image = tf.io.decode_image(repair_jpeg(data), channels=3, expand_animations=False)
            image.set_shape([None, None, 3])
            return tf.image.resize(image, (self.image_size, self.image_size))

        images = tf.map_fn(
            decode, image_bytes, fn_output_signature=tf.TensorSpec([self.image_size, self.image_size, 3], tf.float32)
        )
        # A single unnamed output: TF Serving then answers {"predictions": [[p0 ... pK], ...]}.
        return self.model(images, training=False)


def export(model, model_dir, image_size, classes):
    """Writes the serving SavedModel to <model_dir>/1/ and the class names beside it; returns its folder."""
    export_dir = model_dir / "1"
    if export_dir.exists():
        shutil.rmtree(export_dir)
    module = JpegServing(serving_model(model), image_size)
    tf.saved_model.save(module, str(export_dir), signatures={SERVING["signature"]: module.serve})
    (model_dir / "class_names.json").write_text(json.dumps(classes))
    return export_dir


def repair_jpeg(data):
    """A JPEG cut short before its end marker (FF D9) gets one, as data prep repairs them for training."""
    truncated = tf.logical_and(
        tf.strings.substr(data, 0, 2) == b"\xff\xd8", tf.strings.substr(data, -2, 2) != b"\xff\xd9"
    )
    return tf.cond(truncated, lambda: data + b"\xff\xd9", lambda: data)


def serve_files(serving, paths):
    """Class probabilities for each file through the exported signature (JPEG bytes in, as the endpoint gets them).

    Returns the probabilities of the files it could read and the names of those it could not.
    """
    probabilities, kept, failed = [], [], []
    for start in range(0, len(paths), SERVING_BATCH):
        batch = paths[start : start + SERVING_BATCH]
        try:
            outputs = serving(image_bytes=tf.constant([p.read_bytes() for p in batch]))
            probabilities.extend(next(iter(outputs.values())).numpy())
            kept.extend(batch)
        except tf.errors.InvalidArgumentError:
            # One bad file fails its batch: try them one by one.
            for path in batch:
                try:
                    probabilities.extend(
                        next(iter(serving(image_bytes=tf.constant([path.read_bytes()])).values())).numpy()
                    )
                    kept.append(path)
                except tf.errors.InvalidArgumentError:
                    failed.append(str(path))
    return np.array(probabilities), kept, failed


def served_side(serving, folder, classes):
    """One held-out side through the exported model.

    Args:
        serving: the exported serving signature.
        folder: the side's channel folder (<Class>/<file>).
        classes: the class names, in model-output order.

    Returns:
        (probabilities, paths read, class indices, paths that could not be read).
    """
    files = labelled_files(folder, classes)
    probabilities, kept, failed = serve_files(serving, [p for p, _ in files])
    label_of = dict(files)
    return probabilities, kept, np.array([label_of[path] for path in kept], dtype=int), failed


def frame_decision(validation, target, target_class, max_false_alarm_rate):
    """The per-frame threshold chosen on the validation frames, with its figures there.

    Args:
        validation: served_side's answer for the validation side.
        target: the target class's index.
        target_class: its name.
        max_false_alarm_rate: the share of other frames that may cross the threshold.
    """
    probabilities, _, labels, _ = validation
    scores, is_target = probabilities[:, target], labels == target
    threshold = decision_threshold(scores, is_target, max_false_alarm_rate)
    recall, false_alarm = alarm_rates(scores, is_target, threshold)
    decision = {
        "target_class": target_class,
        "threshold": threshold,
        "max_false_alarm_rate": max_false_alarm_rate,
        "validation_recall": recall,
        "validation_false_alarm_rate": false_alarm,
        "test_recall": None,
        "test_false_alarm_rate": None,
        "interval_method": "Wilson score, 95 %",
        **decision_figures("validation", scores, is_target, threshold),
    }
    unresolved = unresolved_limit(int((~is_target).sum()), max_false_alarm_rate)
    if unresolved:
        decision["limit_unresolved"] = unresolved
        print(f"warning: {unresolved}", flush=True)
    return decision


def validation_answers(validation, classes):
    """What bootboots review reads to find suspect labels without paying for the endpoint."""
    probabilities, kept, labels, _ = validation
    return {
        "validation_labels": {path.name: classes[label] for path, label in zip(kept, labels, strict=True)},
        "validation_predictions": {
            path.name: [float(p) for p in row] for path, row in zip(kept, probabilities, strict=True)
        },
    }


def test_report(test, test_dir, classes, seconds_started):
    """The test side's per-class report with intervals, and every answer by file name."""
    probabilities, kept, labels, failed = test
    if not kept:
        raise TrainingError(f"the test channel ({test_dir}) holds no readable image: prepare a new dataset")
    predicted = probabilities.argmax(axis=1)
    report = add_intervals(classification_report(labels, predicted, classes), labels, predicted)
    report["skipped_undecodable"] = failed
    report["labels"] = {path.name: classes[label] for path, label in zip(kept, labels, strict=True)}
    report["predictions"] = {path.name: [float(p) for p in row] for path, row in zip(kept, probabilities, strict=True)}
    report["seconds"] = time.perf_counter() - seconds_started
    return report


def side_visits(side, frame_info):
    """A served side's frames grouped into visits, in capture order."""
    probabilities, kept, labels, _ = side
    return group_visits([path.name for path in kept], labels, probabilities, frame_info)


def per_visit(sides_served, target, frame_threshold, classes, max_false_alarm_rate, manifest_dir):
    """The visit rule chosen on the validation visits, and the three rules' figures per visit.

    Args:
        sides_served: {"validation": served_side's answer, "test": the same or None}.
        target: the target class's index.
        frame_threshold: the per-frame threshold, for the frame rule.
        classes: the class names, in model-output order.
        max_false_alarm_rate: the share of other visits that may be acted on.
        manifest_dir: the manifest channel's folder, or None.

    Returns:
        (the visit rule for decision.json, the figures for evaluation.json's `visits`, and
        evaluation.json's `validation_visits` and `test_visits`).
    """
    frame_info = read_manifest(manifest_dir)
    sides = {side: side_visits(served, frame_info) for side, served in sides_served.items() if served is not None}
    rule = choose_visit_rule(sides["validation"], target, max_false_alarm_rate, DECISION["visitWindows"])
    unresolved = unresolved_visit_limit(sides["validation"], target, max_false_alarm_rate)
    if unresolved:
        rule["limit_unresolved"] = unresolved
        print(f"warning: {unresolved}", flush=True)
    settings = {
        "visit_rule": rule,
        "frame_threshold": frame_threshold,
        "firmware_min_confidence": DECISION["firmwareMinConfidence"],
    }
    figures = {"interval_method": "Wilson score, 95 %, over visits", "from_manifest": bool(frame_info)}
    entries = {}
    for side, visits in sides.items():
        acted, figures[side] = rule_figures(visits, target, settings)
        entries[f"{side}_visits"] = visit_entries(visits, acted, classes, target, rule["frames"])
    rule["validation"] = figures["validation"]["visit"]
    return rule, figures, entries


def held_out_evaluation(
    export_dir, classes, target_class, max_false_alarm_rate, validation_dir, test_dir, manifest_dir
):
    """Everything measured through the exported model on the held-out sides.

    Args:
        export_dir: the exported SavedModel.
        classes: the class names, in model-output order; target_class: the one the camera acts on.
        max_false_alarm_rate: the limit the thresholds are chosen under.
        validation_dir, test_dir: the channels' folders (test_dir None without a test channel).
        manifest_dir: the manifest channel's folder, or None.

    Returns:
        (decision.json, the test report or None, the validation answers, the per-visit figures
        and entries for evaluation.json).
    """
    serving = tf.saved_model.load(str(export_dir)).signatures[SERVING["signature"]]
    target = classes.index(target_class)
    validation = served_side(serving, validation_dir, classes)
    decision = frame_decision(validation, target, target_class, max_false_alarm_rate)
    report, test = None, None
    if test_dir is not None:
        started = time.perf_counter()
        test = served_side(serving, test_dir, classes)
        report = test_report(test, test_dir, classes, started)
        scores, is_target, threshold = test[0][:, target], test[2] == target, decision["threshold"]
        decision["test_recall"], decision["test_false_alarm_rate"] = alarm_rates(scores, is_target, threshold)
        decision.update(decision_figures("test", scores, is_target, threshold))
    sides = {"validation": validation, "test": test}
    rule, figures, entries = per_visit(
        sides, target, decision["threshold"], classes, max_false_alarm_rate, manifest_dir
    )
    decision["visit_rule"] = rule
    return decision, report, validation_answers(validation, classes), {"visits": figures, **entries}
