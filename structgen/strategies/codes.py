"""The ``codes`` strategy: one latent code per training object, fixed at random or learned (GLO)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ..config import ComponentParams
from ..context import BuildContext
from ..core import Generator, Split, Strategy
from ..distributed import average_gradients, rank, world_size
from ..errors import ConfigError, DataError
from .updates import adam, flat_sum, optimizer_step

# The batch-index generator is seeded with the experiment seed plus this offset. The offset keeps its
# sequence apart from the trainer's batch order, which starts from the experiment seed itself.
INDEX_SEED_OFFSET = 1


class CodesParams(ComponentParams):
    """Settings of the ``codes`` strategy."""

    mode: Literal["fixed", "glo"] = Field(
        "glo",
        description="fixed draws the codes once from N(0, I) and never trains them. glo (Generative Latent "
        "Optimization) learns them jointly with the generator and keeps them in the unit ball or on the unit sphere.",
    )
    lr_g: float = Field(1e-3, gt=0, description="Learning rate of the generator (Adam).")
    lr_codes: float = Field(
        1e-2,
        gt=0,
        description="Learning rate of the codes in glo mode (sparse Adam, which moves only the codes of the batch).",
    )
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay of both Adam optimizers.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay of both Adam optimizers.")
    constraint: Literal["ball", "sphere"] = Field(
        "ball",
        description="Where glo keeps its codes after each step: ball rescales codes of norm above 1 to norm 1, "
        "sphere rescales every code to norm 1.",
    )


class PriorGenerator(Generator):
    """A generator whose latent codes come from a given sampler instead of N(0, I).

    ``forward`` and ``harden`` are the wrapped generator's. The ``codes``
    strategy samples through one of these, so the ``amortized`` inference and
    the pictures that call :meth:`sample_latent` draw codes from the
    strategy's code distribution.
    """

    def __init__(self, decoder: Generator, draw_latent: Callable[[int, torch.Generator | None], torch.Tensor]) -> None:
        super().__init__()
        self.decoder = decoder
        self.latent_dim = decoder.latent_dim
        self.draw_latent = draw_latent

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw_latent(n, generator)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, condition)

    def harden(self, output: torch.Tensor) -> torch.Tensor:
        return self.decoder.harden(output)


def _training_split(context: BuildContext) -> Split | None:
    """Return the training split on the device, or None when a trained model is rebuilt without data."""
    domain = context.require_domain()
    if domain.is_discrete:
        raise ConfigError(
            [
                (
                    "strategy.name",
                    "codes reconstructs objects by squared error and needs a continuous domain; "
                    "for text use mle, seqgan or gumbel_gan",
                )
            ]
        )
    if context.data is None:
        return None
    return context.data.train.to(context.device)


class CodesStrategy(Strategy):
    """Per-object latent codes ``z_i`` and a generator trained to reconstruct ``x_i = G(z_i)``.

    Each step minimises the mean squared reconstruction error of a batch,
    summed over the parts of each object::

        loss = mean_i ||x_i - G(z_i)||^2

    ``mode: fixed`` draws the codes once from N(0, I), seeded by the
    experiment seed, and trains only G. G must then memorise an arbitrary map
    from random codes to objects. Codes close to each other belong to
    unrelated objects, so G learns slowly, and a new code from N(0, I)
    decodes to a blurry average of the objects whose codes lie near it.

    ``mode: glo`` is Generative Latent Optimization (Bojanowski et al., 2018,
    "Optimizing the Latent Space of Generative Networks"). It learns the
    codes jointly with G, each with its own learning rate, and after each
    step it rescales the codes back into the unit ball (``constraint: ball``)
    or onto the unit sphere (``constraint: sphere``). The codes start as the
    same N(0, I) draw as in ``fixed`` mode, rescaled. The loss is the squared
    error above. GLO's Laplacian-pyramid L1 loss is not implemented. Similar
    objects get nearby codes, and new objects decode codes drawn from a
    full-covariance Gaussian fitted to the learned codes, as GLO samples.
    Fitting it costs ``O(N d^2 + d^3)`` for ``N`` codes of dimension ``d`` at
    each :meth:`sample` call. The drawn codes are not rescaled into the ball.

    In ``glo`` mode sparse Adam updates the codes, so only the codes of the
    batch and their moment estimates change in a step.

    The trainer passes batches of objects without their row numbers in the
    training split, but each code belongs to one row. The strategy therefore
    keeps the training split and draws its own batch of ``len(x)`` row
    numbers per step, uniformly with replacement, from a private
    ``torch.Generator``. It ignores the contents of ``x`` and the trainer's
    ``condition``, and uses the stored conditions of its own rows instead.
    That ``torch.Generator``'s state is part of ``state_dict`` (its extra
    state), so a resumed run continues exactly.

    Conditional data work: the codes carry what the condition does not,
    and a sample with condition ``c`` decodes a drawn code with ``c``.
    """

    def __init__(self, params: CodesParams, context: BuildContext) -> None:
        super().__init__()
        train = _training_split(context)
        if params.mode == "glo" and world_size() > 1:
            # average_gradients flattens dense gradients, but the codes' gradients are sparse.
            raise ConfigError(
                [("strategy.mode", "glo's sparse code gradients cannot be averaged across processes; train in one")]
            )
        self.params = params
        self.generator = context.build_generator()
        latent_dim = self.generator.latent_dim

        # Training data and the private generator of the row numbers of each batch.
        self.train_x = None if train is None else train.x
        self.train_condition = None if train is None else train.condition
        self.index_generator = torch.Generator(device=context.device)
        self.index_generator.manual_seed(context.seed + INDEX_SEED_OFFSET + rank())

        # The codes come from a private torch.Generator, so drawing them leaves the global random state alone.
        count = 0 if train is None else len(train)
        draw = torch.Generator().manual_seed(context.seed)
        codes = torch.randn(count, latent_dim, generator=draw).to(context.device)
        self.codes: torch.Tensor
        if params.mode == "glo":
            self.codes = nn.Parameter(self._constrain(codes))
        else:
            self.register_buffer("codes", codes)

        self.optimizers = {"generator": adam(self.generator.parameters(), params.lr_g, params.beta1, params.beta2)}
        if params.mode == "glo":
            self.optimizers["codes"] = torch.optim.SparseAdam(
                [self.codes], lr=params.lr_codes, betas=(params.beta1, params.beta2)
            )
        self.sampler = context.build_inference(
            "amortized", generator=PriorGenerator(self.generator, self.sample_latent)
        )

    def _constrain(self, codes: torch.Tensor) -> torch.Tensor:
        """Rescale codes of shape ``(N, d)`` into the unit ball or onto the unit sphere."""
        norms = codes.norm(dim=1, keepdim=True)
        if self.params.constraint == "ball":
            return codes / norms.clamp_min(1.0)
        return codes / norms.clamp_min(torch.finfo(codes.dtype).tiny)

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        if self.train_x is None:
            raise DataError(
                "the codes strategy was built without data, so it cannot train; build it from an experiment"
            )
        index = torch.randint(
            len(self.train_x), (x.shape[0],), device=self.train_x.device, generator=self.index_generator
        )
        target = self.train_x[index]
        row_condition = None if self.train_condition is None else self.train_condition[index]

        if self.params.mode == "glo":
            # A sparse gradient, so that sparse Adam updates only the rows in the batch.
            codes = F.embedding(index, self.codes, sparse=True)
        else:
            codes = self.codes[index]
        reconstruction = self.generator(codes, row_condition)
        loss = flat_sum((target - reconstruction).pow(2)).mean()

        if self.params.mode == "glo":
            self._joint_step(loss)
        else:
            optimizer_step(self.optimizers["generator"], loss)
        return {"loss": loss.detach()}

    def _joint_step(self, loss: torch.Tensor) -> None:
        """Update the generator and the codes from one backward pass, then constrain the codes."""
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.generator.parameters())
        for optimizer in self.optimizers.values():
            optimizer.step()
        with torch.no_grad():
            self.codes.copy_(self._constrain(self.codes))

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` codes, shape ``(n, d)``: from N(0, I) for ``fixed``, else from the Gaussian fitted to the codes.

        The fitted covariance is ``V diag(lambda) V^T`` from an eigendecomposition,
        and a code is ``mean + V diag(sqrt(lambda)) eps`` with ``eps ~ N(0, I)``,
        which also works when the covariance is singular (fewer codes than ``d + 1``).
        """
        if self.params.mode == "fixed":
            return self.generator.sample_latent(n, generator)
        codes = self.codes.detach()
        if len(codes) < 2:
            raise DataError(
                f"glo fits its sampling Gaussian to the learned codes and needs at least 2, but it has {len(codes)}; "
                "train it or load a trained state first"
            )
        mean = codes.mean(dim=0)
        centered = codes - mean
        covariance = centered.T @ centered / (len(codes) - 1)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        scale = eigenvectors * eigenvalues.clamp_min(0).sqrt()
        noise = torch.randn(n, codes.shape[1], device=codes.device, generator=generator)
        return mean + noise @ scale.T

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(None, n, condition=condition)

    @torch.no_grad()
    def reconstruction_error(self, chunk: int = 1024) -> torch.Tensor:
        """Compute the mean over the training split of ``||x_i - G(z_i)||^2`` as a scalar, with G in evaluation mode."""
        if self.train_x is None:
            raise DataError("the codes strategy was built without data, so it has nothing to reconstruct")
        was_training = self.generator.training
        self.generator.eval()
        total = torch.zeros((), device=self.train_x.device)
        try:
            for start in range(0, len(self.train_x), chunk):
                stop = min(start + chunk, len(self.train_x))
                condition = None if self.train_condition is None else self.train_condition[start:stop]
                reconstruction = self.generator(self.codes[start:stop], condition)
                total += flat_sum((self.train_x[start:stop] - reconstruction).pow(2)).sum()
        finally:
            self.generator.train(was_training)
        return total / len(self.train_x)

    def get_extra_state(self) -> dict[str, torch.Tensor]:
        return {"index_generator": self.index_generator.get_state()}

    def set_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        # A checkpoint loaded with map_location="cuda" moves the state tensor there, but set_state needs a CPU one.
        self.index_generator.set_state(state["index_generator"].cpu())

    def load_training_state(self, state: dict[str, Any], with_optimizers: bool = True) -> None:
        stored = state["model"]["codes"]
        if len(self.codes) == 0 and len(stored) > 0:
            # A strategy rebuilt without its data set (load_trained) has no codes until the stored ones arrive.
            self.codes.data = torch.empty_like(stored, device=self.codes.device)
        super().load_training_state(state, with_optimizers)
