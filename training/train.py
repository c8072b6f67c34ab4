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
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
CONTRACT = json.loads((HERE / "contract.json").read_text())
DEFAULTS = CONTRACT["hyperparameterDefaults"]
SERVING = CONTRACT["serving"]
DECISION = CONTRACT["decision"]
# Images per call when the exported model evaluates the held-out files.
SERVING_BATCH = 16
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
# Before fine-tuning, the new head learns on the frozen base with a larger step than fine-tuning's.
HEAD_LEARNING_RATE = 1e-3
L2_WEIGHT = 1e-4
SEED = 1234


class TrainingError(Exception):
    """A problem with the job's inputs, said so that the user knows what to fix."""


def in_sagemaker():
    """The sagemaker-training toolkit hands the script its whole environment as SM_TRAINING_ENV."""
    return "SM_TRAINING_ENV" in os.environ


def sagemaker_base_dir():
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))


def write_failure(reason):
    """Under SageMaker, the reason a user reads as the job's FailureReason.

    The toolkit only copies stderr into the FailureReason from a line naming a Python
    exception class (and writes the file only if it does not exist yet), so without this
    the user would read ErrorMessage "".
    """
    if in_sagemaker():
        failure = sagemaker_base_dir() / "output" / "failure"
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(reason)


def fail(reason, exit_code=2):
    """Ends the job with a one-line reason, on stderr and in the failure file."""
    print(f"ERROR: {reason}", file=sys.stderr, flush=True)
    write_failure(reason)
    sys.exit(exit_code)


class HyperparameterParser(argparse.ArgumentParser):
    """argparse whose errors end the job through fail(), naming the hyperparameter."""

    def error(self, message):
        self.print_usage(sys.stderr)
        fail(f"Invalid hyperparameters: {message}")


# ---------------------------------------------------------------- hyperparameters


def parse_bool(text):
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def number(kind, low, high=None, low_inclusive=True):
    """An argparse type: a `kind` (int or float) from `low` (or above it) up to, not including, `high`."""
    if high is None:
        allowed = f"of at least {low}"
    else:
        allowed = f"in {'[' if low_inclusive else '('}{low}, {high})"
    noun = "an integer" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not ((value >= low if low_inclusive else value > low) and (high is None or value < high)):
            raise argparse.ArgumentTypeError(f"expected {noun} {allowed}, got {text!r}")
        return value

    return parse


positive_int = number(int, 1)
fraction = number(float, 0, 1, low_inclusive=True)
open_fraction = number(float, 0, 1, low_inclusive=False)


def parse_class_weights(text):
    """`none`, a JSON object, or `Class=weight,...` (the toolkit's form for a decoded object)."""
    text = str(text).strip()
    if text.lower() == "none":
        return None
    try:
        if text.startswith("{"):
            weights = json.loads(text)
        else:
            weights = dict(pair.split("=", 1) for pair in text.split(","))
        weights = {name.strip(): float(value) for name, value in weights.items()}
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(f"expected none, a JSON object or Class=weight,..., got {text!r}") from error
    if any(w <= 0 for w in weights.values()):
        raise argparse.ArgumentTypeError(f"class weights must be positive, got {text!r}")
    return weights


def parse_classes(text):
    classes = [c.strip() for c in str(text).split(",") if c.strip()]
    if not classes or len(set(classes)) != len(classes):
        raise argparse.ArgumentTypeError(f"expected a comma list of distinct class names, got {text!r}")
    return classes


def parse_flip(text):
    allowed = ("horizontal", "vertical", "horizontal_and_vertical", "none")
    if text not in allowed:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(allowed)}, got {text!r}")
    return text


def parse_base_weights(text):
    if text not in ("imagenet", "none"):
        raise argparse.ArgumentTypeError(f"expected imagenet or none, got {text!r}")
    return text


def optional_path(text):
    return Path(text) if text else None


