"""train.py launched as the TensorFlow training image launches it, on tiny generated images."""

import base64
import json
import math
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import CLASSES, ROOT, class_image, job_maker, write_dataset

METRICS = json.loads((ROOT / "training" / "metric-definitions.json").read_text())
# Weights can't be downloaded here: random weights on small images, as the test hyperparameters say.
TEST_ONLY = {"base_weights": "none", "image_size": "64"}
TRAINED_MODEL_FIXTURE = ROOT / ".test-output" / "trained-model"
LEARNING_EVENT = {"epochs": 12, "learningRate": 0.01, "batchSize": 8, "trainOnlyTopLayer": True, "dropoutRate": 0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, moto_s3):
    """One complete job: the toolkit downloads the stack's archive from S3 and runs train.py."""
    make_job = job_maker(moto_s3, tmp_path_factory.mktemp("learning"))
    # The counts data prep would report: Boots and Chi each hold one broken file.
    counts = {c: 12 for c in CLASSES} | {"Boots": 13, "Chi": 13}
    job, hyperparameters = make_job(LEARNING_EVENT, TEST_ONLY, training_counts=counts, name="learning")
    code, log = job.run()
    assert code == 0, log[-4000:]
    keep_for_cli_tests(job)
    return job, hyperparameters, log


def keep_for_cli_tests(job):
    """The CLI tests (mocha) serve this model from a local endpoint stand-in, with sample images per class."""
    target = TRAINED_MODEL_FIXTURE
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(job.model_dir, target)
    shutil.copytree(job.base / "input" / "data" / "validation", target / "samples")
    shutil.copy(job.output_data_dir / "evaluation.json", target / "evaluation.json")


def jpeg_samples():
    rng = np.random.default_rng(99)
    return [class_image(i, rng) for i in range(len(CLASSES))]


def test_toolkit_received_the_trigger_hyperparameters(trained):
    job, hyperparameters, log = trained
    # Balanced weights N / (K * n_c) with N = 86, K = 7, by hand: 86/91 and 86/84.
    assert json.loads(hyperparameters["class_weights"])["Boots"] == pytest.approx(0.945055)
    # The toolkit decodes the JSON object and hands it to the script as Class=weight,...
    assert "--class_weights Boots=0.945055,Chi=0.945055,Kappa=1.02381," in log
    assert "class_weights Boots=0.945055 Chi=0.945055 Kappa=1.02381 Mu=1.02381 NoCat=1.02381" in log
    assert f"classes={','.join(CLASSES)}" in log
    assert "skipped_undecodable=2" in log


def test_saved_model_serves_jpeg_bytes(trained):
    job, _, _ = trained
    model = tf.saved_model.load(str(job.model_dir / "1"))
    serve = model.signatures["serving_default"]
    samples = jpeg_samples()
    outputs = serve(image_bytes=tf.constant(samples))
    assert len(outputs) == 1, "a single output, so TF Serving answers a bare predictions list"
    probabilities = next(iter(outputs.values())).numpy()
    assert probabilities.shape == (len(samples), len(CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_tf_serving_b64_request_gives_the_same_answer(trained):
    job, _, _ = trained
    samples = jpeg_samples()
    body = json.dumps({"instances": [{"b64": base64.b64encode(s).decode()} for s in samples]})
    assert len(body) < json.loads((ROOT / "training" / "contract.json").read_text())["serving"]["maxRequestBytes"]
    # TF Serving's REST layer: each {"b64": ...} becomes the bytes of one tf.string element.
    decoded = [base64.b64decode(instance["b64"]) for instance in json.loads(body)["instances"]]
    serve = tf.saved_model.load(str(job.model_dir / "1")).signatures["serving_default"]
    via_json = next(iter(serve(image_bytes=tf.constant(decoded)).values())).numpy()
    direct = next(iter(serve(image_bytes=tf.constant(samples)).values())).numpy()
    np.testing.assert_allclose(via_json, direct, rtol=1e-6)


def test_class_names_and_evaluation(trained):
    job, _, _ = trained
    assert json.loads((job.model_dir / "class_names.json").read_text()) == CLASSES
    report = json.loads((job.output_data_dir / "evaluation.json").read_text())
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (len(CLASSES), len(CLASSES))
    assert matrix.sum() == report["validation_images"] == 4 * len(CLASSES)
    assert set(report["per_class"]) == set(CLASSES)
    for name, row in zip(CLASSES, matrix):
        assert report["per_class"][name]["support"] == row.sum()
    assert report["accuracy"] >= 0.6, f"validation accuracy {report['accuracy']}: the model did not learn the colours"


def test_every_metric_regex_matches_the_log(trained):
    _, _, log = trained
    for metric in METRICS:
        matches = re.findall(metric["Regex"], log)
        assert matches, f"{metric['Name']} regex {metric['Regex']!r} matched nothing"
        assert all(math.isfinite(float(m)) for m in matches), f"{metric['Name']}: {matches}"
    assert len(re.findall(r"^epoch=\d+ ", log, flags=re.M)) >= 1
    assert "━" not in log and "ETA" not in log, "no progress bars"


def test_killed_job_resumes_from_its_checkpoint(make_job):
    job, _ = make_job({"epochs": 4, "batchSize": 8}, TEST_ONLY, name="spot")
    process = job.start()
    deadline = time.time() + 180
    while "epoch=2 " not in job.log_path.read_text():
        assert process.poll() is None, job.log_path.read_text()[-3000:]
        assert time.time() < deadline, "no second epoch in time"
        time.sleep(0.5)
    # Spot interruption: the whole container stops at once.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    state = json.loads((job.base / "checkpoints" / "state.json").read_text())
    assert state["completed_epochs"] >= 2

    mark = len(job.log_path.read_text())
    code, log = job.run()
    resumed = log[mark:]
    assert code == 0, resumed[-3000:]
    assert f"resuming from checkpoint: phase={state['phase']} completed_epochs={state['completed_epochs']}" in resumed
    epochs_run = [int(n) for n in re.findall(r"^epoch=(\d+) ", resumed, flags=re.M)]
    assert epochs_run and epochs_run[0] == state["completed_epochs"] + 1
    assert (job.model_dir / "1" / "saved_model.pb").is_file()


def test_missing_class_stops_with_its_name(make_job, tmp_path):
    dataset = write_dataset(tmp_path / "no-wolf")
    for split in ("training", "validation"):
        for image in (dataset / split / "Wolf").iterdir():
            image.unlink()
    job, _ = make_job({"epochs": 1}, TEST_ONLY, dataset=dataset, name="no-wolf-job")
    code, log = job.run()
    assert code != 0
    assert "class 'Wolf' has no images" in log


def test_unknown_hyperparameter_is_named(make_job):
    job, _ = make_job({"epochs": 1}, {**TEST_ONLY, "epoch_count": "3"}, name="typo")
    code, log = job.run()
    assert code != 0
    assert "unknown hyperparameter(s): --epoch_count" in log
