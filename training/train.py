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

    def __init__(self, args, phase, stopping, identity, best_weights):
        super().__init__()
        self.args = args
        self.phase = phase
        self.stopping = stopping
        self.identity = identity
        self.best_weights = best_weights

    def on_epoch_end(self, epoch, logs=None):
        if self.stopping.update(epoch + 1, float((logs or {})["val_accuracy"]), self.args):
            self.best_weights[:] = self.model.get_weights()
            if self.args.checkpoint_dir:
                self.args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                self.model.save_weights(self.args.checkpoint_dir / "best.weights.h5")
        if self.stopping.stopped:
            self.model.stop_training = True
        directory = self.args.checkpoint_dir
        if directory:
            directory.mkdir(parents=True, exist_ok=True)
            partial = directory / "model.partial.keras"
            self.model.save(partial)
            partial.replace(directory / "model.keras")
            state = {
                "phase": self.phase,
                "completed_epochs": epoch + 1,
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


def phases(args):
    """(phase, first epoch, last epoch): the head on a frozen base, then fine-tuning."""
    if args.train_only_top_layer or args.epochs == 1:
        return [("head", 0, args.epochs)]
    head_epochs = max(1, args.epochs // 5)
    return [("head", 0, head_epochs), ("fine_tune", head_epochs, args.epochs)]


def train(args, train_images, train_data, val_data, class_weight, val_images, val_labels):
    """Trains through the phases, resuming a checkpoint of this run.

    Returns the model holding the best weights, and the state."""
    identity = run_identity(args)
    checkpoint = read_checkpoint(args.checkpoint_dir, identity)
    if checkpoint:
        print(
            f"resuming from checkpoint: phase={checkpoint['phase']} completed_epochs={checkpoint['completed_epochs']}",
            flush=True,
        )
        model = keras.models.load_model(args.checkpoint_dir / "model.keras")
        stopping = EarlyStoppingState.from_json(checkpoint["early_stopping"])
    else:
        model = build_model(args, len(args.classes))
        if args.base_weights == "none":
            calibrate_batch_norm(model, train_images)
        stopping = EarlyStoppingState()

    best_weights = []
    # Epochs are numbered across both phases, so the count alone says where to pick up.
    completed = checkpoint["completed_epochs"] if checkpoint else 0
    for phase, first, last in phases(args):
        start = max(first, completed)
        if start >= last or stopping.stopped:
            continue
        if start == first:
            # A phase resumed midway keeps the compiled optimizer state loaded with the model.
            compile_for(model, phase, args)
        # The checkpoint is written before the epoch's log line, so a logged epoch is never lost.
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=last,
            initial_epoch=start,
            class_weight=class_weight,
            callbacks=[
                ValidationMacroF1(val_images, val_labels, args.classes),
                JobProgress(args, phase, stopping, identity, best_weights),
                EpochLog(phase),
            ],
            verbose=0,
        )
        completed = last

    if best_weights:
        model.set_weights(best_weights)
    elif args.checkpoint_dir and (args.checkpoint_dir / "best.weights.h5").is_file():
        # The best epoch came before the last resume: its weights are in the checkpoint.
        model.load_weights(args.checkpoint_dir / "best.weights.h5")
    if stopping.stopped:
        print(f"early stopping: no gain for {stopping.wait} epochs", flush=True)
    print(f"best epoch={stopping.best_epoch} val_accuracy={stopping.best:.6f}", flush=True)
    return model, stopping


# ---------------------------------------------------------------- evaluation and export


def evaluate(model, images, labels, classes):
    probabilities = model.predict(images.astype(np.float32), batch_size=64, verbose=0)
    predicted = probabilities.argmax(axis=1)
    report = add_intervals(classification_report(labels, predicted, classes), labels, predicted)
    report["validation_images"] = report.pop("images")
    return report


def measure_near_copies(model, train_images, train_paths, args):
    """The test images that have a near-copy in training, by the trained model's features."""
    files = [path for path, _ in labelled_files(args.test, args.classes)]
    test_images, test_paths, _ = decode_files(files, args.image_size)
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

    model, stopping = train(
        args,
        train_images,
        as_dataset(train_images, train_labels, args.batch_size, augmentation_layers(args)),
        as_dataset(val_images, val_labels, args.batch_size),
        class_weight,
        val_images,
        val_labels,
    )

    report = evaluate(model, val_images, val_labels, args.classes)
    report["skipped_undecodable"] = skipped
    # Which epoch's weights the model holds: the best of the whole job, across phases and resumes.
    report.update(stopping.to_json())
    print(evaluation_table(report), flush=True)
    for figure in figures_of("evaluation"):
        print(log_line("evaluation", {figure: report[figure]}), flush=True)

    export_dir = export(model, args)
    print(f"saved model to {export_dir}", flush=True)

    held_out_started = time.perf_counter()
    decision, test_report, validation_answers, visits = held_out_evaluation(args, export_dir)
    report.update(validation_answers)
    report.update(visits)
    print_visit_figures(visits["visits"], decision["visit_rule"])
    print(
        f"held-out evaluation seconds={time.perf_counter() - held_out_started:.2f} (threshold on validation, test set)",
        flush=True,
    )
    if test_report is not None:
        report["test"] = test_report
        print(f"test images={test_report['images']} seconds={test_report['seconds']:.2f}", flush=True)
        print(evaluation_table(test_report), flush=True)
        for figure in figures_of("test"):
            print(log_line("test", {figure: test_report[figure]}), flush=True)
        report["near_copies"] = measure_near_copies(model, train_images, train_paths, args)
        leak = report["near_copies"]
        print(
            f"near-copies test_images={leak['test_images']} with_near_copy={leak['with_near_copy']} "
            f"min_similarity={leak['min_similarity']}",
            flush=True,
        )
    report["decision"] = decision
    print(
        f"decision {decision['target_class']} threshold={decision['threshold']:.6f} "
        f"validation_recall={decision['validation_recall']:.4f} "
        f"validation_false_alarm_rate={decision['validation_false_alarm_rate']:.4f} "
        f"test_recall={decision['test_recall']} test_false_alarm_rate={decision['test_false_alarm_rate']}",
        flush=True,
    )
    # The threshold travels with the model (model.tar.gz) and with the job's output (output.tar.gz).
    args.output_data_dir.mkdir(parents=True, exist_ok=True)
    for folder in (args.model_dir, args.output_data_dir):
        (folder / "decision.json").write_text(json.dumps(decision, indent=2))
    (args.output_data_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
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
