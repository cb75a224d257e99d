"""The ``sequences`` domain: texts as fixed-length rows of token ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from pydantic import Field, model_validator

from structgen import DataError, Domain
from structgen.config import ComponentParams

from .vocabulary import BOS_ID, EOS_ID, FIRST_ORDINARY_ID, PAD_ID, Level, Vocabulary

# How many decoded texts draw() writes, and how many characters of each.
DRAWN_TEXTS = 8
DRAWN_CHARACTERS = 60


class SequenceParams(ComponentParams):
    """Settings of the ``sequences`` domain, as stored in a run's domain spec."""

    max_length: int = Field(
        ge=1, description="Token positions per sequence. A text of max_length tokens is stored without <eos>."
    )
    level: Level = Field(description="Token level: `character`, or `word` for whitespace-separated words.")
    vocabulary: dict[str, Any] = Field(description="Vocabulary.to_dict() output: the level and the ordinary tokens.")
    fixed_length: bool = Field(
        default=False, description="Every sequence has exactly max_length tokens and no <eos> (the oracle's data)."
    )

    @model_validator(mode="after")
    def _check_vocabulary(self) -> SequenceParams:
        vocabulary = Vocabulary.from_dict(self.vocabulary)
        if vocabulary.level != self.level:
            raise ValueError(f"level is {self.level!r} but the vocabulary's level is {vocabulary.level!r}")
        if len(vocabulary) == FIRST_ORDINARY_ID:
            raise ValueError("the vocabulary contains no ordinary tokens, only the special ones")
        return self


