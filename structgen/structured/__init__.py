"""Exact inference for structured models, written as batched tensor functions.

:mod:`.linear_chain` covers the linear-chain conditional random field: the
score of a tag sequence, the log-partition function, Viterbi decoding,
posterior marginals and exact sampling.
"""

from .linear_chain import (
    PADDING_TAG,
    constrain,
    log_likelihood,
    log_partition,
    marginals,
    sample,
    sequence_score,
    viterbi,
)

__all__ = [
    "PADDING_TAG",
    "constrain",
    "log_likelihood",
    "log_partition",
    "marginals",
    "sample",
    "sequence_score",
    "viterbi",
]
