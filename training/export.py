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
from job import SERVING, TrainingError
from model import base_of

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


def export(model, args):
    export_dir = args.model_dir / "1"
    if export_dir.exists():
        shutil.rmtree(export_dir)
    module = JpegServing(serving_model(model), args.image_size)
    tf.saved_model.save(module, str(export_dir), signatures={SERVING["signature"]: module.serve})
    (args.model_dir / "class_names.json").write_text(json.dumps(args.classes))
    return export_dir


# ---------------------------------------------------------------- held-out evaluation and the decision threshold


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


def held_out_evaluation(args, export_dir):
    """The decision threshold picked on validation, the test set's report, and the validation answers, all through
    the exported model."""
    serving = tf.saved_model.load(str(export_dir)).signatures[SERVING["signature"]]
    target = args.classes.index(args.target_class)

    validation = labelled_files(args.validation, args.classes)
    val_probabilities, val_kept, _ = serve_files(serving, [p for p, _ in validation])
    val_label_of = dict(validation)
    val_labels = np.array([val_label_of[path] for path in val_kept])
    # What bootboots review reads to find suspect labels without paying for the endpoint.
    val_answers = {
        "validation_labels": {path.name: args.classes[val_label_of[path]] for path in val_kept},
        "validation_predictions": {
            path.name: [float(p) for p in row] for path, row in zip(val_kept, val_probabilities, strict=True)
        },
    }
    threshold = decision_threshold(val_probabilities[:, target], val_labels == target, args.max_false_alarm_rate)
    val_recall, val_false_alarm = alarm_rates(val_probabilities[:, target], val_labels == target, threshold)
    decision = {
        "target_class": args.target_class,
        "threshold": threshold,
        "max_false_alarm_rate": args.max_false_alarm_rate,
        "validation_recall": val_recall,
        "validation_false_alarm_rate": val_false_alarm,
        "test_recall": None,
        "test_false_alarm_rate": None,
        "interval_method": "Wilson score, 95 %",
        **decision_figures("validation", val_probabilities[:, target], val_labels == target, threshold),
    }
    unresolved = unresolved_limit(int((val_labels != target).sum()), args.max_false_alarm_rate)
    if unresolved:
        decision["limit_unresolved"] = unresolved
        print(f"warning: {unresolved}", flush=True)
    if args.test is None:
        return decision, None, val_answers

    started = time.perf_counter()
    files = labelled_files(args.test, args.classes)
    probabilities, kept, failed = serve_files(serving, [p for p, _ in files])
    if not kept:
        raise TrainingError(f"the test channel ({args.test}) holds no readable image: prepare a new dataset")
    label_of = dict(files)
    labels = np.array([label_of[path] for path in kept])
    report = add_intervals(
        classification_report(labels, probabilities.argmax(axis=1), args.classes), labels, probabilities.argmax(axis=1)
    )
    decision["test_recall"], decision["test_false_alarm_rate"] = alarm_rates(
        probabilities[:, target], labels == target, threshold
    )
    decision.update(decision_figures("test", probabilities[:, target], labels == target, threshold))
    report["skipped_undecodable"] = failed
    report["labels"] = {path.name: args.classes[label_of[path]] for path in kept}
    report["predictions"] = {path.name: [float(p) for p in row] for path, row in zip(kept, probabilities, strict=True)}
    report["seconds"] = time.perf_counter() - started
    return decision, report, val_answers
