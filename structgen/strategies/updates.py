"""Parameter updates shared by the strategies: one optimizer step and a weight average."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from pydantic import Field
from torch import nn

from ..config import ComponentParams
from ..distributed import average_gradients


class AdamParams(ComponentParams):
    """Adam settings of one network."""

    lr: float = Field(2e-4, gt=0, description="Learning rate.")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam's first-moment decay.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay.")


def adam(parameters: Iterable[nn.Parameter], lr: float, beta1: float, beta2: float) -> torch.optim.Adam:
    """Adam over ``parameters``."""
    return torch.optim.Adam(parameters, lr=lr, betas=(beta1, beta2))


def linear_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, start_fraction: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Keep the learning rate for ``start_fraction * total_steps`` steps, then decay it linearly to 0 at the end.

    Call ``step()`` once per training step. ``start_fraction = 1`` keeps it constant.
    """
    start = start_fraction * total_steps
    length = max(total_steps - start, 1.0)

    def factor(step: int) -> float:
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / length)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float = 0.0) -> None:
    """Clear the gradients, backpropagate ``loss``, average gradients across processes, clip, step.

    ``max_norm`` is the largest L2 norm of all gradients together; 0 turns clipping off.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parameters = [parameter for group in optimizer.param_groups for parameter in group["params"]]
    average_gradients(parameters)
    if max_norm > 0:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    optimizer.step()


class WeightAverage(nn.Module):
    """Exponential moving average of a network's weights, used for sampling.

    After each update, ``avg <- decay * avg + (1 - decay) * weights`` for
    every parameter. Buffers (batch-norm running statistics) are copied, so
    the averaged network normalises as the trained one does. With
    ``warmup``, update ``t`` uses ``min(decay, (1 + t) / (10 + t))`` so that
    the random initial weights fade from the average quickly.
    """

    def __init__(self, module: nn.Module, decay: float, warmup: bool = False) -> None:
        super().__init__()
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.average = copy.deepcopy(module)
        self.average.requires_grad_(False)
        self.average.eval()

    def get_extra_state(self) -> dict[str, int]:
        # The update count drives the warm-up, so a resumed run must continue it.
        return {"updates": self.updates}

    def set_extra_state(self, state: dict[str, int]) -> None:
        self.updates = int(state["updates"])

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average one step towards ``module``'s current weights."""
        decay = self.decay
        if self.warmup:
            decay = min(decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        averaged: list[torch.Tensor] = list(self.average.parameters())
        current: list[torch.Tensor] = list(module.parameters())
        torch._foreach_lerp_(averaged, current, 1.0 - decay)
        for avg_buffer, buffer in zip(self.average.buffers(), module.buffers(), strict=True):
            avg_buffer.copy_(buffer)


def flat_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the first: shape ``(n, ...)`` to ``(n,)``."""
    return values.flatten(1).sum(dim=1)
