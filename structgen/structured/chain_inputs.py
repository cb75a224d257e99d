"""Validation of the inputs shared by the linear-chain CRF functions.

Every function of :mod:`structgen.structured.linear_chain` checks its
scores, mask and tags here, so each raises the same clear ``ValueError``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

_MAX_LISTED = 5  # at most this many bad items are named in an error message


class Chain(NamedTuple):
    """Validated inputs, with ``start`` and ``end`` filled in and the mask as bool."""

    emissions: Tensor  # (batch, length, tags)
    transitions: Tensor  # (tags, tags)
    start: Tensor  # (tags,)
    end: Tensor  # (tags,)
    mask: Tensor  # (batch, length), bool
    lengths: Tensor  # (batch,), int64


def prepare_chain(
    emissions: Tensor,
    transitions: Tensor,
    mask: Tensor | None,
    start: Tensor | None,
    end: Tensor | None,
) -> Chain:
    """Validate the inputs of every public function and fill in defaults."""
    if emissions.dim() != 3:
        raise ValueError(
            f"emissions must have shape (batch, length, tags), got {emissions.dim()} dimensions "
            f"with shape {tuple(emissions.shape)}"
        )
    batch, length, num_tags = emissions.shape
    if length < 1 or num_tags < 1:
        raise ValueError(f"emissions need at least one position and one tag, got shape {tuple(emissions.shape)}")
    if transitions.shape != (num_tags, num_tags):
        raise ValueError(
            f"transitions must have shape ({num_tags}, {num_tags}) for {num_tags} tags, got {tuple(transitions.shape)}"
        )
    if start is None:
        start = emissions.new_zeros(num_tags)
    if end is None:
        end = emissions.new_zeros(num_tags)
    for name, scores in (("start", start), ("end", end)):
        if scores.shape != (num_tags,):
            raise ValueError(f"{name} must have shape ({num_tags},) for {num_tags} tags, got {tuple(scores.shape)}")

    named_scores = {"emissions": emissions, "transitions": transitions, "start": start, "end": end}
    for name, scores in named_scores.items():
        if not scores.is_floating_point():
            raise ValueError(f"{name} must have a floating-point dtype, got {scores.dtype}")
    # One device synchronisation for all four checks.
    invalid = torch.stack([(scores.isnan() | scores.isposinf()).any() for scores in named_scores.values()]).tolist()
    bad_names = [name for name, is_bad in zip(named_scores, invalid, strict=True) if is_bad]
    if bad_names:
        raise ValueError(
            f"{', '.join(bad_names)} contain NaN or +inf. Scores must be finite, or -inf to forbid a tag or transition."
        )

    mask = _validate_mask(mask, batch, length, emissions.device)
    return Chain(emissions, transitions, start, end, mask, mask.sum(dim=1))


def _validate_mask(mask: Tensor | None, batch: int, length: int, device: torch.device) -> Tensor:
    """Return the mask as a bool tensor on ``device`` after checking its shape, values and prefix form."""
    if mask is None:
        return torch.ones(batch, length, dtype=torch.bool, device=device)
    if mask.shape != (batch, length):
        raise ValueError(
            f"mask must have shape (batch, length) = ({batch}, {length}) like emissions, got {tuple(mask.shape)}"
        )
    mask = mask.to(device)
    if mask.dtype != torch.bool:
        not_binary = (mask != 0) & (mask != 1)
        if not_binary.any():
            examples = mask[not_binary].unique()[:_MAX_LISTED].tolist()
            raise ValueError(f"mask must contain only 0 and 1 (or be a bool tensor), but it contains {examples}")
        mask = mask != 0

    resumed = (mask[:, 1:] & ~mask[:, :-1]).any(dim=1)
    if resumed.any():
        raise ValueError(
            "mask must be a prefix mask (real positions first, then padding), but it has a real position "
            f"after a padded one in {describe_items(resumed)}"
        )
    # A prefix mask with a padded first position has no real position at all.
    empty = ~mask[:, 0]
    if empty.any():
        raise ValueError(
            f"every sequence needs at least one real position, but the mask has none in {describe_items(empty)}"
        )
    return mask


def validate_tags(tags: Tensor, chain: Chain) -> Tensor:
    """Check the dtype, shape and range of ``tags`` and move them to the device of the scores."""
    batch, length, num_tags = chain.emissions.shape
    if tags.dtype == torch.bool or tags.is_floating_point() or tags.is_complex():
        raise ValueError(f"tags must have an integer dtype, got {tags.dtype}")
    if tags.shape != (batch, length):
        raise ValueError(f"tags must have shape (batch, length) = ({batch}, {length}), got {tuple(tags.shape)}")
    tags = tags.to(chain.emissions.device).long()
    out_of_range = ((tags < 0) | (tags >= num_tags)) & chain.mask
    if out_of_range.any():
        raise ValueError(
            f"tags at real positions must lie in [0, {num_tags}), but found "
            f"{tags[out_of_range].unique()[:_MAX_LISTED].tolist()} in {describe_items(out_of_range.any(dim=1))}"
        )
    return tags


def describe_items(flags: Tensor) -> str:
    """Name the batch items where the bool vector ``flags`` is True, as "item 3" or "items 0, 4 and 2 more"."""
    indices = flags.nonzero().flatten().tolist()
    listed = ", ".join(str(index) for index in indices[:_MAX_LISTED])
    if len(indices) > _MAX_LISTED:
        listed += f" and {len(indices) - _MAX_LISTED} more"
    return f"item {listed}" if len(indices) == 1 else f"items {listed}"
