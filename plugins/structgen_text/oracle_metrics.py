"""Metrics of the ``oracle`` data set: the oracle's NLL of generated text, and its NLL of its own samples."""

from __future__ import annotations

from typing import Any

import torch

from structgen import ConfigError, DataError, Metric
from structgen.config import ComponentParams
from structgen.context import BuildContext

from .oracle import OracleLSTM, mean_token_nll
from .vocabulary import FIRST_ORDINARY_ID


class OracleNLL(Metric):
    """Reports ``oracle_nll``: the oracle's negative log-likelihood per token of the generated rows, in nats.

    This is NLL-oracle of SeqGAN (Yu et al., 2017), where the MLE baseline
    scores 9.04 on their oracle. Lower is better down to ``oracle_floor``. A
    generator scores below the floor only by concentrating on the oracle's
    likely sequences, so read it together with a diversity metric such as
    ``self_bleu``. The real rows are not used.
    """

    def __init__(self, oracle: OracleLSTM) -> None:
        self.oracle = oracle

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        if generated.dim() != 2 or len(generated) == 0:
            raise DataError(
                f"oracle_nll: expected a non-empty batch of token ids of shape (n, length), "
                f"got shape {tuple(generated.shape)}"
            )
        last_id = FIRST_ORDINARY_ID + self.oracle.vocabulary_size
        outside = ((generated < FIRST_ORDINARY_ID) | (generated >= last_id)).any(dim=1)
        if outside.any():
            first_rows = outside.nonzero().flatten()[:5].tolist()
            raise DataError(
                f"oracle_nll: {int(outside.sum())} of {len(generated)} generated rows contain token ids outside "
                f"the ordinary ids [{FIRST_ORDINARY_ID}, {last_id}) (first rows {first_rows}). The oracle scores "
                "only rows of ordinary tokens, with no <eos> or <pad>"
            )
        return {"oracle_nll": mean_token_nll(self.oracle, generated - FIRST_ORDINARY_ID)}


class OracleFloor(Metric):
    """Reports ``oracle_floor``: the oracle's NLL per token of fresh samples of its own, the data set's
    ``info['oracle_floor']``.

    A generator that matches the oracle exactly scores this ``oracle_nll`` in
    expectation. The figure does not depend on the generated rows.
    """

    def __init__(self, floor: float) -> None:
        self.floor = floor

    def compute(self, real: torch.Tensor, generated: torch.Tensor) -> dict[str, float]:
        return {"oracle_floor": self.floor}


def _require_oracle_info(context: BuildContext, metric: str) -> dict[str, Any]:
    data = context.data
    if data is None or not isinstance(data.info.get("oracle"), OracleLSTM):
        raise ConfigError(
            [("metrics", f"{metric} needs the oracle data set, so set `data: {{name: oracle}}` or remove {metric}")]
        )
    return data.info


def build_oracle_nll(params: ComponentParams, context: BuildContext) -> OracleNLL:
    return OracleNLL(_require_oracle_info(context, "oracle_nll")["oracle"])


def build_oracle_floor(params: ComponentParams, context: BuildContext) -> OracleFloor:
    return OracleFloor(float(_require_oracle_info(context, "oracle_floor")["oracle_floor"]))