def argument_parser():
    env = os.environ
    parser = HyperparameterParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    hp = parser.add_argument_group("hyperparameters")
    hp.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"])
    hp.add_argument("--learning_rate", type=open_fraction, default=DEFAULTS["learning_rate"])
    hp.add_argument("--batch_size", type=positive_int, default=DEFAULTS["batch_size"])
    hp.add_argument("--train_only_top_layer", type=parse_bool, default=DEFAULTS["train_only_top_layer"])
    hp.add_argument("--dropout_rate", type=fraction, default=DEFAULTS["dropout_rate"])
    hp.add_argument("--augmentation", type=parse_bool, default=DEFAULTS["augmentation"])
    hp.add_argument("--augmentation_random_flip", type=parse_flip, default=DEFAULTS["augmentation_random_flip"])
    hp.add_argument("--augmentation_random_rotation", type=fraction, default=DEFAULTS["augmentation_random_rotation"])
    hp.add_argument("--augmentation_random_zoom", type=fraction, default=DEFAULTS["augmentation_random_zoom"])
    hp.add_argument("--early_stopping", type=parse_bool, default=DEFAULTS["early_stopping"])
    hp.add_argument("--early_stopping_patience", type=positive_int, default=DEFAULTS["early_stopping_patience"])
    hp.add_argument("--early_stopping_min_delta", type=number(float, 0), default=DEFAULTS["early_stopping_min_delta"])
    hp.add_argument("--classes", type=parse_classes, default=CONTRACT["classes"])
    hp.add_argument("--class_weights", type=parse_class_weights, default=None)
    hp.add_argument("--base_weights", type=parse_base_weights, default=DEFAULTS["base_weights"])
    hp.add_argument("--image_size", type=positive_int, default=DEFAULTS["image_size"])
    hp.add_argument("--target_class", default=DECISION["targetClass"])
    hp.add_argument("--max_false_alarm_rate", type=fraction, default=DECISION["maxFalseAlarmRate"])
    paths = parser.add_argument_group("folders (SageMaker sets them through SM_* variables)")
    paths.add_argument("--training", type=optional_path, default=env.get("SM_CHANNEL_TRAINING"))
    paths.add_argument("--validation", type=optional_path, default=env.get("SM_CHANNEL_VALIDATION"))
    paths.add_argument("--test", type=optional_path, default=env.get("SM_CHANNEL_TEST"))
    paths.add_argument(
        "--model-dir", "--model_dir", dest="model_dir", type=optional_path, default=env.get("SM_MODEL_DIR")
    )
    paths.add_argument(
        "--output-data-dir", dest="output_data_dir", type=optional_path, default=env.get("SM_OUTPUT_DATA_DIR")
    )
    paths.add_argument(
        "--base-weights-dir", dest="base_weights_dir", type=optional_path, default=env.get("SM_CHANNEL_BASE_WEIGHTS")
    )
    # Outside SageMaker no checkpoint folder is used unless one is given: a laptop run must
    # neither write to /opt/ml nor resume some earlier run.
    default_checkpoints = sagemaker_base_dir() / "checkpoints" if in_sagemaker() else None
    paths.add_argument("--checkpoint-dir", dest="checkpoint_dir", type=optional_path, default=default_checkpoints)
    return parser


def started_by_the_tuner():
    """The tuner adds _tuning_objective_metric to the hyperparameters SageMaker writes.

    The toolkit keeps it from the script's arguments."""
    hyperparameters = sagemaker_base_dir() / "input" / "config" / "hyperparameters.json"
    return hyperparameters.is_file() and "_tuning_objective_metric" in json.loads(hyperparameters.read_text())


