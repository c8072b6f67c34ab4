"""Spot checkpoints: a run's identity, the early-stopping record carried across phases and
resumes, and reading a checkpoint back.
"""

import hashlib
import json

# What a checkpoint must share with this run to be resumed: the data and every hyperparameter.
IDENTITY_EXCLUDES = {
    "training",
    "validation",
    "test",
    "manifest",
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

    def update(self, epoch, value, min_delta, patience, enabled=True):
        """Records epoch's value; returns whether it is the new best.

        Args:
            epoch: the epoch's number, counted across phases.
            value: its validation accuracy.
            min_delta: how much a value must beat the best by to count as better.
            patience: epochs without a better value before stopping.
            enabled: whether running out of patience stops the job.
        """
        self.history.append(value)
        improved = self.best is None or value > self.best + min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
            self.stopped = enabled and self.wait >= patience
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
