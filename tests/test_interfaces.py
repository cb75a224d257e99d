"""The core interfaces and their built-in implementations: shapes, conversions and contracts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from structgen import Capability, DataError, Discriminator, Domain, Generator, Strategy
from structgen.losses import MinimaxLoss, NonSaturatingLoss
from structgen.strategies.updates import WeightAverage
from structgen_images.conv import ConvDiscriminator, ConvDiscriminatorParams, ConvGenerator, ConvGeneratorParams
from structgen_images.domain import ImageDomain
from structgen_vectors.domain import VectorDomain
from structgen_vectors.networks import MLPDiscriminator, MLPDiscriminatorParams, MLPGenerator, MLPGeneratorParams


def test_domain_is_abstract():
    with pytest.raises(TypeError):
        Domain()  # type: ignore[abstract]


def test_vector_domain_round_trip():
    domain = VectorDomain(3, -2.0, 2.0)
    batch = torch.randn(5, 3)
    assert torch.equal(domain.from_user(domain.to_user(batch)), batch)
    assert domain.event_shape == (3,)
    assert not domain.is_discrete
    assert domain.dtype == torch.float32


def test_vector_domain_random_batch_in_box():
    domain = VectorDomain(2, -1.5, 0.5)
    batch = domain.random_batch(1000)
    assert batch.shape == (1000, 2)
    assert float(batch.min()) >= -1.5
    assert float(batch.max()) <= 0.5
    assert torch.equal(domain.project(torch.tensor([[9.0, -9.0]])), torch.tensor([[0.5, -1.5]]))


def test_vector_domain_rejects_bad_batches():
    domain = VectorDomain(2, -1.0, 1.0)
    with pytest.raises(DataError, match=r"shape \(n, 2\)"):
        domain.validate(torch.zeros(4, 3), source="my.csv")
    with pytest.raises(DataError, match="NaN or infinite"):
        domain.validate(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(DataError, match="no points"):
        domain.validate(torch.zeros(0, 2))


def test_vector_domain_has_no_categories():
    with pytest.raises(NotImplementedError, match="continuous"):
        _ = VectorDomain(2, -1.0, 1.0).num_categories


def test_image_domain_round_trip():
    domain = ImageDomain(1, 8, 8)
    batch = torch.rand(4, 1, 8, 8) * 2 - 1
    user = domain.to_user(batch)
    assert user[0].shape == (8, 8)
    assert float(np.min(user)) >= 0.0
    assert float(np.max(user)) <= 1.0
    assert torch.allclose(domain.from_user(user), batch, atol=1e-6)


def test_image_domain_rejects_out_of_range():
    domain = ImageDomain(1, 8, 8)
    with pytest.raises(DataError, match="rescale them to"):
        domain.validate(torch.full((2, 1, 8, 8), 16.0))
    with pytest.raises(DataError, match=r"shape \(n, 1, 8, 8\)"):
        domain.validate(torch.zeros(2, 8, 8))


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_conv_networks_fit_image_shapes(shape):
    generator = ConvGenerator(shape, ConvGeneratorParams(latent_dim=8, channels=16))
    discriminator = ConvDiscriminator(shape, ConvDiscriminatorParams(channels=8))
    images = generator(generator.sample_latent(3))
    assert images.shape == (3, *shape)
    assert float(images.detach().abs().max()) <= 1.0
    assert discriminator(images).shape == (3,)


def test_mlp_generator_output_and_sample():
    generator = MLPGenerator((1, 8, 8), MLPGeneratorParams(latent_dim=5, hidden=16, layers=1), None, tanh=True)
    assert generator.latent_dim == 5
    assert generator.sample_latent(4).shape == (4, 5)
    sample = generator.sample(4)
    assert sample.shape == (4, 1, 8, 8)
    assert not sample.requires_grad


def test_conditional_networks_need_labels():
    generator = MLPGenerator((2,), MLPGeneratorParams(latent_dim=3, conditional=True), 4, tanh=False)
    discriminator = MLPDiscriminator((2,), MLPDiscriminatorParams(conditional=True), 4)
    labels = torch.tensor([0, 3])
    x = generator(generator.sample_latent(2), labels)
    assert discriminator(x, labels).shape == (2,)
    with pytest.raises(ValueError, match="conditional"):
        generator(generator.sample_latent(2))
    with pytest.raises(ValueError, match="conditional"):
        discriminator(x)


def test_projection_term_changes_score_with_label():
    discriminator = MLPDiscriminator((2,), MLPDiscriminatorParams(conditional=True), 4)
    x = torch.randn(1, 2)
    assert not torch.equal(discriminator(x, torch.tensor([0])), discriminator(x, torch.tensor([1])))


def test_generator_log_prob_is_optional():
    generator = MLPGenerator((2,), MLPGeneratorParams(), None, tanh=False)
    with pytest.raises(NotImplementedError, match="autoregressive"):
        generator.log_prob(torch.zeros(1, 2))


def test_discriminator_energy_is_negative_score():
    discriminator = MLPDiscriminator((2,), MLPDiscriminatorParams(hidden=8), None)
    x = torch.randn(6, 2)
    assert torch.equal(discriminator.energy(x), -discriminator(x))
    assert Capability.INPUT_GRADIENT in discriminator.capabilities
    with pytest.raises(NotImplementedError, match="no factor structure"):
        discriminator.factors(x)
    with pytest.raises(NotImplementedError, match="no conditional distributions"):
        discriminator.conditional(x, "hidden")


def test_interfaces_are_modules():
    assert issubclass(Generator, torch.nn.Module)
    assert issubclass(Discriminator, torch.nn.Module)
    assert issubclass(Strategy, torch.nn.Module)


def test_minimax_losses_match_binary_cross_entropy():
    real, fake = torch.randn(10), torch.randn(10)
    loss = MinimaxLoss()
    expected_d = F.binary_cross_entropy_with_logits(real, torch.ones(10)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros(10)
    )
    assert torch.allclose(loss.discriminator_loss(real, fake), expected_d)
    # G minimises log(1 - sigmoid(s)).
    assert torch.allclose(loss.generator_loss(fake), torch.log1p(-torch.sigmoid(fake)).mean(), atol=1e-6)


def test_non_saturating_generator_loss():
    fake = torch.randn(10)
    expected = F.binary_cross_entropy_with_logits(fake, torch.ones(10))
    assert torch.allclose(NonSaturatingLoss().generator_loss(fake), expected)


def test_non_saturating_gradient_does_not_vanish():
    fake = torch.full((4,), -10.0, requires_grad=True)
    (grad_minimax,) = torch.autograd.grad(MinimaxLoss().generator_loss(fake), fake)
    (grad_ns,) = torch.autograd.grad(NonSaturatingLoss().generator_loss(fake), fake)
    assert float(grad_minimax.abs().max()) < 1e-4
    assert float(grad_ns.abs().min()) > 0.2


def test_weight_average_tracks_weights_and_copies_buffers():
    network = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    average = WeightAverage(network, decay=0.5)
    start = network[0].weight.detach().clone()
    with torch.no_grad():
        network[0].weight.add_(1.0)
    network(torch.randn(16, 2))  # updates the batch-norm running statistics
    average.update(network)
    assert torch.allclose(average.average[0].weight, start + 0.5)
    assert torch.equal(average.average[1].running_mean, network[1].running_mean)
    assert not any(p.requires_grad for p in average.average.parameters())


def test_weight_average_warmup_forgets_start():
    network = torch.nn.Linear(1, 1, bias=False)
    average = WeightAverage(network, decay=0.999, warmup=True)
    with torch.no_grad():
        network.weight.fill_(1.0)
        average.average.weight.fill_(0.0)
    average.update(network)  # decay min(0.999, 1/10) = 0.1
    assert torch.allclose(average.average.weight, torch.tensor([[0.9]]))
    assert average.get_extra_state() == {"updates": 1}


def test_linear_decay_schedule():
    from structgen.strategies.updates import linear_decay

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = linear_decay(optimizer, total_steps=10, start_fraction=0.5)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[:6] == [1.0] * 6
    assert rates[6] == pytest.approx(0.8)
    assert rates[9] == pytest.approx(0.2)
