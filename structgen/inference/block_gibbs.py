"""Block Gibbs sampling of a two-block scorer, such as an RBM, through its conditionals."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Capability, Discriminator, Domain, Inference
from ..devices import module_device
from ..errors import CapabilityError, ConfigError
from .discrete import eval_mode

Start = Literal["noise", "data"]


class BlockGibbsParams(ComponentParams):
    """Settings of ``block_gibbs``."""

    steps: int = Field(1000, ge=1, description="Gibbs sweeps per chain. A sweep draws h ~ p(h | v), then v ~ p(v | h).")
    start: Start = Field(
        "noise",
        description="Where chains start when the caller passes no starting batch: `noise` draws every visible unit "
        "uniformly from {0, 1}, `data` takes random rows of the training split.",
    )
    return_mean: bool = Field(
        False,
        description="Return the mean of the last p(v | h), mapped to the domain's values, instead of a binary sample.",
    )
    chunk_size: int = Field(65_536, gt=0, description="Chains sampled together. Memory grows linearly with it.")


def require_conditionals(scorer: Discriminator) -> None:
    """Raise :class:`CapabilityError` unless ``scorer`` declares :attr:`Capability.CONDITIONALS`."""
    if Capability.CONDITIONALS not in scorer.capabilities:
        raise CapabilityError(
            f"block_gibbs samples through block conditionals p(h | v) and p(v | h), but {type(scorer).__name__} "
            "does not declare the conditionals capability; use a scorer that has them (rbm), or langevin or "
            "gibbs for this scorer"
        )


def units_to_objects(domain: Domain, units: torch.Tensor) -> torch.Tensor:
    """Map visible units in [0, 1] to domain values: 0 is the lower bound, 1 the upper bound."""
    low, high = _bounds(domain)
    return low + (high - low) * units


def random_objects(domain: Domain, n: int, device: torch.device) -> torch.Tensor:
    """Draw ``n`` objects whose visible units are independent fair coin flips, shape ``(n, *event_shape)``."""
    units = torch.randint(0, 2, (n, *domain.event_shape), device=device).to(domain.dtype)
    return units_to_objects(domain, units)


@torch.no_grad()
def sample_chains(
    scorer: Discriminator,
    domain: Domain,
    start: torch.Tensor,
    steps: int,
    condition: torch.Tensor | None = None,
    return_mean: bool = False,
) -> torch.Tensor:
    """Run ``steps`` block Gibbs sweeps from the objects ``start`` and return the final objects.

    Each sweep draws ``h ~ p(h | x)`` from ``scorer.conditional(x, "hidden")``,
    then the visible units from ``scorer.conditional(h, "visible")``, and maps
    them to objects with :func:`units_to_objects`. Values of ``start`` between
    the bounds enter the first hidden update as fractional units.

    Returns:
        Objects of the shape of ``start``, detached. With ``return_mean``, the
        last sweep returns the mean of ``p(v | h)`` instead of a sample.
    """
    x = start
    for step in range(steps):
        hidden = scorer.conditional(x, "hidden", condition).sample()
        visible = scorer.conditional(hidden, "visible", condition)
        last = step == steps - 1
        units = visible.mean if last and return_mean else visible.sample()
        x = units_to_objects(domain, units)
    return x


class BlockGibbs(Inference):
    """Block Gibbs sampling of ``p(x) ∝ exp(score(x))`` for a scorer with two conditionally independent blocks.

    The scorer must declare :attr:`Capability.CONDITIONALS` and implement
    :meth:`Discriminator.conditional` for two blocks:

    - ``conditional(x, "hidden")``: ``x`` are objects ``(n, *event_shape)``;
      the result is a distribution over hidden states;
    - ``conditional(h, "visible")``: ``h`` is a sample of the hidden block;
      the result is a distribution over binary visible units with batch
      shape ``(n, *event_shape)``. A unit that is 1 is the domain's upper
      bound and 0 its lower bound, so the domain must be continuous with
      bounds (images in [-1, 1]).

    An RBM (``rbm``) is such a scorer: given one block, the units of the
    other are independent, so each sweep redraws a whole block at once
    (Geman and Geman, 1984, applied blockwise). Chains start from ``init``,
    else from noise or from training rows (``start``), and return their
    final visible states. Cost: two conditionals per sweep and chain, in
    batches of ``chunk_size`` chains.
    """

    requires = frozenset({Capability.CONDITIONALS})

    def __init__(
        self,
        domain: Domain,
        steps: int,
        start: Start = "noise",
        return_mean: bool = False,
        chunk_size: int = 65_536,
        data: torch.Tensor | None = None,
    ) -> None:
        super().__init__(domain)
        _bounds(domain)
        self.steps = steps
        self.start = start
        self.return_mean = return_mean
        self.chunk_size = chunk_size
        self.data = data

    def run(
        self,
        scorer: Discriminator | None,
        n: int,
        init: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if scorer is None:
            raise ValueError("block_gibbs needs a scorer")
        require_conditionals(scorer)
        batch = self._start_batch(n, init, module_device(scorer))
        parts = []
        with eval_mode(scorer):
            for begin in range(0, len(batch), self.chunk_size):
                end = begin + self.chunk_size
                part_condition = None if condition is None else condition[begin:end]
                parts.append(
                    sample_chains(scorer, self.domain, batch[begin:end], self.steps, part_condition, self.return_mean)
                )
        return torch.cat(parts)

    def _start_batch(self, n: int, init: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        if init is not None:
            self.domain.validate(init, source="inference init")
            return init.detach().to(device)
        if self.start == "noise":
            return random_objects(self.domain, n, device)
        if self.data is None:
            raise ConfigError(
                [
                    (
                        "inference.start",
                        "block_gibbs starts from data, but no training data was loaded (a model rebuilt from "
                        "its run directory has none); set start: noise",
                    )
                ]
            )
        rows = torch.randint(len(self.data), (n,), device=self.data.device)
        return self.data[rows].to(device)


def _bounds(domain: Domain) -> tuple[float, float]:
    bounds = domain.bounds
    if domain.is_discrete or bounds is None:
        raise ConfigError(
            [
                (
                    "inference.name",
                    "block_gibbs needs a continuous domain with bounds, because a visible unit that is 0 or 1 "
                    f"becomes the lower or upper bound, but {type(domain).__name__} has none. Use gibbs for "
                    "discrete domains and langevin for unbounded ones",
                )
            ]
        )
    return bounds


def build_block_gibbs(params: BlockGibbsParams, context: BuildContext) -> BlockGibbs:
    data = context.data.train.x if context.data is not None else None
    return BlockGibbs(context.require_domain(), params.steps, params.start, params.return_mean, params.chunk_size, data)
