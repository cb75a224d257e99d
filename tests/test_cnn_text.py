"""The ``cnn_text`` discriminator on token ids and on one-hot rows."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from structgen import ConfigError, DataError
from structgen.context import BuildContext
from structgen_text.cnn_text import CNNTextDiscriminator, CNNTextParams, build_cnn_text
from structgen_text.domain import SequenceDomain
from structgen_text.vocabulary import PAD_ID, Vocabulary

SMALL = {"embedding_dim": 8, "widths": [2, 3], "filters": 4}


def _domain(max_length: int = 6) -> SequenceDomain:
    return SequenceDomain(Vocabulary(list("abc"), "character"), max_length)


def _discriminator(domain: SequenceDomain, **params) -> CNNTextDiscriminator:
    torch.manual_seed(0)
    return CNNTextDiscriminator(domain.num_categories, CNNTextParams(**{**SMALL, **params})).eval()


def test_cnn_text_ids_match_one_hots():
    domain = _domain()
    discriminator = _discriminator(domain)
    x = domain.from_user(["abc", "", "cabbac", "a"])

    from_ids = discriminator(x)
    from_one_hots = discriminator(F.one_hot(x, domain.num_categories).float())

    assert from_ids.shape == (4,)
    assert torch.allclose(from_ids, from_one_hots, atol=1e-6)


def test_cnn_text_relaxed_input_gradient():
    domain = _domain()
    discriminator = _discriminator(domain)
    logits = torch.randn(3, domain.max_length, domain.num_categories, requires_grad=True)
    relaxed = torch.softmax(logits, dim=-1)

    discriminator(relaxed).sum().backward()

    assert logits.grad is not None
    assert float(logits.grad.abs().sum()) > 0
    assert torch.isfinite(logits.grad).all()


def test_cnn_text_pad_embeds_as_zero():
    domain = _domain()
    discriminator = _discriminator(domain)
    pad = F.one_hot(torch.full((2, domain.max_length), PAD_ID), domain.num_categories).float()
    pad.requires_grad_(True)

    discriminator(pad).sum().backward()

    assert torch.equal(discriminator.embed(pad), torch.zeros(2, domain.max_length, SMALL["embedding_dim"]))
    assert discriminator.embedding.weight.grad is not None
    assert float(discriminator.embedding.weight.grad[PAD_ID].abs().sum()) == 0.0


def test_cnn_text_rows_shorter_than_widths():
    domain = _domain(max_length=2)
    discriminator = _discriminator(domain, widths=[1, 5])
    x = domain.from_user(["ab", "c", ""])

    scores = discriminator(x)

    assert scores.shape == (3,)
    assert torch.isfinite(scores).all()


def test_cnn_text_without_highway_with_spectral_norm():
    domain = _domain()
    discriminator = _discriminator(domain, highway=False, spectral_norm=True)
    x = domain.from_user(["abc", "cab"])

    scores = discriminator(x)

    assert scores.shape == (2,)
    assert isinstance(discriminator.highway, torch.nn.Identity)
    assert hasattr(discriminator.head, "parametrizations")


def test_cnn_text_dropout_only_in_training():
    domain = _domain()
    discriminator = _discriminator(domain, dropout=0.9)
    x = domain.from_user(["abc", "cab", "bca", "a"])

    assert torch.equal(discriminator(x), discriminator(x))
    discriminator.train()
    torch.manual_seed(1)
    first = discriminator(x)
    second = discriminator(x)
    assert not torch.equal(first, second)


def test_cnn_text_rejects_bad_input():
    domain = _domain()
    discriminator = _discriminator(domain)

    with pytest.raises(DataError, match=r"one-hot rows of shape \(n, L, 7\)"):
        discriminator(torch.zeros(2, domain.max_length, 5))
    with pytest.raises(DataError, match="got shape"):
        discriminator(torch.zeros(2, domain.max_length))
    with pytest.raises(ValueError, match="not conditional"):
        discriminator(domain.from_user(["a"]), torch.zeros(1))


def test_cnn_text_params_reject_bad_widths():
    with pytest.raises(ValidationError, match="at least 1"):
        CNNTextParams(widths=[2, 0])
    with pytest.raises(ValidationError):
        CNNTextParams(widths=[])


def test_cnn_text_factory_needs_sequences(registry):
    images = registry.get("domain", "images")
    domain = images.factory(images.parse_params({}), None)
    context = BuildContext(registry=registry, device=torch.device("cpu"), domain=domain)

    with pytest.raises(ConfigError, match="cnn_text needs the sequences domain, got images"):
        build_cnn_text(CNNTextParams(), context)

    text_context = context.replace(domain=_domain())
    assert build_cnn_text(CNNTextParams(**SMALL), text_context).vocab_size == 7
