"""The :class:`Strategy` interface: how the pieces are trained together."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import nn

from .inference import Inference


class Strategy(nn.Module):
    """Trains a generator, a scorer or both, and samples from the result.

    The trainer calls :meth:`train_step` once per step with a batch of
    training objects. A strategy with several phases (a maximum-likelihood
    pre-training phase, say) still goes through ``train_step`` and tells
    the phases apart by the ``step`` argument. Sampling goes through ``sampler``, an
    :class:`Inference`: ``amortized`` for strategies with a generator, a
    search such as ``langevin`` for discriminator-only ones.

    A strategy is an ``nn.Module`` holding its networks, so ``state_dict``
    covers every weight; ``optimizers`` holds the optimizers whose state goes
    into checkpoints beside the weights, and ``schedulers`` their learning-rate
    schedules.
    """

    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]
    sampler: Inference
    batches_per_step: int = 1
    """Real batches that :meth:`train_step` receives per call, concatenated along
    the first dimension (a GAN with k discriminator updates takes k)."""

    def __init__(self) -> None:
        super().__init__()
        self.optimizers = {}
        self.schedulers = {}

    @abstractmethod
    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        """Run one update on the batch ``x`` of shape ``(batches_per_step * batch, *event_shape)``.

        Returns scalar tensors to log (losses, penalties). They stay on the
        device; the trainer converts them to numbers only at logging steps,
        so no step waits on a device-to-host copy.
        """

    @abstractmethod
    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Generate ``n`` objects, shape ``(n, *event_shape)``, detached."""

    def training_state(self) -> dict[str, Any]:
        """Weights, optimizer states and learning-rate schedules, for a checkpoint."""
        return {
            "model": self.state_dict(),
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()},
            "schedulers": {name: scheduler.state_dict() for name, scheduler in self.schedulers.items()},
        }

    def load_training_state(self, state: dict[str, Any], with_optimizers: bool = True) -> None:
        """Restore what :meth:`training_state` returned."""
        self.load_state_dict(state["model"])
        if with_optimizers:
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
            for name, scheduler in self.schedulers.items():
                scheduler.load_state_dict(state["schedulers"][name])