def parse_args(argv):
    parser = argument_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        names = [u for u in unknown if u.startswith("--")] or unknown
        parser.error(f"unknown hyperparameter(s): {', '.join(names)}")
    for name in ("training", "validation", "model_dir"):
        if getattr(args, name) is None:
            parser.error(f"--{name.replace('_', '-')} is required outside SageMaker")
    if args.output_data_dir is None:
        args.output_data_dir = args.model_dir
    # A tuning job gives all its training jobs one checkpoint location: each keeps its own folder in it.
    job_name = json.loads(os.environ.get("SM_TRAINING_ENV", "{}")).get("job_name")
    if job_name and args.checkpoint_dir == sagemaker_base_dir() / "checkpoints" and started_by_the_tuner():
        args.checkpoint_dir = args.checkpoint_dir / job_name
    if args.class_weights is not None:
        unknown_classes = sorted(set(args.class_weights) - set(args.classes))
        missing = [c for c in args.classes if c not in args.class_weights]
        if unknown_classes or missing:
            parser.error(f"class_weights must give one weight per class; unknown {unknown_classes}, missing {missing}")
    if args.target_class not in args.classes:
        parser.error(f"target_class {args.target_class!r} is not one of classes ({', '.join(args.classes)})")
    if args.image_size < 32:
        parser.error("image_size must be at least 32 (MobileNetV2's smallest input)")
    return args


# ---------------------------------------------------------------- data


