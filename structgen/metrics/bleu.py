"""Sentence BLEU of many hypotheses against one shared set of references, and self-BLEU.

BLEU (Papineni et al., 2002, "BLEU: a Method for Automatic Evaluation of
Machine Translation") is computed per hypothesis with uniform weights over
the n-gram orders 1..N, smoothing method 1 of Chen and Cherry (2014, "A
Systematic Comparison of Smoothing Techniques for Sentence-Level BLEU") and
the brevity penalty of the closest reference length. The figures equal
NLTK's ``sentence_bleu(references, hypothesis, weights=(1/N,) * N,
smoothing_function=SmoothingFunction().method1)`` (checked against NLTK
3.10.4).

Text GAN papers score every generated text against the whole test set, so
the n-gram statistics of the references are computed once and shared by all
hypotheses. Tokens may be any hashable values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

NGram = tuple[Hashable, ...]

# Smoothing method 1 of Chen and Cherry (2014): a precision with no matching n-gram counts EPSILON matches.
EPSILON = 0.1


def ngram_counts(tokens: Sequence[Hashable], order: int) -> Counter[NGram]:
    """Count the n-grams of length ``order`` in ``tokens`` (none when ``tokens`` is shorter than ``order``)."""
    return Counter(tuple(tokens[start : start + order]) for start in range(len(tokens) - order + 1))


class NGramTable:
    """For each n-gram of a reference set, its two largest counts in any one reference.

    The largest count clips a hypothesis's matches for BLEU. The second
    largest, with the index of a reference that has the largest, gives the
    largest count among all references but one, which self-BLEU needs when
    each row is scored against all other rows. Building the table costs
    O(total reference length * max_order) dictionary updates.
    """

    def __init__(self, references: Sequence[Sequence[Hashable]], max_order: int) -> None:
        if max_order < 1:
            raise ValueError(f"max_order must be at least 1, got {max_order}")
        if not references:
            raise ValueError("BLEU needs at least one reference")
        self.max_order = max_order
        self.size = len(references)
        # Per order: n-gram -> [largest count, index of a reference with it, second largest count].
        self.tops: list[dict[NGram, list[int]]] = [{} for _ in range(max_order)]
        self.lengths = [len(reference) for reference in references]
        self.length_counts: Counter[int] = Counter(self.lengths)
        for index, reference in enumerate(references):
            for order in range(1, max_order + 1):
                table = self.tops[order - 1]
                for ngram, count in ngram_counts(reference, order).items():
                    entry = table.get(ngram)
                    if entry is None:
                        table[ngram] = [count, index, 0]
                    elif count > entry[0]:
                        table[ngram] = [count, index, entry[0]]
                    elif count > entry[2]:
                        entry[2] = count

    def max_count(self, ngram: NGram, excluded: int | None = None) -> int:
        """Return the largest count of ``ngram`` in one reference, skipping the reference at index ``excluded``."""
        entry = self.tops[len(ngram) - 1].get(ngram)
        if entry is None:
            return 0
        largest, holder, second = entry
        return second if holder == excluded else largest

    def closest_length(self, length: int, excluded_length: int | None = None) -> int:
        """Return the reference length closest to ``length``, the shorter one on a tie.

        ``excluded_length`` is the length of one reference to leave out.
        """
        lengths = [
            reference_length
            for reference_length, count in self.length_counts.items()
            if count > 1 or reference_length != excluded_length
        ]
        if not lengths:
            raise ValueError("no reference is left once the excluded one is skipped")
        return min(lengths, key=lambda reference_length: (abs(reference_length - length), reference_length))

    def bleu(self, hypothesis: Sequence[Hashable], orders: Iterable[int], excluded: int | None = None) -> list[float]:
        """Return sentence BLEU-n of ``hypothesis`` for each n in ``orders``.

        With ``excluded`` set, the reference at that index is left out, as if
        the table had been built without it.
        """
        orders = list(orders)
        if any(order < 1 or order > self.max_order for order in orders):
            raise ValueError(f"orders must lie in [1, {self.max_order}] for this table's max_order, got {orders}")
        excluded_length = None
        if excluded is not None:
            if self.size < 2:
                raise ValueError("leaving a reference out needs at least two references")
            if not 0 <= excluded < self.size:
                raise ValueError(f"excluded must index one of the {self.size} references, got {excluded}")
            excluded_length = self.lengths[excluded]
        matches, totals = self._clipped_counts(hypothesis, max(orders, default=1), excluded)
        reference_length = self.closest_length(len(hypothesis), excluded_length)
        return [combine(matches[:order], totals[:order], len(hypothesis), reference_length) for order in orders]

    def _clipped_counts(
        self, hypothesis: Sequence[Hashable], max_order: int, excluded: int | None
    ) -> tuple[list[int], list[int]]:
        matches, totals = [], []
        for order in range(1, max_order + 1):
            counts = ngram_counts(hypothesis, order)
            matches.append(sum(min(count, self.max_count(ngram, excluded)) for ngram, count in counts.items()))
            totals.append(sum(counts.values()))
        return matches, totals


def combine(matches: Sequence[int], totals: Sequence[int], hypothesis_length: int, reference_length: int) -> float:
    """Return BLEU from clipped matches and n-gram totals per order 1..N, with uniform weights 1/N.

    An order without n-grams gets a precision denominator of 1. A precision
    with no match counts ``EPSILON`` matches (smoothing method 1). BLEU is 0
    when no unigram matches, the empty hypothesis included.
    """
    if not matches or matches[0] == 0:
        return 0.0
    weight = 1.0 / len(matches)
    log_precisions = []
    for match, total in zip(matches, totals, strict=True):
        numerator = match if match > 0 else EPSILON
        log_precisions.append(weight * math.log(numerator / max(1, total)))
    return brevity_penalty(hypothesis_length, reference_length) * math.exp(math.fsum(log_precisions))


def brevity_penalty(hypothesis_length: int, reference_length: int) -> float:
    """Return 1 for a hypothesis longer than the reference, 0 for an empty one, else exp(1 - r / c)."""
    if hypothesis_length > reference_length:
        return 1.0
    if hypothesis_length == 0:
        return 0.0
    return math.exp(1.0 - reference_length / hypothesis_length)


def mean_bleu(
    hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]], orders: Sequence[int]
) -> dict[int, float]:
    """Return the mean sentence BLEU-n of ``hypotheses``, each against all ``references``, for each n in ``orders``.

    Cost: O((total reference length + total hypothesis length) * max(orders))
    dictionary operations.
    """
    if not hypotheses:
        raise ValueError("BLEU needs at least one hypothesis")
    table = NGramTable(references, max(orders))
    sums = [0.0] * len(orders)
    for hypothesis in hypotheses:
        for position, score in enumerate(table.bleu(hypothesis, orders)):
            sums[position] += score
    return {order: total / len(hypotheses) for order, total in zip(orders, sums, strict=True)}


def mean_self_bleu(
    rows: Sequence[Sequence[Hashable]], orders: Sequence[int], hypothesis_indices: Iterable[int] | None = None
) -> dict[int, float]:
    """Return the mean self-BLEU-n: each chosen row scored against all other rows, for each n in ``orders``.

    ``hypothesis_indices`` picks the rows scored as hypotheses, all rows when
    None. Every row other than the hypothesis itself serves as a reference.
    Identical rows score 1 against each other, so high self-BLEU means low
    diversity.
    """
    if len(rows) < 2:
        raise ValueError(f"self-BLEU needs at least 2 rows, got {len(rows)}")
    indices = list(range(len(rows))) if hypothesis_indices is None else list(hypothesis_indices)
    if not indices:
        raise ValueError("self-BLEU needs at least one hypothesis index")
    table = NGramTable(rows, max(orders))
    sums = [0.0] * len(orders)
    for index in indices:
        for position, score in enumerate(table.bleu(rows[index], orders, excluded=index)):
            sums[position] += score
    return {order: total / len(indices) for order, total in zip(orders, sums, strict=True)}
