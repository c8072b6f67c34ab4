"""What the served model costs on CPU: size on disk, load time, single-image latency, peak memory.

    npm run bench:model

Exports a model with training/train.py at the serving input size (224 pixels; random base
weights, so nothing is downloaded), then, in a fresh process as TF Serving would, loads it
and times single-image requests through serving_default with camera-sized JPEGs.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 200
WARM_UP = 5


def make_dataset(root):
    import numpy as np
    import tensorflow as tf

    classes = json.loads((ROOT / "training" / "contract.json").read_text())["classes"]
    rng = np.random.default_rng(0)
    for split, count in (("training", 4), ("validation", 2)):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = np.clip(rng.normal(40 * index, 30, (120, 160, 3)), 0, 255).astype(np.uint8)
                (folder / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())


def export_model(work):
    make_dataset(work / "data")
    command = [
        sys.executable,
        str(ROOT / "training" / "train.py"),
        "--training",
        str(work / "data" / "training"),
        "--validation",
        str(work / "data" / "validation"),
        "--model-dir",
        str(work / "model"),
        "--epochs",
        "1",
        "--batch_size",
        "8",
        "--base_weights",
        "none",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")} | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return work / "model" / "1"


def serve(export_dir):
    """Runs in its own process, so that the peak memory is serving's alone."""
    import numpy as np
    import tensorflow as tf

    started = time.perf_counter()
    serving = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    load_seconds = time.perf_counter() - started
    rng = np.random.default_rng(1)
    # A garden camera's frame: 640x480 JPEG.
    frames = [tf.io.encode_jpeg(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).numpy() for _ in range(8)]
    for frame in frames[:WARM_UP]:
        serving(image_bytes=tf.constant([frame]))
    latencies = []
    for i in range(REQUESTS):
        started = time.perf_counter()
        serving(image_bytes=tf.constant([frames[i % len(frames)]]))
        latencies.append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "load": load_seconds,
                "p50": float(np.percentile(latencies, 50)),
                "p95": float(np.percentile(latencies, 95)),
                "peak_mb": peak_mb,
            }
        )
    )


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as work:
        export_dir = export_model(Path(work))
        size_mb = sum(p.stat().st_size for p in export_dir.rglob("*") if p.is_file()) / 1e6
        env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
        measured = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--serve", str(export_dir)],
                check=True,
                env=env,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    print(
        f"model: {size_mb:.1f} MB, load {measured['load']:.1f} s, p50 {measured['p50'] * 1000:.0f} ms, "
        f"p95 {measured['p95'] * 1000:.0f} ms, peak {measured['peak_mb']:.0f} MB RSS"
    )


if __name__ == "__main__":
    main()