def class_files(folder, name):
    class_dir = folder / name
    return sorted(p for p in class_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if class_dir.is_dir() else []


def load_split(folder, classes, image_size):
    """Decodes every image of every class folder; undecodable files are counted, not fatal."""
    images, labels, skipped = [], [], []
    for index, name in enumerate(classes):
        class_dir = folder / name
        files = class_files(folder, name)
        if not files:
            raise TrainingError(
                f"class {name!r} has no images in {class_dir}: every class in 'classes' needs training and "
                f"validation images (prepare a new dataset, or remove the class from the classes config)"
            )
        for path in files:
            try:
                image = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
            except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
                skipped.append(str(path))
                continue
            images.append(tf.image.resize(image, (image_size, image_size)).numpy().astype(np.uint8))
            labels.append(index)
        if labels.count(index) == 0:
            raise TrainingError(f"class {name!r} has no decodable images in {class_dir}")
    return np.stack(images), np.array(labels, dtype=np.int32), skipped


def augmentation_layers(args):
    """Random flip, rotation and zoom from the hyperparameters, or None when switched off."""
    if not args.augmentation:
        return None
    layers = []
    if args.augmentation_random_flip != "none":
        layers.append(keras.layers.RandomFlip(args.augmentation_random_flip, seed=SEED))
    if args.augmentation_random_rotation > 0:
        layers.append(keras.layers.RandomRotation(args.augmentation_random_rotation, seed=SEED))
    if args.augmentation_random_zoom > 0:
        layers.append(keras.layers.RandomZoom(args.augmentation_random_zoom, seed=SEED))
    return keras.Sequential(layers, name="augmentation") if layers else None


def as_dataset(images, labels, batch_size, augmentation=None):
    """Batches of float pixels; the training set is shuffled and, if asked, augmented."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if augmentation is not None:
        dataset = dataset.shuffle(len(labels), seed=SEED, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    if augmentation is not None:
        # Applied in the input pipeline of the training set only: validation and serving see images as they are.
        dataset = dataset.map(lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- model


def base_weights_file(args):
    """The weights file the base_weights channel delivers, or None to let Keras fetch them.

    With the channel the job needs no network: SageMaker copies the file from the models
    bucket, so the job runs under network isolation.
    """
    if args.base_weights != "imagenet" or args.base_weights_dir is None:
        return None
    files = sorted(args.base_weights_dir.glob("*.h5"))
    if len(files) != 1:
        raise TrainingError(
            f"the base_weights channel ({args.base_weights_dir}) must hold one .h5 weights file, found "
            f"{len(files)}: run 'pulumi up' to upload the MobileNetV2 weights to the models bucket"
        )
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    print(f"base weights: {files[0].name} sha256={digest}", flush=True)
    return files[0]


def build_model(args, num_classes):
    size = args.image_size
    inputs = keras.Input(shape=(size, size, 3), name="image")
    # MobileNetV2's own preprocessing, inside the model: pixels 0..255 to -1..1.
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="mobilenet_v2_preprocess")(inputs)
    weights_file = base_weights_file(args)
    base = keras.applications.MobileNetV2(
        input_shape=(size, size, 3),
        include_top=False,
        weights=None if args.base_weights == "none" else str(weights_file) if weights_file else "imagenet",
    )
    base.trainable = False
    # training=False keeps BatchNormalization in inference mode even when the base is unfrozen,
    # so fine-tuning on a small dataset does not wreck the pretrained statistics.
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pooling")(x)
    x = keras.layers.Dropout(args.dropout_rate, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(L2_WEIGHT), name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name="bootboots_mobilenet_v2")


def calibrate_batch_norm(model, images):
    """Sets BatchNormalization statistics from the training images, for a base without weights.

    Random weights come with placeholder statistics (mean 0, variance 1) under which the
    features vanish in inference mode; one pass with momentum 0 replaces them.
    """
    base = base_of(model)
    layers = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    base.trainable = True
    for layer in layers:
        layer.momentum = 0.0
    pixels = model.get_layer("mobilenet_v2_preprocess")(tf.cast(images[:256], tf.float32))
    base(pixels, training=True)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    base.trainable = False


def base_of(model):
    return next(layer for layer in model.layers if layer.name.startswith("mobilenetv2"))


def compile_for(model, phase, args):
    base_of(model).trainable = phase == "fine_tune"
    # learning_rate is the rate of the last phase: fine-tuning, or the head alone with train_only_top_layer.
    rate = HEAD_LEARNING_RATE if phase == "head" and not args.train_only_top_layer else args.learning_rate
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])


# ---------------------------------------------------------------- training with checkpoints

# What a checkpoint must share with this run to be resumed: the data and every hyperparameter.
IDENTITY_EXCLUDES = {
    "training",
    "validation",
    "test",
    "model_dir",
    "output_data_dir",
    "base_weights_dir",
    "checkpoint_dir",
}


def run_identity(args):
    """The dataset (every file's name and size) and the hyperparameters that shape the run."""
    files = hashlib.sha256()
    for folder in (args.training, args.validation):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files.update(f"{path.relative_to(folder)}:{path.stat().st_size}\n".encode())
    settings = {k: v for k, v in sorted(vars(args).items()) if k not in IDENTITY_EXCLUDES}
    return {"dataset": files.hexdigest(), **json.loads(json.dumps(settings, default=str))}


class EarlyStoppingState:
    """The best validation accuracy of the whole job, its epoch and the epochs waited since.

    Kept in the checkpoint and carried across phases and spot resumes, so that patience is
    counted once for the job and the exported model is the best one the job saw.
    """

    def __init__(self, best=None, best_epoch=0, wait=0, stopped=False, history=()):
        self.best = best
        self.best_epoch = best_epoch
        self.wait = wait
        self.stopped = stopped
        self.history = list(history)

    def update(self, epoch, value, args):
        """Records epoch's value; returns whether it is the new best."""
        self.history.append(value)
        improved = self.best is None or value > self.best + args.early_stopping_min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
            self.stopped = args.early_stopping and self.wait >= args.early_stopping_patience
        return improved

    def to_json(self):
        return {
            "best_val_accuracy": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped": self.stopped,
            "val_accuracy_by_epoch": self.history,
        }

    @classmethod
    def from_json(cls, data):
        return cls(
            data["best_val_accuracy"], data["best_epoch"], data["wait"], data["stopped"], data["val_accuracy_by_epoch"]
        )


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
    """One line per epoch, read by the MetricDefinitions in metric-definitions.json."""

    def __init__(self, phase):
        super().__init__()
        self.phase = phase

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        figures = " ".join(
            f"{k}={logs[k]:.6f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy", "val_macro_f1") if k in logs
        )
        print(f"epoch={epoch + 1} phase={self.phase} {figures}", flush=True)


def read_checkpoint(directory, identity):
    """The checkpoint state to resume from, or None: none there, or one that belongs to another run."""
    if directory is None:
        return None
    state_file = directory / "state.json"
    if not (state_file.is_file() and (directory / "model.keras").is_file()):
        return None
    state = json.loads(state_file.read_text())
    saved = state.get("identity", {})
    differs = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
    if differs:
        print(
            f"checkpoint in {directory} belongs to another run (differs in: {', '.join(differs)}): starting afresh",
            flush=True,
        )
        return None
    return state


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
    report = classification_report(labels, probabilities.argmax(axis=1), classes)
    report["validation_images"] = report.pop("images")
    return report


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


def labelled_files(folder, classes):
    """(path, class index) of every image under folder/<Class>/; a class may have none."""
    return [(path, index) for index, name in enumerate(classes) for path in class_files(folder, name)]


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


def held_out_evaluation(args, export_dir):
    """The decision threshold picked on validation, and the test set's report, both through the exported model."""
    serving = tf.saved_model.load(str(export_dir)).signatures[SERVING["signature"]]
    target = args.classes.index(args.target_class)

    validation = labelled_files(args.validation, args.classes)
    val_probabilities, val_kept, _ = serve_files(serving, [p for p, _ in validation])
    val_label_of = dict(validation)
    val_labels = np.array([val_label_of[path] for path in val_kept])
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
    }
    if args.test is None:
        return decision, None

    started = time.perf_counter()
    files = labelled_files(args.test, args.classes)
    probabilities, kept, failed = serve_files(serving, [p for p, _ in files])
    if not kept:
        raise TrainingError(f"the test channel ({args.test}) holds no readable image: prepare a new dataset")
    label_of = dict(files)
    labels = np.array([label_of[path] for path in kept])
    report = classification_report(labels, probabilities.argmax(axis=1), args.classes)
    decision["test_recall"], decision["test_false_alarm_rate"] = alarm_rates(
        probabilities[:, target], labels == target, threshold
    )
    report["skipped_undecodable"] = failed
    report["labels"] = {path.name: args.classes[label_of[path]] for path in kept}
    report["predictions"] = {path.name: [float(p) for p in row] for path, row in zip(kept, probabilities, strict=True)}
    report["seconds"] = time.perf_counter() - started
    return decision, report


