import json
import os
import shutil
import subprocess
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


def class_image(class_index, rng):
    pixels = np.array(COLOURS[class_index])[None, None, :] + rng.normal(0, 8, (IMAGE_SIDE, IMAGE_SIDE, 3))
    return tf.io.encode_jpeg(np.clip(pixels, 0, 255).astype(np.uint8)).numpy()


def write_dataset(root, per_class_training=12, per_class_validation=4, classes=CLASSES, seed=0, per_class_test=6):
    """Generated JPEGs under training/, validation/ and test/<Class>/, plus a truncated and a corrupt training file."""
    rng = np.random.default_rng(seed)
    for split, count in (
        ("training", per_class_training),
        ("validation", per_class_validation),
        ("test", per_class_test),
    ):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                (folder / f"{split}-{name}-{i:03d}.jpg").write_bytes(class_image(index % len(COLOURS), rng))
    intact = (root / "training" / classes[0] / f"training-{classes[0]}-000.jpg").read_bytes()
    (root / "training" / classes[0] / "truncated.jpg").write_bytes(intact[: len(intact) // 3])
    (root / "training" / classes[1] / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
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

    def __init__(self, base_dir, hyperparameters, dataset, archive=None, base_weights=None, environment=None):
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
        names = ("training", "validation", "test", "code", "base_weights")
        channels = {name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"} for name in names}
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        data = base_dir / "input" / "data"
        for name in names:
            (data / name).parent.mkdir(parents=True, exist_ok=True)
        for name in ("training", "validation", "test"):
            target = data / name
            if not target.exists():
                target.symlink_to(dataset / name, target_is_directory=True)
        for name, source in (("code", archive), ("base_weights", base_weights)):
            (data / name).mkdir(exist_ok=True)
            if source is not None:
                shutil.copy(source, data / name / Path(source).name)
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
        counts = training_counts or {c: 12 for c in CLASSES}
        inputs = stack_training_inputs(tmp_path / f"{name}-archive", event, counts)
        hyperparameters = dict(inputs["hyperParameters"])
        hyperparameters.update(extra_hyperparameters or {})
        job = SageMakerJob(
            tmp_path / name, hyperparameters, dataset, inputs["archive"]["path"], base_weights, environment
        )
        # What SageMaker reads from the job's log: the regexes the trigger sends.
        job.metric_definitions = inputs["metricDefinitions"]
        return job, hyperparameters

    return make


@pytest.fixture
def make_job(tmp_path):
    return job_maker(tmp_path)
