"""train.py launched as the TensorFlow training image launches it, on tiny generated images."""

import base64
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import CLASSES, CONTRACT, IMAGE_SIDE, ROOT, class_image, job_maker, write_dataset

CONTRACT_BASE_WEIGHTS = CONTRACT["baseWeights"]["fileName"]

# Weights can't be downloaded here: random weights on small images, as the test hyperparameters say.
TEST_ONLY = {"base_weights": "none", "image_size": "64"}
TRAINED_MODEL_FIXTURE = ROOT / ".test-output" / "trained-model"
WEAK_MODEL_FIXTURE = ROOT / ".test-output" / "weak-model"
LEARNING_EVENT = {"epochs": 12, "learningRate": 0.01, "batchSize": 8, "trainOnlyTopLayer": True, "dropoutRate": 0}
# The counts data prep would report for write_dataset's images: Boots and Chi each hold one broken file.
LEARNING_COUNTS = {c: 20 for c in CLASSES} | {"Boots": 21, "Chi": 21}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One complete job: the toolkit unpacks the stack's archive from the code channel and runs train.py."""
    make_job = job_maker(tmp_path_factory.mktemp("learning"))
    job, hyperparameters = make_job(LEARNING_EVENT, TEST_ONLY, training_counts=LEARNING_COUNTS, name="learning")
    code, log = job.run()
    assert code == 0, log[-4000:]
    keep_for_cli_tests(job)
    return job, hyperparameters, log


