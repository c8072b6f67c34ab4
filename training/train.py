"""Fine-tunes MobileNetV2 on the BootBoots dataset and exports a JPEG-serving SavedModel.

Runs in the SageMaker TensorFlow training container (script mode: hyperparameters arrive
as --key value arguments, channels and output folders as SM_* variables) and locally:

    python training/train.py --training DIR --validation DIR --model-dir DIR --epochs 5

Writes <model dir>/1/ (a SavedModel for TF Serving whose serving_default takes JPEG
bytes), <model dir>/class_names.json and <output data dir>/evaluation.json. Under
SageMaker a failure's one-line reason also goes to <base dir>/output/failure, which
SageMaker shows as the job's FailureReason. Checkpoints are kept only where a folder is
given (SageMaker's /opt/ml/checkpoints, or --checkpoint-dir), and only resumed by the run
they belong to.

The job's parts are modules beside this entry point (the script archive ships the whole
folder): job (the contract, failures), hyperparameters, data, model, checkpoints,
evaluation (numpy only) and export.
"""

import json
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from checkpoints import EarlyStoppingState, read_checkpoint, run_identity
from data import as_dataset, augmentation_layers, decode_files, labelled_files, load_split
from evaluation import add_intervals, classification_report, evaluation_table, near_copies
from export import export, held_out_evaluation
from hyperparameters import parse_args
from job import SEED, TrainingError, fail, figures_of, log_line, write_failure
from model import build_model, calibrate_batch_norm, compile_for, pooled_features


class JobProgress(keras.callbacks.Callback):
    """After each epoch: the early-stopping state, the best weights, then the checkpoint (model, optimizer, state)."""

    def __init__(self, phase, stopping, stopping_rule, identity, best_weights, checkpoint_dir):
        super().__init__()
        self.phase = phase
        self.stopping = stopping
        self.stopping_rule = stopping_rule
        self.identity = identity
        self.best_weights = best_weights
        self.checkpoint_dir = checkpoint_dir

    def on_epoch_end(self, epoch, logs=None):
        if self.stopping.update(epoch + 1, float((logs or {})["val_accuracy"]), **self.stopping_rule):
            self.best_weights[:] = self.model.get_weights()
            if self.checkpoint_dir:
                self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                self.model.save_weights(self.checkpoint_dir / "best.weights.h5")
        if self.stopping.stopped:
            self.model.stop_training = True
        if self.checkpoint_dir:
            self.save_checkpoint(epoch + 1)

    def save_checkpoint(self, completed_epochs):
        """The model (written aside, then moved over the last one) and the state that says where to resume."""
        directory = self.checkpoint_dir
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / "model.partial.keras"
        self.model.save(partial)
        partial.replace(directory / "model.keras")
        state = {
            "phase": self.phase,
            "completed_epochs": completed_epochs,
            "identity": self.identity,
            "early_stopping": self.stopping.to_json(),
        }
        (directory / "state.json").write_text(json.dumps(state))


class ValidationMacroF1(keras.callbacks.Callback):
    """Adds val_macro_f1 to the epoch's logs: the tuner's objective (class imbalance makes accuracy the wrong one)."""

    def __init__(self, images, labels, classes):
        super().__init__()
        self.images = images.astype(np.float32)
        self.labels = labels
        self.classes = classes

    def on_epoch_end(self, epoch, logs=None):
        probabilities = self.model.predict(self.images, batch_size=64, verbose=0)
        logs["val_macro_f1"] = classification_report(self.labels, probabilities.argmax(axis=1), self.classes)[
            "macro_f1"
        ]


class EpochLog(keras.callbacks.Callback):
    """One line per epoch, laid out by metric-definitions.json, whose metrics SageMaker reads from it."""

    def __init__(self, phase):
        super().__init__()
        self.phase = phase

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        figures = {name: logs[name] for name in figures_of("epoch") if name in logs}
        print(log_line("epoch", figures, epoch=epoch + 1, phase=self.phase), flush=True)


