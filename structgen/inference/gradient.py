"""Search and sampling by following the scorer's input gradient."""

from __future__ import annotations

import math

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Capability, Discriminator, Domain, Inference
from ..devices import module_device
from ..errors import ConfigError


def _score_gradient(scorer: Discriminator, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    """``grad_x sum_i score(x_i)``, shape of ``x``; each object's gradient is its own score's."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(scorer(x, condition).sum(), x)
    return grad


def _start(domain: Domain, n: int, init: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    if init is not None:
        return init.detach().to(device=device, dtype=torch.float32).clone()
    return domain.random_batch(n, device=device)


def _continuous(context: BuildContext, name: str) -> Domain:
    domain = context.require_domain()
    if domain.is_discrete:
        raise ConfigError([("inference.name", f"{name} moves objects along gradients and needs a continuous domain")])
    return domain


class GradientAscentParams(ComponentParams):
    """Settings of ``gradient_ascent``."""

    steps: int = Field(100, ge=1, description="Gradient steps.")
    step_size: float = Field(0.01, gt=0, description="Step size eta of x <- x + eta * grad score(x).")


class GradientAscent(Inference):
    """Local search for ``argmax_x score(x)`` by gradient ascent on the input.

    ``x <- project(x + eta * grad_x score(x))`` for a fixed number of steps,
    from random starts or ``init``. It finds a local maximum near each start.
    Cost: ``steps`` forward-backward passes of the scorer on the batch.
    """

    requires = frozenset({Capability.INPUT_GRADIENT})

    def __init__(self, domain: Domain, steps: int, step_size: float) -> None:
        super().__init__(domain)
        self.steps = steps
        self.step_size = step_size

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("gradient_ascent needs a scorer")
        x = _start(self.domain, n, init, module_device(scorer))
        for _ in range(self.steps):
            x = self.domain.project(x + self.step_size * _score_gradient(scorer, x, condition))
        return x.detach()


def build_gradient_ascent(params: GradientAscentParams, context: BuildContext) -> GradientAscent:
    return GradientAscent(_continuous(context, "gradient_ascent"), params.steps, params.step_size)


class LangevinParams(ComponentParams):
    """Settings of ``langevin``."""

    steps: int = Field(60, ge=1, description="Langevin steps per chain.")
    step_size: float = Field(0.01, gt=0, description="Step size eta at the first step.")
    final_step_size: float | None = Field(
        None, gt=0, description="Step size at the last step, reached geometrically; None keeps eta fixed."
    )
    temperature: float = Field(1.0, ge=0, description="Temperature T at the first step; p(x) ∝ exp(score(x) / T).")
    final_temperature: float | None = Field(
        None,
        ge=0,
        description="Temperature at the last step, reached geometrically (linearly when either end is 0); "
        "None keeps T fixed. A small value turns sampling into a search for the modes.",
    )


class Langevin(Inference):
    """Unadjusted Langevin dynamics on the score (Welling and Teh, 2011).

    ``x <- project(x + eta * grad_x score(x) + sqrt(2 * eta * T) * N(0, I))``.
    For small ``eta`` the chain samples ``p(x) ∝ exp(score(x) / T)``: the
    noise variance ``2 eta T`` balances the drift ``eta grad score``. With
    ``T = 0`` it is gradient ascent. Annealing the temperature and the step
    size (geometrically) from a hot start lets chains cross between modes
    first and settle on a mode at the end. Cost: ``steps`` forward-backward
    passes of the scorer.
    """

    requires = frozenset({Capability.INPUT_GRADIENT})

    def __init__(
        self,
        domain: Domain,
        steps: int,
        step_size: float,
        temperature: float,
        final_temperature: float | None = None,
        final_step_size: float | None = None,
    ) -> None:
        super().__init__(domain)
        self.steps = steps
        self.step_sizes = temperature_schedule(step_size, final_step_size, steps)
        self.temperatures = temperature_schedule(temperature, final_temperature, steps)

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("langevin needs a scorer")
        x = _start(self.domain, n, init, module_device(scorer))
        for step_size, temperature in zip(self.step_sizes, self.temperatures, strict=True):
            drift = step_size * _score_gradient(scorer, x, condition)
            noise_scale = math.sqrt(2.0 * step_size * temperature)
            x = self.domain.project(x + drift + noise_scale * torch.randn_like(x))
        return x.detach()


def temperature_schedule(start: float, end: float | None, steps: int) -> list[float]:
    """Return values for ``steps`` steps from ``start`` to ``end``.

    The values are geometric, linear when an end is 0, and constant when
    ``end`` is None.

    Langevin uses it for both the temperature and the step size.
    """
    if end is None or steps == 1:
        return [start] * steps
    if start > 0 and end > 0:
        ratio = (end / start) ** (1.0 / (steps - 1))
        return [start * ratio**k for k in range(steps)]
    return [start + (end - start) * k / (steps - 1) for k in range(steps)]


def build_langevin(params: LangevinParams, context: BuildContext) -> Langevin:
    return Langevin(
        _continuous(context, "langevin"),
        params.steps,
        params.step_size,
        params.temperature,
        params.final_temperature,
        params.final_step_size,
    )