def fixture_source_digest():
    """sha256 over the code that makes the fixture models (training/ and these tests), file by file in path
    order: the mocha suites compute the same (tests/support/endpointStandIn.ts) and refuse a model made by
    other code."""
    files = [*(ROOT / "training").rglob("*"), ROOT / "tests/python/conftest.py", ROOT / "tests/python/test_train.py"]
    digest = hashlib.sha256()
    for file in sorted(
        (f for f in files if f.is_file() and "__pycache__" not in f.parts), key=lambda f: f.relative_to(ROOT).as_posix()
    ):
        digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def keep_for_cli_tests(job, target=TRAINED_MODEL_FIXTURE):
    """The CLI tests (mocha) serve this model from a local endpoint stand-in, with sample images per class,
    and compare it with another through the job's output (evaluation.json, decision.json)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(job.model_dir, target)
    shutil.copytree(job.base / "input" / "data" / "validation", target / "samples")
    shutil.copytree(job.base / "input" / "data" / "test", target / "test-samples")
    shutil.copytree(job.output_data_dir, target / "output")
    shutil.copy(job.output_data_dir / "evaluation.json", target / "evaluation.json")
    (target / "source.sha256").write_text(fixture_source_digest())


@pytest.fixture(scope="module")
def weak(tmp_path_factory, trained):
    """A worse model on the same data: one epoch of the head at a tiny learning rate."""
    job, _, _ = trained
    dataset = (job.base / "input" / "data" / "training").resolve().parent
    make_job = job_maker(tmp_path_factory.mktemp("weak"))
    weak_job, _ = make_job(
        {"epochs": 1, "learningRate": 0.00001, "batchSize": 8, "trainOnlyTopLayer": True, "dropoutRate": 0},
        TEST_ONLY,
        dataset=dataset,
        training_counts=LEARNING_COUNTS,
        name="weak",
    )
    code, log = weak_job.run()
    assert code == 0, log[-4000:]
    keep_for_cli_tests(weak_job, WEAK_MODEL_FIXTURE)
    return weak_job


def expected_best_epoch(history, min_delta):
    best, best_epoch = None, 0
    for epoch, value in enumerate(history, start=1):
        if best is None or value > best + min_delta:
            best, best_epoch = value, epoch
    return best_epoch


def jpeg_samples():
    rng = np.random.default_rng(99)
    return [class_image(i, rng) for i in range(len(CLASSES))]


def test_toolkit_received_the_trigger_hyperparameters(trained):
    job, hyperparameters, log = trained
    # Balanced weights N / (K * n_c) with N = 142, K = 7, by hand: 142/147 and 142/140.
    assert json.loads(hyperparameters["class_weights"])["Boots"] == pytest.approx(0.965986)
    # The toolkit decodes the JSON object and hands it to the script as Class=weight,...
    assert "--class_weights Boots=0.965986,Chi=0.965986,Kappa=1.014286," in log
    assert "class_weights Boots=0.965986 Chi=0.965986 Kappa=1.01429 Mu=1.01429 NoCat=1.01429" in log
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
    for name, row in zip(CLASSES, matrix, strict=True):
        assert report["per_class"][name]["support"] == row.sum()
    assert report["accuracy"] >= 0.6, f"validation accuracy {report['accuracy']}: the model did not learn the colours"


def test_every_metric_regex_matches_the_log(trained):
    job, _, log = trained
    for metric in job.metric_definitions:
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
    assert len(state["early_stopping"]["val_accuracy_by_epoch"]) == state["completed_epochs"]

    mark = len(job.log_path.read_text())
    code, log = job.run()
    resumed = log[mark:]
    assert code == 0, resumed[-3000:]
    assert f"resuming from checkpoint: phase={state['phase']} completed_epochs={state['completed_epochs']}" in resumed
    epochs_run = [int(n) for n in re.findall(r"^epoch=(\d+) ", resumed, flags=re.M)]
    assert epochs_run and epochs_run[0] == state["completed_epochs"] + 1
    assert (job.model_dir / "1" / "saved_model.pb").is_file()
    # The early-stopping record spans the whole job: the epochs before the kill are in it,
    # and the best is chosen over all.
    report = json.loads((job.output_data_dir / "evaluation.json").read_text())
    history = report["val_accuracy_by_epoch"]
    assert history[: state["completed_epochs"]] == state["early_stopping"]["val_accuracy_by_epoch"]
    assert len(history) == 4
    assert report["best_epoch"] == expected_best_epoch(history, min_delta=0.001)
    assert report["best_val_accuracy"] == history[report["best_epoch"] - 1]


def test_a_failed_job_tells_the_user_why_in_its_failure_reason(make_job, tmp_path):
    """What DescribeTrainingJob shows as FailureReason: the failure file, one line, naming the fault."""
    empty_class = write_dataset(tmp_path / "no-wolf")
    for split in ("training", "validation"):
        for image in (empty_class / split / "Wolf").iterdir():
            image.unlink()
    missing_folder = write_dataset(tmp_path / "no-mu-folder")
    shutil.rmtree(missing_folder / "validation" / "Mu")
    cases = [
        (
            {**TEST_ONLY, "epochs": "abc"},
            None,
            r"^Invalid hyperparameters: argument --epochs: expected an integer from 1 to 10000, got 'abc'$",
        ),
        (
            {**TEST_ONLY, "class_weights": json.dumps({c: 1.0 for c in CLASSES[:-1]})},
            None,
            r"^Invalid hyperparameters: class_weights must give one weight per class; "
            r"unknown \[\], missing \['Wolf'\]$",
        ),
        (
            {**TEST_ONLY, "epoch_count": "3"},
            None,
            r"^Invalid hyperparameters: unknown hyperparameter\(s\): --epoch_count$",
        ),
        (
            TEST_ONLY,
            empty_class,
            r"^class 'Wolf' has no images in .*/training/Wolf: "
            r"every class in 'classes' needs training and validation images",
        ),
        (TEST_ONLY, missing_folder, r"^class 'Mu' has no images in .*/validation/Mu:"),
    ]
    for index, (hyperparameters, dataset, reason) in enumerate(cases):
        job, _ = make_job({"epochs": 1}, hyperparameters, dataset=dataset, name=f"failing-{index}")
        code, log = job.run()
        assert code != 0, log[-2000:]
        assert job.failure_reason is not None, log[-2000:]
        assert "\n" not in job.failure_reason.strip()
        assert re.search(reason, job.failure_reason), job.failure_reason
        assert "ERROR: " + job.failure_reason in log


def test_trains_from_the_base_weights_channel_with_the_network_unreachable(make_job, tmp_path):
    """The ImageNet weights come as a channel (here a file made from a randomly initialised MobileNetV2)."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    weights = tmp_path / CONTRACT_BASE_WEIGHTS
    base = keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False, weights=None)
    # The format of the published file: Keras' legacy HDF5 weights, layer by layer.
    with h5py.File(weights, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, base)
    unreachable = {
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "KERAS_HOME": str(tmp_path / "empty-keras-home"),
    }
    job, hyperparameters = make_job(
        {"epochs": 1}, {"image_size": "64"}, name="isolated", base_weights=weights, environment=unreachable
    )
    assert "base_weights" not in hyperparameters, "the trigger sends the default, imagenet"
    code, log = job.run()
    assert code == 0, log[-3000:]
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert f"base weights: {CONTRACT_BASE_WEIGHTS} sha256={digest}" in log
    assert "Downloading data from" not in log
    assert (job.model_dir / "1" / "saved_model.pb").is_file()