class SequenceDomain(Domain):
    """Token sequences of ``max_length`` positions; a batch has shape ``(n, max_length)``, int64.

    Layout of one row: the text's token ids, then one ``<eos>``, then
    ``<pad>`` up to ``max_length``. A text of exactly ``max_length`` tokens
    fills the row and has no ``<eos>``. ``<bos>`` is never stored, so a
    generator that needs a start token prepends it itself. The empty text is
    an ``<eos>`` followed by padding.

    With ``fixed_length`` every row contains exactly ``max_length`` ordinary
    tokens and no ``<eos>``, as in the synthetic oracle benchmark.
    """

    name = "sequences"

    def __init__(self, vocabulary: Vocabulary, max_length: int, fixed_length: bool = False) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        if len(vocabulary) == FIRST_ORDINARY_ID:
            raise ValueError("the vocabulary contains no ordinary tokens, only the special ones")
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.fixed_length = fixed_length

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.max_length,)

    @property
    def is_discrete(self) -> bool:
        return True

    @property
    def num_categories(self) -> int:
        return len(self.vocabulary)

    @property
    def level(self) -> Level:
        """Token level of the vocabulary: ``character`` or ``word``."""
        return self.vocabulary.level

    def mask(self, batch: torch.Tensor) -> torch.Tensor:
        """Return a bool tensor of the batch's shape, True at tokens and at the first ``<eos>`` of each row."""
        is_eos = batch == EOS_ID
        eos_before = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0
        return ~eos_before

    def random_batch(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``n`` valid rows: a length uniform in ``[0, max_length]``, then uniform ordinary tokens.

        Rows of a ``fixed_length`` domain all have ``max_length`` tokens.
        """
        tokens = torch.randint(
            FIRST_ORDINARY_ID, len(self.vocabulary), (n, self.max_length), device=device, generator=generator
        )
        if self.fixed_length:
            return tokens
        lengths = torch.randint(0, self.max_length + 1, (n, 1), device=device, generator=generator)
        positions = torch.arange(self.max_length, device=device).expand(n, -1)
        batch = torch.where(positions < lengths, tokens, torch.full_like(tokens, PAD_ID))
        return batch.masked_fill(positions == lengths, EOS_ID)

    def site_values(self, batch: torch.Tensor, site: int) -> torch.Tensor:
        """Return the values that position ``site`` may take with the layout kept, shape ``(n, num_categories)``.

        With ``length`` the number of tokens of a row:

        - ``site < length - 1``: any ordinary token, so the length stays;
        - ``site == length - 1``: any ordinary token, or ``<eos>``, which
          deletes the last token;
        - ``site == length`` (the ``<eos>`` slot of a row shorter than
          ``max_length``): any ordinary token, which appends it, or ``<eos>``,
          which keeps the row;
        - ``site > length``: ``<pad>`` only.

        Deleting at ``length - 1`` and appending at the new ``length`` are
        inverse moves over the same set of rows, so the moves at one site
        split the rows into classes as :meth:`Domain.site_values` requires.
        Rows of a ``fixed_length`` domain take ordinary tokens at every site.
        ``<unk>`` is never allowed, so a search replaces the ``<unk>`` of a
        starting row and never writes one.
        """
        allowed = torch.zeros(len(batch), self.num_categories, dtype=torch.bool, device=batch.device)
        if self.fixed_length:
            allowed[:, FIRST_ORDINARY_ID:] = True
            return allowed
        lengths = self._lengths(batch)
        allowed[:, FIRST_ORDINARY_ID:] = (site <= lengths).unsqueeze(1)
        allowed[:, EOS_ID] = (site == lengths - 1) | (site == lengths)
        allowed[:, PAD_ID] = site > lengths
        return allowed

    def set_site(self, batch: torch.Tensor, site: int, values: torch.Tensor) -> torch.Tensor:
        """Return a copy of ``batch`` with position ``site`` of row ``i`` set to ``values[i]``, layout kept.

        ``<eos>`` at ``site`` turns every later position into ``<pad>``. A
        token written over a row's ``<eos>`` appends it, and the next
        position, if any, becomes the new ``<eos>``. ``values`` come from
        :meth:`site_values`, and other values may give invalid rows.
        """
        out = batch.clone()
        old = batch[:, site]
        out[:, site] = values
        positions = torch.arange(self.max_length, device=batch.device)
        ends_here = (values == EOS_ID).unsqueeze(1) & (positions > site)
        out = out.masked_fill(ends_here, PAD_ID)
        appends = (old == EOS_ID) & (values != EOS_ID) & (values != PAD_ID)
        if site + 1 < self.max_length:
            out[:, site + 1] = torch.where(appends, EOS_ID, out[:, site + 1])
        return out

    def start_batch(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Return ``n`` empty texts, or ``n`` random rows for a ``fixed_length`` domain, which has no empty text."""
        if self.fixed_length:
            return self.random_batch(n, device=device)
        batch = torch.full((n, self.max_length), PAD_ID, dtype=torch.long, device=device)
        batch[:, 0] = EOS_ID
        return batch

    def validate(self, batch: torch.Tensor, source: str = "data") -> None:
        if batch.dim() != 2 or batch.shape[1] != self.max_length:
            raise DataError(
                f"{source}: expected token ids of shape (n, {self.max_length}), got {tuple(batch.shape)}; "
                f"give one sequence per row, padded with <pad> (id {PAD_ID}) to max_length {self.max_length}"
            )
        if batch.dtype != torch.long:
            raise DataError(f"{source}: expected token ids of dtype int64, got {batch.dtype}; convert with .long()")
        if len(batch) == 0:
            raise DataError(f"{source}: contains no sequences")

        size = len(self.vocabulary)
        _raise_for_rows(
            (batch < 0) | (batch >= size),
            source,
            f"contain token ids outside [0, {size}), the vocabulary's size",
        )
        _raise_for_rows(
            batch == BOS_ID,
            source,
            f"contain <bos> (id {BOS_ID}); rows store no <bos>, generators prepend it themselves",
        )
        real = self.mask(batch)
        _raise_for_rows(
            real & (batch == PAD_ID),
            source,
            f"contain <pad> (id {PAD_ID}) before their <eos>; padding belongs after the <eos> only",
        )
        _raise_for_rows(
            ~real & (batch != PAD_ID),
            source,
            f"contain tokens after their <eos>; every position after the <eos> must be <pad> (id {PAD_ID})",
        )
        if self.fixed_length:
            _raise_for_rows(
                batch < FIRST_ORDINARY_ID,
                source,
                f"are shorter than {self.max_length} tokens; this domain has fixed_length, so every row "
                "holds max_length ordinary tokens and no <eos> or <pad>",
            )

    def to_user(self, batch: torch.Tensor) -> list[Any]:
        """Decode each row into a ``str``: tokens up to the first ``<eos>``, ``<pad>`` and ``<bos>`` skipped."""
        return [self.vocabulary.decode(row) for row in batch.detach().cpu().tolist()]

    def from_user(self, objects: Sequence[Any]) -> torch.Tensor:
        """Encode texts into a batch, raising :class:`DataError` for a non-string or a text over ``max_length``.

        Errors name a text by its 1-based position in ``objects`` as its line.
        """
        rows = []
        for line, text in enumerate(objects, start=1):
            if not isinstance(text, str):
                raise DataError(f"texts: line {line} is a {type(text).__name__}, not a str")
            ids = self.vocabulary.encode(text)
            if len(ids) > self.max_length:
                raise DataError(
                    f"texts: line {line} has {len(ids)} {self.level} tokens, more than max_length "
                    f"{self.max_length}; shorten it or raise max_length"
                )
            if self.fixed_length and len(ids) != self.max_length:
                raise DataError(
                    f"texts: line {line} has {len(ids)} {self.level} tokens; this domain has fixed_length, "
                    f"so every text has exactly {self.max_length}"
                )
            rows.append(self._pad(ids))
        batch = torch.tensor(rows, dtype=torch.long).reshape(len(rows), self.max_length)
        self.validate(batch, source="texts")
        return batch

    def draw(self, batch: torch.Tensor, axes: Any, title: str | None = None) -> None:
        """Write the first few decoded texts, one per line, in a monospaced font."""
        texts = self.to_user(batch[:DRAWN_TEXTS])
        lines = [_shorten(text) for text in texts]
        # A "$" would start matplotlib's math mode.
        body = "\n".join(lines).replace("$", r"\$")
        axes.text(0.0, 1.0, body, family="monospace", fontsize=8, va="top", ha="left", transform=axes.transAxes)
        axes.set_axis_off()
        if title:
            axes.set_title(title)

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_length": self.max_length,
            "level": self.level,
            "vocabulary": self.vocabulary.to_dict(),
            "fixed_length": self.fixed_length,
        }

    def _lengths(self, batch: torch.Tensor) -> torch.Tensor:
        """Number of tokens of each valid row, shape ``(n,)``: the position of its ``<eos>``, else max_length."""
        return (self.mask(batch) & (batch != EOS_ID)).sum(dim=1)

    def _pad(self, ids: list[int]) -> list[int]:
        if len(ids) == self.max_length:
            return ids
        return ids + [EOS_ID] + [PAD_ID] * (self.max_length - len(ids) - 1)


def _raise_for_rows(bad: torch.Tensor, source: str, problem: str) -> None:
    """Raise a DataError naming the first rows where ``bad`` (shape ``(n, max_length)``) has a True entry."""
    bad_rows = bad.any(dim=1)
    if not bad_rows.any():
        return
    rows = bad_rows.nonzero().flatten()[:5].tolist()
    raise DataError(f"{source}: {int(bad_rows.sum())} row(s) {problem} (first rows {rows})")


def _shorten(text: str) -> str:
    if len(text) <= DRAWN_CHARACTERS:
        return text
    return text[: DRAWN_CHARACTERS - 1] + "…"


def build_sequence_domain(params: SequenceParams, context: Any) -> SequenceDomain:
    return SequenceDomain(Vocabulary.from_dict(params.vocabulary), params.max_length, params.fixed_length)