def main(argv=None):
    job_started = time.perf_counter()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    keras.utils.set_random_seed(SEED)
    print(
        f"classes={','.join(args.classes)} epochs={args.epochs} learning_rate={args.learning_rate} "
        f"batch_size={args.batch_size} train_only_top_layer={args.train_only_top_layer}",
        flush=True,
    )

    train_images, train_labels, train_skipped = load_split(args.training, args.classes, args.image_size)
    val_images, val_labels, val_skipped = load_split(args.validation, args.classes, args.image_size)
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
    print(f"evaluation accuracy={report['accuracy']:.6f}", flush=True)
    print(f"evaluation macro_f1={report['macro_f1']:.6f}", flush=True)

    export_dir = export(model, args)
    print(f"saved model to {export_dir}", flush=True)

    held_out_started = time.perf_counter()
    decision, test_report = held_out_evaluation(args, export_dir)
    print(
        f"held-out evaluation seconds={time.perf_counter() - held_out_started:.2f} (threshold on validation, test set)",
        flush=True,
    )
    if test_report is not None:
        report["test"] = test_report
        print(f"test images={test_report['images']} seconds={test_report['seconds']:.2f}", flush=True)
        print(evaluation_table(test_report), flush=True)
        print(f"test accuracy={test_report['accuracy']:.6f}", flush=True)
        print(f"test macro_f1={test_report['macro_f1']:.6f}", flush=True)
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
