"""The training loop shared by every strategy."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from .config import TrainingConfig
from .core import Split, Strategy
from .errors import TrainingError


class TrainingObserver(Protocol):
    """Receiver of the loop's start, logs and checkpoints: a run directory, a progress bar, a test."""

    def on_start(self, step: int) -> None: ...

    def on_log(self, step: int, logs: dict[str, float]) -> None: ...

    def on_checkpoint(self, step: int, state: dict[str, Any]) -> None: ...


@dataclass
class Trainer:
    """Calls ``strategy.train_step`` on random batches for ``config.steps`` steps.

    Batches are drawn uniformly with replacement from ``train`` by indexing a
    tensor that already lives on the device, so no step copies data from the
    host. The logged losses become numbers only every ``log_every`` steps,
    so no step waits for the device either.

    Attributes:
        strategy: what is trained.
        train: the training split, on the strategy's device.
        config: steps, batch size and logging and checkpoint intervals.
        seed: seed of the batch order.
        observers: notified of logs and checkpoints.
        evaluator: computes the metrics after each step in ``config.evaluate_at``;
            its results go into :attr:`history` and, prefixed with
            ``evaluation_label`` and a slash (``test/``), to the observers'
            logs. It runs on a copy of the random state, so training continues
            as it would without it.
        history: ``{"step": s, "metrics": {...}}`` per evaluation so far.
        evaluation_label: name of the split the evaluator scores against, the prefix of its logged keys.
    """

    strategy: Strategy
    train: Split
    config: TrainingConfig
    seed: int = 0
    observers: tuple[TrainingObserver, ...] = ()
    evaluator: Callable[[], dict[str, float]] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    evaluation_label: str = "test"

    def __post_init__(self) -> None:
        self.step = 0
        self.batch_generator = torch.Generator(device=self.train.x.device)
        self.batch_generator.manual_seed(self.seed)

    def state(self) -> dict[str, Any]:
        """Checkpoint: weights, optimizers, step, batch order and the global random state.

        The global state covers the latent codes and noise that strategies
        draw, so a resumed run continues exactly as an uninterrupted one.
        """
        state = {
            "strategy": self.strategy.training_state(),
            "step": self.step,
            "batch_generator": self.batch_generator.get_state(),
            "cpu_rng": torch.get_rng_state(),
            "history": self.history,
        }
        if self.train.x.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.train.x.device)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Resume from a :meth:`state` checkpoint."""
        self.strategy.load_training_state(state["strategy"])
        self.step = int(state["step"])
        self.batch_generator.set_state(state["batch_generator"])
        torch.set_rng_state(state["cpu_rng"])
        self.history = list(state.get("history", []))
        if "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.train.x.device)

    def fit(self) -> None:
        """Train from the current step to ``config.steps``, then checkpoint once more."""
        config = self.config
        size = len(self.train)
        count = config.batch_size * self.strategy.batches_per_step
        device = self.train.x.device
        self.strategy.train()
        pending: list[dict[str, torch.Tensor]] = []
        for observer in self.observers:
            observer.on_start(self.step)

        try:
            while self.step < config.steps:
                index = torch.randint(size, (count,), device=device, generator=self.batch_generator)
                condition = None if self.train.condition is None else self.train.condition[index]
                pending.append(self.strategy.train_step(self.train.x[index], condition, self.step))
                self.step += 1

                if self.step % config.log_every == 0 or self.step == config.steps:
                    self._log(pending)
                    pending = []
                if self.evaluator is not None and self.step in config.evaluate_at:
                    self._evaluate()
                if config.checkpoint_every and self.step % config.checkpoint_every == 0 and self.step < config.steps:
                    self._checkpoint()
        except KeyboardInterrupt:
            # Keep the finished steps: a later --resume continues from here.
            self._checkpoint()
            raise

        self._checkpoint()
        self.strategy.eval()

    def _log(self, pending: list[dict[str, torch.Tensor]]) -> None:
        if not pending:
            return
        logs = {}
        for key in pending[-1]:
            values = [entry[key] for entry in pending if key in entry]
            logs[key] = float(torch.stack(values).float().mean())
        diverged = [key for key, value in logs.items() if not math.isfinite(value)]
        if diverged:
            # Raised before any checkpoint of the broken weights: the last checkpoint stays usable.
            raise TrainingError(
                f"{', '.join(diverged)} became {logs[diverged[0]]} by step {self.step}; "
                "lower the learning rates or add a gradient penalty, then rerun or --resume"
            )
        for observer in self.observers:
            observer.on_log(self.step, logs)

    def _evaluate(self) -> None:
        assert self.evaluator is not None
        devices = [self.train.x.device] if self.train.x.device.type == "cuda" else []
        self.strategy.eval()
        with torch.random.fork_rng(devices=devices):
            metrics = self.evaluator()
        self.strategy.train()
        self.history.append({"step": self.step, "metrics": metrics})
        for observer in self.observers:
            observer.on_log(self.step, {f"{self.evaluation_label}/{name}": value for name, value in metrics.items()})

    def _checkpoint(self) -> None:
        if not self.observers:
            return
        state = self.state()
        for observer in self.observers:
            observer.on_checkpoint(self.step, state)
