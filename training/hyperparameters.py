"""The hyperparameters as the sagemaker-training toolkit hands them (strings, --key value),
parsed and checked.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from job import CONTRACT, DECISION, DEFAULTS, fail, in_sagemaker, sagemaker_base_dir


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
