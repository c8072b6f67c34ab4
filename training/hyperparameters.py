"""The hyperparameters as the sagemaker-training toolkit hands them (strings, --key value),
parsed and checked.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from job import CONTRACT, DECISION, DEFAULTS, RANGES, fail, in_sagemaker, sagemaker_base_dir


class HyperparameterParser(argparse.ArgumentParser):
    """argparse whose errors end the job through fail(), naming the hyperparameter."""

    def error(self, message):
        self.print_usage(sys.stderr)
        fail(f"Invalid hyperparameters: {message}")


def parse_bool(text):
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def number(kind, low, high=None, low_inclusive=True):
    """An argparse type: a `kind` (int or float) from `low` (or above it) up to `high`.

    Integers reach `high`, numbers stay below it: the words and the rule of lib/eventFields.ts,
    so the trigger and the job refuse alike.
    """
    if kind is int:
        allowed = f"an integer of at least {low}" if high is None else f"an integer from {low} to {high}"
    else:
        allowed = f"a number {'at least' if low_inclusive else 'greater than'} {low}"
        allowed += "" if high is None else f" and less than {high}"

    def in_range(value):
        above = value >= low if low_inclusive else value > low
        below = high is None or (value <= high if kind is int else value < high)
        return above and below

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not in_range(value):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    return parse


def contract_range(name):
    """The argparse type of a hyperparameter whose range training/contract.json gives."""
    bounds = RANGES[name]
    kind = int if bounds["kind"] == "integer" else float
    return number(kind, bounds["min"], bounds["max"], low_inclusive=kind is int or bounds.get("minInclusive", False))


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


def hyperparameter_types():
    """Each hyperparameter with a default in the contract, and how its text is read.

    The numeric ones by their ranges in training/contract.json, the rest by their words.
    """
    words = {
        "train_only_top_layer": parse_bool,
        "augmentation": parse_bool,
        "augmentation_random_flip": parse_flip,
        "early_stopping": parse_bool,
        "base_weights": parse_base_weights,
    }
    return {name: words.get(name) or contract_range(name) for name in DEFAULTS}


def add_hyperparameters(parser):
    """The hyperparameters the trigger sends (and base_weights and image_size, which tests set)."""
    hp = parser.add_argument_group("hyperparameters")
    for name, parse in hyperparameter_types().items():
        hp.add_argument(f"--{name}", type=parse, default=DEFAULTS[name])
    hp.add_argument("--classes", type=parse_classes, default=CONTRACT["classes"])
    hp.add_argument("--class_weights", type=parse_class_weights, default=None)
    hp.add_argument("--target_class", default=DECISION["targetClass"])
    hp.add_argument(
        "--max_false_alarm_rate", type=contract_range("max_false_alarm_rate"), default=DECISION["maxFalseAlarmRate"]
    )


def add_folders(parser, env):
    """The channels and output folders, which SageMaker hands the script as SM_* variables."""
    paths = parser.add_argument_group("folders (SageMaker sets them through SM_* variables)")
    for flag, variable in (
        ("training", "SM_CHANNEL_TRAINING"),
        ("validation", "SM_CHANNEL_VALIDATION"),
        ("test", "SM_CHANNEL_TEST"),
        ("manifest", "SM_CHANNEL_MANIFEST"),
        ("model_dir", "SM_MODEL_DIR"),
        ("output_data_dir", "SM_OUTPUT_DATA_DIR"),
        ("base_weights_dir", "SM_CHANNEL_BASE_WEIGHTS"),
    ):
        names = {f"--{flag}", f"--{flag.replace('_', '-')}"}
        paths.add_argument(*sorted(names), dest=flag, type=optional_path, default=env.get(variable))
    # Outside SageMaker no checkpoint folder is used unless one is given: a laptop run must
    # neither write to /opt/ml nor resume some earlier run.
    default_checkpoints = sagemaker_base_dir() / "checkpoints" if in_sagemaker() else None
    paths.add_argument("--checkpoint-dir", dest="checkpoint_dir", type=optional_path, default=default_checkpoints)


def argument_parser():
    parser = HyperparameterParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    add_hyperparameters(parser)
    add_folders(parser, os.environ)
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
    return args
