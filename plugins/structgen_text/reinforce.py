"""Policy-gradient pieces of SeqGAN: the REINFORCE loss and Monte-Carlo rollout rewards."""

from __future__ import annotations

import torch

from structgen import Discriminator
from structgen.inference.discrete import eval_mode

from .autoregressive import AutoregressiveGenerator


def reinforce_loss(
    token_log_probs: torch.Tensor,
    rewards: torch.Tensor,
    mask: torch.Tensor,
    baseline: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return the REINFORCE loss ``-sum_t (r_t - b_t) log p(x_t | x_<t) / (real positions)``, a scalar.

    Minimising it follows the policy gradient of the expected reward
    (Williams, 1992). Rewards and baseline are constants: no gradient flows
    into them. Positions where ``mask`` is False contribute nothing to the
    value or the gradient, whatever their log-probabilities or rewards hold
    (``-inf`` and NaN included). The sum is divided by the number of real
    positions, which makes it a per-token mean like the maximum-likelihood loss.

    Args:
        token_log_probs: ``log p(x_t | x_<t)`` of the sampled tokens, shape ``(n, L)``.
        rewards: reward of each token, shape ``(n, L)``.
        mask: bool, shape ``(n, L)``, True at real positions (tokens and the first ``<eos>``).
        baseline: subtracted from the rewards; any shape that broadcasts to ``(n, L)``, or None.
    """
    if token_log_probs.shape != rewards.shape or mask.shape != rewards.shape:
        raise ValueError(
            f"token_log_probs, rewards and mask must have one shape (n, L), got {tuple(token_log_probs.shape)}, "
            f"{tuple(rewards.shape)} and {tuple(mask.shape)}"
        )
    advantage = rewards.detach()
    if baseline is not None:
        advantage = advantage - baseline.detach()
    zero = torch.zeros((), dtype=token_log_probs.dtype, device=token_log_probs.device)
    # where(), not a product, so -inf or NaN at padded positions cannot leak into the value or the gradient.
    advantage = torch.where(mask, advantage, zero)
    weighted = torch.where(mask, advantage * token_log_probs, zero)
    return -weighted.sum() / mask.sum().clamp(min=1)


def policy_log_probs(generator: AutoregressiveGenerator, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Return ``log p_T(x_t | <bos>, x_<t)`` of the tempered policy ``softmax(logits / T)``, shape ``(n, L)``.

    With ``temperature`` 1 this is ``generator.token_log_probs`` at real
    positions. Positions after the first ``<eos>`` are ``-inf`` (the
    log-probability of ``<pad>``), and :func:`reinforce_loss` masks them out.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be above 0, got {temperature}")
    logits = generator.constrain_logits(generator.sequence_logits(x)) / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, x.unsqueeze(-1)).squeeze(-1)


def mean_baseline(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Return the mean reward of each position over the rows that are real there, shape ``(1, L)``.

    A position that no row reaches gets baseline 0.
    """
    real = mask.to(rewards.dtype)
    total = torch.where(mask, rewards, torch.zeros_like(rewards)).sum(dim=0, keepdim=True)
    return total / real.sum(dim=0, keepdim=True).clamp(min=1)


@torch.no_grad()
def rollout_rewards(
    generator: AutoregressiveGenerator,
    samples: torch.Tensor,
    discriminator: Discriminator,
    rollouts: int,
    temperature: float | None = None,
    top_k: int | None = None,
) -> torch.Tensor:
    """Estimate each token's reward by Monte-Carlo rollouts (Yu et al., 2017, SeqGAN), shape ``(n, L)``.

    The reward of token ``t`` of a row is the mean of ``sigmoid(D(y))``
    over ``rollouts`` completions ``y`` of the prefix ``x[:, :t+1]`` by
    ``generator.complete``. From the row's last real position on (its
    ``<eos>``, or position ``L - 1`` for a full row) the prefix is the whole
    row, so the reward is ``sigmoid(D(x))`` itself. Positions after the
    first ``<eos>`` get 0.

    Both networks run in evaluation mode (no dropout) and are put back in
    their previous mode afterwards.

    Cost: ``L - 1`` calls of ``complete`` on at most ``n * rollouts`` rows,
    each up to ``L`` generator steps, plus one discriminator pass per call.

    Args:
        generator: the rollout policy; SeqGAN uses a delayed copy of the trained generator.
        samples: valid rows, shape ``(n, L)`` int64.
        discriminator: the scorer; the score is the logit of "real".
        rollouts: completions per prefix, at least 1.
        temperature: sampling temperature of the completions; None uses the generator's default.
        top_k: tokens kept per step of the completions; None uses the generator's default.
    """
    if rollouts < 1:
        raise ValueError(f"rollouts must be at least 1, got {rollouts}")
    n, length = samples.shape
    mask = generator.domain.mask(samples)
    last = mask.sum(dim=1) - 1

    with eval_mode(generator, discriminator):
        whole = torch.sigmoid(discriminator(samples))
        rewards = whole.unsqueeze(1).expand(n, length).clone()
        for position in range(length - 1):
            # Only rows whose last real position lies beyond `position` need completions.
            active = (last > position).nonzero().squeeze(1)
            if len(active) == 0:
                break
            prefix = samples[active, : position + 1].repeat(rollouts, 1)
            completed = generator.complete(prefix, temperature=temperature, top_k=top_k)
            scores = torch.sigmoid(discriminator(completed)).view(rollouts, len(active))
            rewards[active, position] = scores.mean(dim=0)
    return torch.where(mask, rewards, torch.zeros_like(rewards))
