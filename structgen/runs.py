"""Run directories: resolved config, metrics, checkpoints, samples and the final report.

Layout of a run directory::

    config.yaml      the resolved experiment, every default filled in
    run.json         structgen version and the domain spec that rebuilds the model
    metrics.jsonl    one JSON object per logging step
    checkpoint.pt    last checkpoint (weights, optimizers, step), written atomically
    results.json     final metrics on the test split (on the validation split with training.eval_split)
    samples.png      picture of generated samples, where the domain can draw
    curves.png       the logged numbers against the training step
    interpolation.png  straight lines between latent codes, for generators that decode codes
    classes.png      one row of samples per class, for conditional models
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from . import __version__
from .errors import RunDirectoryError

CONFIG = "config.yaml"
RUN_INFO = "run.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
RESULTS = "results.json"


class RunDirectory:
    """Reads and writes one run directory (see the module docstring for its layout)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, path: str | Path, config: dict[str, Any], info: dict[str, Any], resume: bool) -> RunDirectory:
        """Prepare ``path`` for a run of ``config``.

        A directory that already contains a run is only reused with ``resume``
        and the same configuration, so no earlier result is overwritten.
        Only ``training.steps`` may change, so a finished run can be extended.
        """
        run = cls(path)
        existing = run.path / CONFIG
        if existing.exists():
            if not resume:
                raise RunDirectoryError(
                    f"{run.path} already contains a run; pass --resume to continue it or choose another --out"
                )
            changed = [key for key in config_differences(run.config(), config) if key != "training.steps"]
            if changed:
                raise RunDirectoryError(
                    f"{run.path} contains a run of a different configuration ({', '.join(changed)} differ); "
                    "resume with the same config and --set options, or choose another --out to start anew"
                )
        run.path.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(run.path / CONFIG, yaml.safe_dump(config, sort_keys=False))
        _atomic_write_text(run.path / RUN_INFO, json.dumps({"structgen_version": __version__, **info}, indent=2))
        return run

    def config(self) -> dict[str, Any]:
        """Read the resolved configuration stored in the run."""
        path = self.path / CONFIG
        if not path.is_file():
            raise RunDirectoryError(f"{self.path} is not a run directory: {CONFIG} not found")
        return yaml.safe_load(path.read_text(encoding="utf-8"))

    def info(self) -> dict[str, Any]:
        """Read the run's ``run.json``: version, domain spec, number of condition classes."""
        path = self.path / RUN_INFO
        if not path.is_file():
            raise RunDirectoryError(f"{self.path} is not a run directory: {RUN_INFO} not found")
        return json.loads(path.read_text(encoding="utf-8"))

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl``."""
        with open(self.path / METRICS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write ``checkpoint.pt`` atomically: a crash leaves the previous checkpoint intact."""
        handle, temporary = tempfile.mkstemp(dir=self.path, prefix=".checkpoint-", suffix=".pt")
        os.close(handle)
        try:
            torch.save(state, temporary)
            os.replace(temporary, self.path / CHECKPOINT)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def has_checkpoint(self) -> bool:
        """Return whether a checkpoint was written."""
        return (self.path / CHECKPOINT).is_file()

    def load_checkpoint(self, device: torch.device) -> dict[str, Any]:
        """Load ``checkpoint.pt`` with ``weights_only=True`` (no code runs from the file)."""
        path = self.path / CHECKPOINT
        if not path.is_file():
            raise RunDirectoryError(f"{self.path} has no {CHECKPOINT}; the run did not finish a checkpoint")
        return torch.load(path, map_location=device, weights_only=True)

    def truncate_log(self, step: int) -> None:
        """Drop the lines of ``metrics.jsonl`` after ``step``, which a resumed run writes again."""
        path = self.path / METRICS
        if not path.is_file():
            return
        lines = path.read_text(encoding="utf-8").splitlines()
        earlier = [line for line in lines if json.loads(line)["step"] <= step]
        _atomic_write_text(path, "".join(line + "\n" for line in earlier))

    def write_results(self, results: dict[str, Any]) -> None:
        """Write the final report ``results.json``."""
        _atomic_write_text(self.path / RESULTS, json.dumps(results, indent=2))


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the fields whose values differ between two nested config dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [key for key in new if key not in old]
        found: list[str] = []
        for key in keys:
            found += config_differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [prefix.rstrip(".")]


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