def phases(epochs, train_only_top_layer):
    """(phase, first epoch, last epoch): the head on a frozen base, then fine-tuning."""
    if train_only_top_layer or epochs == 1:
        return [("head", 0, epochs)]
    head_epochs = max(1, epochs // 5)
    return [("head", 0, head_epochs), ("fine_tune", head_epochs, epochs)]


def start_or_resume(checkpoint_dir, identity, new_model):
    """The model to train: the checkpoint of this run where there is one, else `new_model()`.

    Returns:
        (model, early-stopping state, epochs completed so far).
    """
    checkpoint = read_checkpoint(checkpoint_dir, identity)
    if not checkpoint:
        return new_model(), EarlyStoppingState(), 0
    print(
        f"resuming from checkpoint: phase={checkpoint['phase']} completed_epochs={checkpoint['completed_epochs']}",
        flush=True,
    )
    model = keras.models.load_model(checkpoint_dir / "model.keras")
    # Epochs are numbered across both phases, so the count alone says where to pick up.
    return model, EarlyStoppingState.from_json(checkpoint["early_stopping"]), checkpoint["completed_epochs"]


def fit_phases(model, stopping, completed, plan, data, checkpoint):
    """Trains through the phases left, a checkpoint after each epoch.

    Args:
        model: the model, new or resumed.
        stopping: the early-stopping state; its rule is `checkpoint["stopping_rule"]`.
        completed: epochs completed before (a resumed run picks up there).
        plan: {"phases", "compile": (model, phase) -> None, "classes"}.
        data: {"train", "validation", "class_weight", "val_images", "val_labels"}.
        checkpoint: {"dir", "identity", "stopping_rule"}.

    Returns:
        The weights of the best epoch seen in this run ([] when none was).
    """
    best_weights = []
    for phase, first, last in plan["phases"]:
        start = max(first, completed)
        if start >= last or stopping.stopped:
            continue
        if start == first:
            # A phase resumed midway keeps the compiled optimizer state loaded with the model.
            plan["compile"](model, phase)
        progress = JobProgress(
            phase, stopping, checkpoint["stopping_rule"], checkpoint["identity"], best_weights, checkpoint["dir"]
        )
        # The checkpoint is written before the epoch's log line, so a logged epoch is never lost.
        model.fit(
            data["train"],
            validation_data=data["validation"],
            epochs=last,
            initial_epoch=start,
            class_weight=data["class_weight"],
            callbacks=[
                ValidationMacroF1(data["val_images"], data["val_labels"], plan["classes"]),
                progress,
                EpochLog(phase),
            ],
            verbose=0,
        )
        completed = last
    return best_weights


def restore_best(model, best_weights, checkpoint_dir, stopping):
    """Gives the model the best epoch's weights: this run's, or the checkpoint's when it came before a resume."""
    if best_weights:
        model.set_weights(best_weights)
    elif checkpoint_dir and (checkpoint_dir / "best.weights.h5").is_file():
        model.load_weights(checkpoint_dir / "best.weights.h5")
    if stopping.stopped:
        print(f"early stopping: no gain for {stopping.wait} epochs", flush=True)
    print(f"best epoch={stopping.best_epoch} val_accuracy={stopping.best:.6f}", flush=True)


def train(args, train_images, data):
    """Trains through the phases, resuming a checkpoint of this run.

    Returns the model holding the best weights, and the early-stopping state."""
    identity = run_identity(args)

    def new_model():
        model = build_model(
            len(args.classes), args.image_size, args.dropout_rate, args.base_weights, args.base_weights_dir
        )
        if args.base_weights == "none":
            calibrate_batch_norm(model, train_images)
        return model

    model, stopping, completed = start_or_resume(args.checkpoint_dir, identity, new_model)
    plan = {
        "phases": phases(args.epochs, args.train_only_top_layer),
        "compile": lambda m, phase: compile_for(m, phase, args.learning_rate, args.train_only_top_layer),
        "classes": args.classes,
    }
    stopping_rule = {
        "min_delta": args.early_stopping_min_delta,
        "patience": args.early_stopping_patience,
        "enabled": args.early_stopping,
    }
    checkpoint = {"dir": args.checkpoint_dir, "identity": identity, "stopping_rule": stopping_rule}
    best_weights = fit_phases(model, stopping, completed, plan, data, checkpoint)
    restore_best(model, best_weights, args.checkpoint_dir, stopping)
    return model, stopping


def evaluate(model, images, labels, classes):
    """The validation report of the trained model, per class with intervals."""
    probabilities = model.predict(images.astype(np.float32), batch_size=64, verbose=0)
    predicted = probabilities.argmax(axis=1)
    report = add_intervals(classification_report(labels, predicted, classes), labels, predicted)
    report["validation_images"] = report.pop("images")
    return report


def measure_near_copies(model, train_images, train_paths, test_dir, classes, image_size):
    """The test images that have a near-copy in training, by the trained model's features."""
    files = [path for path, _ in labelled_files(test_dir, classes)]
    test_images, test_paths, _ = decode_files(files, image_size)
    return near_copies(
        pooled_features(model, train_images),
        [path.name for path in train_paths],
        pooled_features(model, np.stack(test_images)),
        [path.name for path in test_paths],
    )


def print_visit_figures(figures, rule):
    """One line per side and rule: the visits acted on, of the target's and of the others'."""
    print(
        f"visit rule kind={rule['kind']} frames={rule['frames']} threshold={rule['threshold']:.6f}",
        flush=True,
    )
    for side in ("validation", "test"):
        for name, f in figures.get(side, {}).items():
            print(
                f"visits {side} rule={name} recall={f['recall_counts'][0]}/{f['recall_counts'][1]} "
                f"false_alarms={f['false_alarm_counts'][0]}/{f['false_alarm_counts'][1]} "
                f"median_frames_to_act={f['median_frames_to_act']}",
                flush=True,
            )


def load_data(args):
    """The training and validation images, the datasets that feed training, and the class weights."""
    train_images, train_labels, train_skipped, train_paths = load_split(args.training, args.classes, args.image_size)
    val_images, val_labels, val_skipped, _ = load_split(args.validation, args.classes, args.image_size)
    skipped = train_skipped + val_skipped
    print(
        f"images training={len(train_labels)} validation={len(val_labels)} skipped_undecodable={len(skipped)}",
        flush=True,
    )
    for path in skipped:
        print(f"skipped undecodable image: {path}", flush=True)
    class_weight = None
    if args.class_weights is not None:
        class_weight = {i: args.class_weights[name] for i, name in enumerate(args.classes)}
        print("class_weights " + " ".join(f"{name}={args.class_weights[name]:g}" for name in args.classes), flush=True)
    augmentation = augmentation_layers(
        args.augmentation,
        args.augmentation_random_flip,
        args.augmentation_random_rotation,
        args.augmentation_random_zoom,
    )
    data = {
        "train": as_dataset(train_images, train_labels, args.batch_size, augmentation),
        "validation": as_dataset(val_images, val_labels, args.batch_size),
        "class_weight": class_weight,
        "val_images": val_images,
        "val_labels": val_labels,
    }
    return train_images, train_paths, skipped, data


def held_out(args, model, export_dir, report, train_images, train_paths):
    """The decision and the test figures, through the exported model, added to the report; returns the decision."""
    started = time.perf_counter()
    decision, test_report, validation_answers, visits = held_out_evaluation(
        export_dir,
        classes=args.classes,
        target_class=args.target_class,
        max_false_alarm_rate=args.max_false_alarm_rate,
        validation_dir=args.validation,
        test_dir=args.test,
        manifest_dir=args.manifest,
    )
    report.update(validation_answers)
    report.update(visits)
    print_visit_figures(visits["visits"], decision["visit_rule"])
    print(
        f"held-out evaluation seconds={time.perf_counter() - started:.2f} (threshold on validation, test set)",
        flush=True,
    )
    if test_report is not None:
        report["test"] = test_report
        print(f"test images={test_report['images']} seconds={test_report['seconds']:.2f}", flush=True)
        print(evaluation_table(test_report), flush=True)
        for figure in figures_of("test"):
            print(log_line("test", {figure: test_report[figure]}), flush=True)
        leak = measure_near_copies(model, train_images, train_paths, args.test, args.classes, args.image_size)
        report["near_copies"] = leak
        print(
            f"near-copies test_images={leak['test_images']} with_near_copy={leak['with_near_copy']} "
            f"min_similarity={leak['min_similarity']}",
            flush=True,
        )
    return decision


def write_outputs(args, report, decision):
    """decision.json with the model (model.tar.gz) and the job's output (output.tar.gz); evaluation.json beside it."""
    report["decision"] = decision
    print(
        f"decision {decision['target_class']} threshold={decision['threshold']:.6f} "
        f"validation_recall={decision['validation_recall']:.4f} "
        f"validation_false_alarm_rate={decision['validation_false_alarm_rate']:.4f} "
        f"test_recall={decision['test_recall']} test_false_alarm_rate={decision['test_false_alarm_rate']}",
        flush=True,
    )
    args.output_data_dir.mkdir(parents=True, exist_ok=True)
    for folder in (args.model_dir, args.output_data_dir):
        (folder / "decision.json").write_text(json.dumps(decision, indent=2))
    (args.output_data_dir / "evaluation.json").write_text(json.dumps(report, indent=2))


def main(argv=None):
    job_started = time.perf_counter()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The same dataset and hyperparameters give the same model: seeded, with deterministic ops.
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    print(
        f"classes={','.join(args.classes)} epochs={args.epochs} learning_rate={args.learning_rate} "
        f"batch_size={args.batch_size} train_only_top_layer={args.train_only_top_layer}",
        flush=True,
    )
    train_images, train_paths, skipped, data = load_data(args)
    model, stopping = train(args, train_images, data)

    report = evaluate(model, data["val_images"], data["val_labels"], args.classes)
    report["skipped_undecodable"] = skipped
    # Which epoch's weights the model holds: the best of the whole job, across phases and resumes.
    report.update(stopping.to_json())
    print(evaluation_table(report), flush=True)
    for figure in figures_of("evaluation"):
        print(log_line("evaluation", {figure: report[figure]}), flush=True)

    export_dir = export(model, args.model_dir, args.image_size, args.classes)
    print(f"saved model to {export_dir}", flush=True)
    decision = held_out(args, model, export_dir, report, train_images, train_paths)
    write_outputs(args, report, decision)
    print(f"job seconds={time.perf_counter() - job_started:.2f}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except TrainingError as error:
        fail(str(error))
    except Exception as error:
        # The log keeps the traceback; the failure file gets the one line a user reads first.
        write_failure(f"Unexpected error in train.py: {type(error).__name__}: {error}")
        raise