def test_export_carries_only_what_serving_needs(trained):
    job, _, _ = trained
    saved = tf.train.list_variables(str(job.model_dir / "1" / "variables" / "variables"))
    names = [name.lower() for name, _ in saved if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")]
    leftovers = [
        n
        for n in names
        if any(word in n for word in ("adam", "optimizer", "iteration", "momentum", "velocity", "dropout"))
    ]
    assert leftovers == []
    # MobileNetV2 (no top) and the dense head's kernel and bias: nothing else.
    import keras

    expected = len(keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False, weights=None).weights) + 2
    assert len(names) == expected


def test_outside_sagemaker_no_checkpoint_folder_is_used_unless_given(tmp_path):
    dataset = write_dataset(tmp_path / "data", per_class_training=3, per_class_validation=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update(SAGEMAKER_BASE_DIR=str(tmp_path / "opt-ml"), TF_CPP_MIN_LOG_LEVEL="2")
    command = [
        os.sys.executable,
        str(ROOT / "training" / "train.py"),
        "--training",
        str(dataset / "training"),
        "--validation",
        str(dataset / "validation"),
        "--model-dir",
        str(tmp_path / "model"),
        "--epochs",
        "1",
        "--base_weights",
        "none",
        "--image_size",
        "32",
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (tmp_path / "opt-ml").exists(), "nothing under the SageMaker folders on a laptop"
    assert not (tmp_path / "model" / "checkpoints").exists()
    given = subprocess.run(
        [*command, "--checkpoint-dir", str(tmp_path / "ckpt")], env=env, capture_output=True, text=True, timeout=240
    )
    assert given.returncode == 0, given.stderr[-3000:]
    assert (tmp_path / "ckpt" / "state.json").is_file()


def test_a_checkpoint_of_another_run_is_not_resumed(trained, make_job):
    first, _, _ = trained
    first_state = json.loads((first.base / "checkpoints" / "state.json").read_text())
    assert first_state["completed_epochs"] >= 1
    # Another run in the same folder (another dropout and epoch count): it must not pick up the first one's epochs.
    other, _ = make_job(
        {**LEARNING_EVENT, "epochs": 2, "dropoutRate": 0.5},
        TEST_ONLY,
        training_counts=LEARNING_COUNTS,
        name="other-run",
    )
    shutil.rmtree(other.base / "checkpoints")
    shutil.copytree(first.base / "checkpoints", other.base / "checkpoints")
    code, log = other.run()
    assert code == 0, log[-3000:]
    assert re.search(
        r"checkpoint in \S+ belongs to another run \(differs in: dropout_rate, epochs\): starting afresh", log
    ), log[-3000:]
    assert "resuming from checkpoint" not in log
    assert [int(n) for n in re.findall(r"^epoch=(\d+) ", log, flags=re.M)] == [1, 2]


def training_modules(*names):
    """The job's own modules (training/), imported as train.py imports them: from its folder."""
    import importlib

    if str(ROOT / "training") not in sys.path:
        sys.path.insert(0, str(ROOT / "training"))
    return [importlib.import_module(name) for name in names]


def test_the_held_out_test_set_is_evaluated_through_the_exported_model(trained):
    job, _, log = trained
    report = json.loads((job.output_data_dir / "evaluation.json").read_text())
    test = report["test"]
    for key in ("accuracy", "macro_f1", "classes", "per_class", "confusion_matrix", "predictions", "labels"):
        assert key in test, key
    assert test["images"] == 6 * len(CLASSES) == len(test["predictions"]) == len(test["labels"])
    assert test["classes"] == CLASSES
    assert np.array(test["confusion_matrix"]).sum() == test["images"]
    # The per-image answers are the served model's own: JPEG bytes through serving_default.
    serve = tf.saved_model.load(str(job.model_dir / "1")).signatures["serving_default"]
    test_dir = job.base / "input" / "data" / "test"
    some = sorted(test_dir.glob("*/*.jpg"))[:5]
    served = next(iter(serve(image_bytes=tf.constant([p.read_bytes() for p in some])).values())).numpy()
    for path, row in zip(some, served, strict=True):
        np.testing.assert_allclose(test["predictions"][path.name], row, rtol=1e-5, atol=1e-6)
        assert test["labels"][path.name] == path.parent.name
    assert f"test accuracy={test['accuracy']:.6f}" in log
    # The validation answers too, for bootboots review: each validation file, its class and the served probabilities.
    validation_dir = job.base / "input" / "data" / "validation"
    assert report["validation_labels"] == {p.name: p.parent.name for p in validation_dir.glob("*/*.jpg")}
    assert set(report["validation_predictions"]) == set(report["validation_labels"])
    assert all(len(p) == len(CLASSES) for p in report["validation_predictions"].values())
    # Each class's figures with their 95 % intervals, on the test set and on validation.
    matrix = np.array(test["confusion_matrix"])
    for side in (test, report):
        for name in CLASSES:
            entry = side["per_class"][name]
            for figure in ("precision", "recall", "f1"):
                low, high = entry[f"{figure}_interval"]
                assert 0 <= low <= entry[figure] <= high <= 1, (name, figure, entry)
    boots = CLASSES.index("Boots")
    (evaluation,) = training_modules("evaluation")
    assert test["per_class"]["Boots"]["recall_interval"] == pytest.approx(
        evaluation.wilson_interval(int(matrix[boots, boots]), int(matrix[boots].sum()))
    )


def test_the_decision_threshold_is_stored_with_the_model(trained):
    job, _, log = trained
    decision = json.loads((job.model_dir / "decision.json").read_text())
    assert decision == json.loads((job.output_data_dir / "decision.json").read_text())
    figures = [f"{side}_{name}" for side in ("validation", "test") for name in ("recall", "false_alarm_rate")]
    assert set(decision) == {
        "target_class",
        "threshold",
        "max_false_alarm_rate",
        *figures,
        *(f"{figure}_{part}" for figure in figures for part in ("counts", "interval")),
        "interval_method",
        "limit_unresolved",
        "visit_rule",
    }
    assert decision["interval_method"] == "Wilson score, 95 %"
    assert decision["target_class"] == "Boots" and decision["max_false_alarm_rate"] == 0.01
    assert decision["validation_false_alarm_rate"] <= 0.01
    # Recomputed here from the served model's validation answers, it is the same threshold.
    data, evaluation, export = training_modules("data", "evaluation", "export")
    serve = tf.saved_model.load(str(job.model_dir / "1")).signatures["serving_default"]
    files = data.labelled_files(job.base / "input" / "data" / "validation", CLASSES)
    probabilities, kept, _ = export.serve_files(serve, [p for p, _ in files])
    labels = np.array([dict(files)[p] for p in kept])
    assert decision["threshold"] == pytest.approx(evaluation.decision_threshold(probabilities[:, 0], labels == 0, 0.01))
    report = json.loads((job.output_data_dir / "evaluation.json").read_text())
    target = np.array([p[0] for p in report["test"]["predictions"].values()])
    is_boots = np.array([label == "Boots" for label in report["test"]["labels"].values()])
    assert decision["test_recall"] == pytest.approx(float((target[is_boots] >= decision["threshold"]).mean()))
    assert decision["test_false_alarm_rate"] == pytest.approx(
        float((target[~is_boots] >= decision["threshold"]).mean())
    )
    # Each figure with its counts and interval: 4 Boots and 24 others on validation, 6 and 36 on test.
    called = target >= decision["threshold"]
    assert decision["test_recall_counts"] == [int(called[is_boots].sum()), 6]
    assert decision["test_false_alarm_rate_counts"] == [int(called[~is_boots].sum()), 36]
    assert decision["validation_recall_counts"][1] == 4 and decision["validation_false_alarm_rate_counts"][1] == 24
    for figure in figures:
        hits, of = decision[f"{figure}_counts"]
        assert decision[figure] == pytest.approx(hits / of)
        assert decision[f"{figure}_interval"] == pytest.approx(evaluation.wilson_interval(hits, of))
    # 24 other images cannot show a 1 % false-alarm rate: the job says so, in decision.json and in its log.
    assert decision["limit_unresolved"].startswith("the validation set has 24 non-target images, fewer than")
    assert f"warning: {decision['limit_unresolved']}" in log
    assert json.loads((job.output_data_dir / "evaluation.json").read_text())["decision"] == decision


def test_the_job_decides_per_visit_in_capture_order_and_measures_three_rules_per_visit(trained):
    """Visits of two frames from the manifest channel: 2 Boots and 12 other visits on validation, 3 and 18 on test."""
    job, _, log = trained
    (visits,) = training_modules("visits")
    decision = json.loads((job.model_dir / "decision.json").read_text())
    report = json.loads((job.output_data_dir / "evaluation.json").read_text())
    rule = decision["visit_rule"]
    assert rule["kind"] == "window_mean" and rule["frames"] in CONTRACT["decision"]["visitWindows"]
    assert rule["limit_unresolved"].startswith("the validation set has 12 non-target visits, fewer than 1 / ")
    assert rule["validation"]["recall_counts"][1] == 2 and rule["validation"]["false_alarm_counts"] == [0, 12]
    assert report["visits"]["from_manifest"] is True
    test = report["test_visits"]
    assert len(test) == 21 and sum(v["class"] == "Boots" for v in test) == 3
    # Each visit's frames in capture order, which the manifest gives as the reverse of their names.
    boots = next(v for v in test if v["frames"][0].startswith("test-Boots-001"))
    assert boots["frames"] == ["test-Boots-001.jpg", "test-Boots-000.jpg"]
    settings = {
        "visit_rule": rule,
        "frame_threshold": decision["threshold"],
        "firmware_min_confidence": CONTRACT["decision"]["firmwareMinConfidence"],
    }
    for entry in test:
        probabilities = np.array([report["test"]["predictions"][name] for name in entry["frames"]])
        visit = {"probabilities": probabilities}
        for name in ("visit", "frame", "firmware"):
            assert entry["acted_at"][name] == visits.acted_at(visit, name, 0, settings), (entry, name)
        assert entry["score"] == pytest.approx(visits.window_means(probabilities[:, 0], rule["frames"]).max())
    for name, figures in report["visits"]["test"].items():
        acted = [v for v in test if v["acted_at"][name] is not None]
        assert figures["recall_counts"] == [sum(v["class"] == "Boots" for v in acted), 3], name
        assert figures["false_alarm_counts"] == [sum(v["class"] != "Boots" for v in acted), 18], name
        assert figures["false_alarm_interval"] == pytest.approx(visits.wilson_interval(*figures["false_alarm_counts"]))
        line = f"visits test rule={name} recall={figures['recall_counts'][0]}/3 "
        assert line in log, line
    assert len(report["validation_visits"]) == 14


def test_the_served_model_repairs_a_jpeg_missing_its_end_marker(trained):
    job, _, _ = trained
    serve = tf.saved_model.load(str(job.model_dir / "1")).signatures["serving_default"]
    intact = jpeg_samples()[0]
    assert intact.endswith(b"\xff\xd9")
    truncated = intact[:-2]
    outputs = next(iter(serve(image_bytes=tf.constant([truncated, intact])).values())).numpy()
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-4)


def test_a_weaker_model_on_the_same_test_images_scores_lower(trained, weak):
    strong_job, _, _ = trained
    strong = json.loads((strong_job.output_data_dir / "evaluation.json").read_text())["test"]
    weak_report = json.loads((weak.output_data_dir / "evaluation.json").read_text())["test"]
    assert set(strong["predictions"]) == set(weak_report["predictions"])
    assert strong["macro_f1"] > weak_report["macro_f1"] + 0.2, (strong["macro_f1"], weak_report["macro_f1"])


def visit_scene(rng):
    """A garden scene of one visit: a background with blocks of colour, different for every visit."""
    pixels = np.full((IMAGE_SIDE, IMAGE_SIDE, 3), 90.0) + rng.normal(0, 6, (IMAGE_SIDE, IMAGE_SIDE, 3))
    for _ in range(4):
        x, y = rng.integers(0, IMAGE_SIDE - 12, 2)
        side = int(rng.integers(8, 16))
        pixels[y : y + side, x : x + side] = rng.integers(0, 255, 3)
    return tf.io.encode_jpeg(np.clip(pixels, 0, 255).astype(np.uint8)).numpy()


def old_way_side(name):
    """The split before visits: each frame by a hash of its own name (validation 20 %, test 10 %)."""
    fraction = int.from_bytes(hashlib.sha256(f"split:{name}".encode()).digest()[:6], "big") / 2**48
    return "validation" if fraction < 0.2 else "test" if fraction < 0.3 else "training"


def visits_split_frame_by_frame(root):
    """Six visits per class of three identical frames, split as before visits: each frame by its own hash.

    Returns each file's (side, visit)."""
    rng = np.random.default_rng(7)
    sides = {}
    for name in CLASSES:
        for visit in range(6):
            scene = visit_scene(rng)
            for frame in range(3):
                file_name = f"{name}-visit{visit}-frame{frame}.jpg"
                side = old_way_side(file_name)
                sides[file_name] = (side, f"{name}-{visit}")
                (root / side / name).mkdir(parents=True, exist_ok=True)
                (root / side / name / file_name).write_bytes(scene)
    for name in CLASSES:
        assert all((root / side / name).is_dir() for side in ("training", "validation")), name
    return sides


TUNER_JOB_NAME = "bootboots-0123456789abcdef012345-003-1a2b3c4d"


@pytest.fixture(scope="module")
def tuned_on_visits(tmp_path_factory):
    """One job as the tuner runs it (values drawn from the ranges, all strings, and the objective's name), on
    visits split frame by frame. Returns the job, its log, the values drawn and each file's (side, visit)."""
    objective = CONTRACT["tuning"]["objective"]["metric"]
    # The head alone (train_only_top_layer, one of its values): one phase to compile, the same objective line.
    drawn = {"learning_rate": "0.000316", "dropout_rate": "0.35", "train_only_top_layer": "true", "batch_size": "16"}
    root = tmp_path_factory.mktemp("visits")
    sides = visits_split_frame_by_frame(root / "dataset")
    counts = {c: sum(1 for s, v in sides.values() if s == "training" and v.startswith(f"{c}-")) for c in CLASSES}
    job, _ = job_maker(root)(
        {"epochs": 3},
        {**TEST_ONLY, **drawn, "_tuning_objective_metric": objective},
        dataset=root / "dataset",
        training_counts=counts,
        name="tuned",
        environment={"TRAINING_JOB_NAME": TUNER_JOB_NAME},
    )
    code, log = job.run()
    assert code == 0, log[-3000:]
    return job, log, drawn, sides


def test_a_training_job_of_the_tuner_prints_the_objective_every_epoch(tuned_on_visits):
    job, log, drawn, _ = tuned_on_visits
    tuning = CONTRACT["tuning"]
    objective = next(m for m in job.metric_definitions if m["Name"] == tuning["objective"]["metric"])
    assert set(drawn) == {r["name"] for r in tuning["continuous"] + tuning["categorical"]}
    for r in tuning["continuous"]:
        assert float(r["min"]) <= float(drawn[r["name"]]) <= float(r["max"])
    for r in tuning["categorical"]:
        assert drawn[r["name"]] in r["values"]
    values = re.findall(objective["Regex"], log)
    assert len(values) == 3, values
    assert all(0 <= float(v) <= 1 for v in values)
    # The tuner gives its training jobs one checkpoint location: each writes in a folder of its own.
    assert (job.base / "checkpoints" / TUNER_JOB_NAME / "state.json").is_file()
    assert not (job.base / "checkpoints" / "state.json").exists()


def test_the_job_counts_test_images_with_a_near_copy_in_training(tuned_on_visits):
    """A test frame whose visit also has a frame in training is a near-copy; the other test frames are not."""
    job, log, _, sides = tuned_on_visits
    training_visits = {visit for side, visit in sides.values() if side == "training"}
    test_frames = [(file, visit) for file, (side, visit) in sides.items() if side == "test"]
    expected = sorted(file for file, visit in test_frames if visit in training_visits)
    assert 0 < len(expected) < len(test_frames), (expected, test_frames)

    report = json.loads((job.output_data_dir / "evaluation.json").read_text())
    leak = report["near_copies"]
    # Without a manifest (a dataset made by hand), each frame is a visit of its own.
    assert report["visits"]["from_manifest"] is False and len(report["test_visits"]) == len(test_frames)
    assert leak["test_images"] == len(test_frames)
    assert leak["with_near_copy"] == len(expected), leak
    assert leak["min_similarity"] == 0.95
    assert len(leak["closest"]) == min(5, len(test_frames))
    for pair in leak["closest"][: len(expected)]:
        assert pair["test"] in expected and pair["similarity"] >= 0.95, pair
        assert sides[pair["training"]] == ("training", sides[pair["test"]][1]), pair
    similarities = [pair["similarity"] for pair in leak["closest"]]
    assert similarities == sorted(similarities, reverse=True)
    assert f"near-copies test_images={len(test_frames)} with_near_copy={len(expected)} min_similarity=0.95" in log
