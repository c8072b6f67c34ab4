import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = json.loads((ROOT / "training" / "contract.json").read_text())
CLASSES = CONTRACT["classes"]
MODEL_BUCKET = "bootboots-models-123456789012"
# One clearly different colour per class, in class order.
COLOURS = [(220, 40, 40), (40, 200, 40), (40, 40, 220), (230, 230, 40), (128, 128, 128), (220, 40, 220), (40, 220, 220)]
IMAGE_SIDE = 48


# The pictures' noise: little enough that a model from random weights tells the classes apart (test accuracy
# above 0.9, for the screenshots of a model that works), enough that it hesitates over a few.
NOISE = 4


def class_image(class_index, rng):
    """A learnable picture of a class: its colour, with a little noise."""
    pixels = np.array(COLOURS[class_index])[None, None, :] + rng.normal(0, NOISE, (IMAGE_SIDE, IMAGE_SIDE, 3))
    return tf.io.encode_jpeg(np.clip(pixels, 0, 255).astype(np.uint8)).numpy()


# Frames per visit on each side, and the time between a visit's frames (the camera's PIR cooldown).
FRAMES_PER_VISIT = 2
FRAME_SECONDS = 30


def frame_visit(split, class_index, index):
    """The visit of a generated frame and its capture time: visits of FRAMES_PER_VISIT frames an hour apart,
    each visit's frames taken in the reverse order of their names (so that their order comes from the manifest)."""
    visit, frame = divmod(index, FRAMES_PER_VISIT)
    day = 10 * ["training", "validation", "test"].index(split) + class_index
    start = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=day, hours=visit)
    captured = start + timedelta(seconds=(FRAMES_PER_VISIT - 1 - frame) * FRAME_SECONDS)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    return f"garden@{iso(start)}", iso(captured)


def write_dataset(root, per_class_training=20, per_class_validation=4, classes=CLASSES, seed=0, per_class_test=6):
    """Generated JPEGs under training/, validation/ and test/<Class>/, plus a truncated and a corrupt training file,
    and the manifest data prep would write: each frame's visit and capture time."""
    rng = np.random.default_rng(seed)
    images = []
    for split, count in (
        ("training", per_class_training),
        ("validation", per_class_validation),
        ("test", per_class_test),
    ):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                file_name = f"{split}-{name}-{i:03d}.jpg"
                (folder / file_name).write_bytes(class_image(index % len(COLOURS), rng))
                visit, captured = frame_visit(split, index, i)
                key = f"datasets/generated/{split}/{name}/{file_name}"
                images.append({"key": key, "class": name, "split": split, "visit": visit, "capturedAt": captured})
    intact = (root / "training" / classes[0] / f"training-{classes[0]}-000.jpg").read_bytes()
    (root / "training" / classes[0] / "truncated.jpg").write_bytes(intact[: len(intact) // 3])
    (root / "training" / classes[1] / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "manifest.json").write_text(json.dumps({"datasetId": "generated", "images": images}))
    return root


def stack_training_inputs(tmp_path, event, training_counts):
    """The archive the stack builds and the hyperparameters the trigger sends, from the TypeScript code."""
    output = subprocess.run(
        [
            "node",
            "-r",
            "ts-node/register/transpile-only",
            "scripts/training-inputs.ts",
            str(tmp_path),
            json.dumps(event),
            json.dumps(training_counts),
            MODEL_BUCKET,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


class SageMakerJob:
    """A folder laid out like /opt/ml, run by the sagemaker-training toolkit's `train` launcher.

    As SageMaker does for a job with network isolation, every input is a channel folder:
    the datasets, the script archive (`code`) and the ImageNet weights (`base_weights`).
    The trigger names the archive by its path inside the container (/opt/ml/...), which
    here is this folder.
    """

    def __init__(self, base_dir, hyperparameters, dataset, channels, archive=None, base_weights=None, environment=None):
        self.base = base_dir
        self.extra_environment = environment or {}
        config = base_dir / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        hyperparameters = {
            k: v.replace("/opt/ml/", f"{base_dir}/", 1) if k == "sagemaker_submit_directory" else v
            for k, v in hyperparameters.items()
        }
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        # The toolkit waits until every host name resolves; "algo-1" only does inside SageMaker.
        (config / "resourceconfig.json").write_text(
            json.dumps({"current_host": "localhost", "hosts": ["localhost"], "network_interface_name": "lo"})
        )
        # The channels the deployed trigger sends, by name (scripts/training-inputs.ts prints them).
        config_of = {name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"} for name in channels}
        (config / "inputdataconfig.json").write_text(json.dumps(config_of))
        data = base_dir / "input" / "data"
        data.mkdir(parents=True, exist_ok=True)
        files = {"code": archive, "base_weights": base_weights, "manifest": dataset / "manifest.json"}
        for name in channels:
            target = data / name
            if name in ("training", "validation", "test"):
                if not target.exists():
                    target.symlink_to(dataset / name, target_is_directory=True)
                continue
            target.mkdir(exist_ok=True)
            source = files[name]
            if source is not None and Path(source).is_file():
                shutil.copy(source, target / Path(source).name)
        for folder in ("model", "output/data", "checkpoints", "code"):
            (base_dir / folder).mkdir(parents=True, exist_ok=True)
        self.log_path = base_dir / "job.log"

    @property
    def model_dir(self):
        return self.base / "model"

    @property
    def output_data_dir(self):
        return self.base / "output" / "data"

    @property
    def failure_reason(self):
        failure = self.base / "output" / "failure"
        return failure.read_text() if failure.exists() else None

    def environment(self):
        env = dict(os.environ)
        env.update(SAGEMAKER_BASE_DIR=str(self.base), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        env.update(self.extra_environment)
        # The toolkit runs the script with the interpreter on PATH: the venv's, as in the image.
        env["PATH"] = f"{Path(os.sys.executable).parent}:{env['PATH']}"
        return env

    def start(self):
        launcher = Path(os.sys.executable).parent / "train"
        log = open(self.log_path, "a")
        return subprocess.Popen(
            [str(launcher)], env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def run(self, timeout=240):
        process = self.start()
        process.wait(timeout=timeout)
        return process.returncode, self.log_path.read_text()


def job_maker(tmp_path):
    """Makes SageMakerJobs in tmp_path that train with the stack's archive and the trigger's hyperparameters."""

    def make(
        event,
        extra_hyperparameters=None,
        dataset=None,
        training_counts=None,
        name="job",
        base_weights=None,
        environment=None,
    ):
        dataset = dataset or write_dataset(tmp_path / f"{name}-dataset")
        counts = training_counts or {c: 20 for c in CLASSES}
        inputs = stack_training_inputs(tmp_path / f"{name}-archive", event, counts)
        hyperparameters = dict(inputs["hyperParameters"])
        hyperparameters.update(extra_hyperparameters or {})
        job = SageMakerJob(
            tmp_path / name,
            hyperparameters,
            dataset,
            inputs["channels"],
            inputs["archive"]["path"],
            base_weights,
            environment,
        )
        # What SageMaker reads from the job's log: the regexes the trigger sends.
        job.metric_definitions = inputs["metricDefinitions"]
        return job, hyperparameters

    return make


@pytest.fixture
def make_job(tmp_path):
    return job_maker(tmp_path)
