"""The ``crf`` strategy: trains a linear-chain CRF scorer on real rows; samples by Viterbi."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from pydantic import Field

from structgen import Capability, ConfigError, DataError, Discriminator, Strategy
from structgen.config import ComponentParams
from structgen.context import BuildContext
from structgen.devices import module_device
from structgen.strategies.updates import optimizer_step
from structgen.structured import log_likelihood, sequence_score, viterbi

CRFLoss = Literal["log_likelihood", "perceptron", "hinge"]
CHECK_CHUNK = 4096  # training rows scored per forward pass by the check before training


class CRFParams(ComponentParams):
    """Settings of the ``crf`` strategy."""

    loss: CRFLoss = Field(
        "log_likelihood",
        description="`log_likelihood` (exact, forward algorithm), `perceptron` (structured perceptron) or "
        "`hinge` (structured hinge with Hamming cost).",
    )
    lr: float = Field(1e-2, gt=0, description="Learning rate (Adam).")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam's first-moment decay.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam's second-moment decay.")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty that Adam adds to the gradient of every weight.")


def negative_log_likelihood(unary: torch.Tensor, transitions: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """``log Z - score(gold)`` per row, shape (n,)."""
    return -log_likelihood(unary, transitions, gold, None)


def perceptron_loss(unary: torch.Tensor, transitions: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """Structured perceptron loss (Collins, 2002): ``max_y score(y) - score(gold)``, at least 0, shape (n,)."""
    best_score, _ = viterbi(unary, transitions, None)
    return best_score - sequence_score(unary, transitions, gold, None)


def hinge_loss(unary: torch.Tensor, transitions: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """Structured hinge loss (Taskar et al., 2003; Tsochantaridis et al., 2005), at least 0, shape (n,).

    ``max_y [score(y) + hamming(y, gold)] - score(gold)``, where the Hamming
    distance counts the positions at which ``y`` differs from ``gold``. Adding
    1 to the unary score of every tag but the gold one makes the maximum a
    plain Viterbi run (cost-augmented decoding).
    """
    cost = 1.0 - torch.nn.functional.one_hot(gold, unary.shape[2]).to(unary.dtype)
    augmented_score, _ = viterbi(unary + cost, transitions, None)
    return augmented_score - sequence_score(unary, transitions, gold, None)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "log_likelihood": negative_log_likelihood,
    "perceptron": perceptron_loss,
    "hinge": hinge_loss,
}


class CRFStrategy(Strategy):
    """Trains a scorer with linear-chain factors, such as ``linear_chain_crf``, on the real rows alone.

    Each step computes the scorer's factors for the batch and minimises the
    mean of the chosen loss with Adam. The log-likelihood loss is exact; the
    perceptron and hinge losses need one Viterbi run per step instead of the
    forward algorithm. No negatives are searched, so the step costs
    O(batch * length * tags^2). Sampling runs the experiment's inference,
    ``viterbi`` (the argmax) by default.
    """

    def __init__(self, params: CRFParams, context: BuildContext) -> None:
        super().__init__()
        self.params = params
        self.discriminator = context.build_discriminator()
        if Capability.FACTORS not in self.discriminator.capabilities:
            raise ConfigError(
                [
                    (
                        "discriminator.name",
                        f"the crf strategy trains a scorer with linear-chain factors, but "
                        f"{type(self.discriminator).__name__} has none; use linear_chain_crf",
                    )
                ]
            )
        self.loss = LOSSES[params.loss]
        self.optimizers = {
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(),
                lr=params.lr,
                betas=(params.beta1, params.beta2),
                weight_decay=params.weight_decay,
            )
        }
        self.sampler = context.build_inference("viterbi", scorer=self.discriminator)
        if context.data is not None:
            check_training_rows(self.discriminator, context.data.train.x, context.data.train.condition)

    def train_step(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        unary, transitions = self.discriminator.factors(x, condition)
        loss = self.loss(unary.expand(len(x), -1, -1), transitions, x).mean()
        optimizer_step(self.optimizers["discriminator"], loss)
        return {"loss": loss.detach()}

    def sample(self, n: int, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampler.run(self.discriminator, n, condition=condition)


def check_training_rows(scorer: Discriminator, rows: torch.Tensor, condition: torch.Tensor | None) -> None:
    """Raise :class:`DataError` when the scorer gives a training row the score -inf.

    Such a row uses a tag or transition that the scorer forbids (a row with
    <unk>, say), so its loss would be infinite at the first step that draws it.
    """
    device = module_device(scorer)
    impossible = []
    with torch.no_grad():
        for start in range(0, len(rows), CHECK_CHUNK):
            chunk = rows[start : start + CHECK_CHUNK].to(device)
            chunk_condition = None if condition is None else condition[start : start + CHECK_CHUNK].to(device)
            scores = scorer(chunk, chunk_condition)
            impossible.extend((torch.isneginf(scores).nonzero().flatten() + start).tolist())
    if impossible:
        raise DataError(
            f"{len(impossible)} training row(s) score -inf under {type(scorer).__name__} (first rows "
            f"{impossible[:5]}): they use a token or transition that its layout forbids, such as <unk>. "
            "Remove those rows or build the vocabulary from every text."
        )
