"""What every part of the job shares: the contract, and how an expected fault ends the job
(a one-line reason, which SageMaker shows as the FailureReason).
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTRACT = json.loads((HERE / "contract.json").read_text())
DEFAULTS = CONTRACT["hyperparameterDefaults"]
RANGES = CONTRACT["hyperparameterRanges"]
LOG_LINES = json.loads((HERE / "metric-definitions.json").read_text())
SERVING = CONTRACT["serving"]
DECISION = CONTRACT["decision"]
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


def figures_of(line):
    """The figures a line of metric-definitions.json carries, in the order it prints them."""
    return [metric["figure"] for metric in LOG_LINES["metrics"] if metric["line"] == line]


def log_line(line, figures=None, **fields):
    """A log line as metric-definitions.json lays it out: the metrics SageMaker reads come from these."""
    pairs = " ".join(
        LOG_LINES["figure"].format(name=name, value=f"{value:.6f}") for name, value in (figures or {}).items()
    )
    return LOG_LINES["lines"][line].format(figures=pairs, **fields)
