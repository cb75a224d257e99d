"""The ``dcgan`` generator and discriminator: shapes, conditioning, spectral norm, EMA and a conditional model."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structgen import ConfigError
from structgen.config import ComponentConfig, load_experiment
from structgen.context import BuildContext
from structgen.experiment import build_experiment, train
from structgen_images.domain import ImageDomain

SMALL_GENERATOR = {"name": "dcgan", "latent_dim": 8, "channels": 8}
SMALL_DISCRIMINATOR = {"name": "dcgan", "channels": 8}


def _context(registry, shape: tuple[int, int, int], num_classes: int | None = None) -> BuildContext:
    return BuildContext(
        registry=registry, device=torch.device("cpu"), domain=ImageDomain(*shape), num_classes=num_classes
    )


def _build(registry, kind: str, shape: tuple[int, int, int], num_classes: int | None = None, **params):
    defaults = SMALL_GENERATOR if kind == "generator" else SMALL_DISCRIMINATOR
    section = ComponentConfig.model_validate({**defaults, **params})
    return _context(registry, shape, num_classes).build(kind, section)


def _digits_experiment(registry, strategy: dict, conditional: bool = False, steps: int = 3, **sections):
    values = {
        "data": {"name": "digits", "conditional": conditional},
        "strategy": strategy,
        **sections,
        "training": {"steps": steps, "batch_size": 64, "log_every": 50},
        "device": "cpu",
        "seed": 0,
    }
    return build_experiment(load_experiment(values=values, registry=registry), registry)


@pytest.mark.parametrize(
    "shape",
    [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 8, 8)],
    ids=["28x28x1", "28x28x3", "32x32x1", "32x32x3", "8x8x1"],
)
def test_dcgan_output_shapes(registry, shape):
    generator = _build(registry, "generator", shape)
    discriminator = _build(registry, "discriminator", shape)
    with torch.no_grad():
        images = generator(generator.sample_latent(5))
    assert images.shape == (5, *shape)
    assert float(images.abs().max()) < 1.0
    assert discriminator(images).shape == (5,)


@settings(max_examples=10, deadline=None)
@given(
    height=st.sampled_from([6, 10, 12, 14, 16, 20, 24]),
    width=st.sampled_from([6, 10, 12, 14, 16, 20, 24]),
    channels=st.integers(1, 4),
)
def test_dcgan_shapes_for_even_sides(registry, height, width, channels):
    shape = (channels, height, width)
    generator = _build(registry, "generator", shape)
    discriminator = _build(registry, "discriminator", shape)
    images = generator(generator.sample_latent(3))
    assert images.shape == (3, *shape)
    assert discriminator(images).shape == (3,)


@pytest.mark.parametrize("kind", ["generator", "discriminator"])
def test_dcgan_rejects_odd_sides(registry, kind):
    with pytest.raises(ConfigError, match="both even and above 4, but the images are 7x7"):
        _build(registry, kind, (1, 7, 7))


@pytest.mark.parametrize("kind", ["generator", "discriminator"])
def test_dcgan_rejects_vector_domain(registry, kind):
    context = BuildContext(registry=registry, device=torch.device("cpu"))
    vectors = context.build("domain", ComponentConfig(name="vectors", dim=64))
    expected = r"dcgan needs images of shape \(C, H, W\), but the domain's objects have shape \(64,\)"
    with pytest.raises(ConfigError, match=expected):
        context.replace(domain=vectors).build(kind, ComponentConfig(name="dcgan"))


def test_generator_channels_double_towards_seed(registry):
    generator = _build(registry, "generator", (3, 32, 32), channels=16, max_channels=32)
    transposed = [layer for layer in generator.net if isinstance(layer, torch.nn.ConvTranspose2d)]
    assert [(layer.in_channels, layer.out_channels) for layer in transposed] == [(32, 32), (32, 32), (32, 16)]
    assert generator.seed_shape == (32, 4, 4)


def test_conditional_generator_depends_on_label(registry):
    generator = _build(registry, "generator", (1, 28, 28), num_classes=10).eval()
    z = generator.sample_latent(4).repeat(2, 1)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    with torch.no_grad():
        images = generator(z, labels)
    difference = (images[:4] - images[4:]).abs().flatten(1).max(dim=1).values
    assert bool((difference > 1e-3).all())


def test_condition_mismatch_raises(registry):
    unconditional = _build(registry, "generator", (1, 8, 8))
    conditional = _build(registry, "generator", (1, 8, 8), num_classes=10)
    z = unconditional.sample_latent(2)
    with pytest.raises(ValueError, match="not conditional"):
        unconditional(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="Pass class labels"):
        conditional(z)
    discriminator = _build(registry, "discriminator", (1, 8, 8), num_classes=10)
    with pytest.raises(ValueError, match="Pass class labels"):
        discriminator(torch.zeros(2, 1, 8, 8))


def test_projection_score_changes_with_label(registry):
    discriminator = _build(registry, "discriminator", (3, 32, 32), num_classes=10)
    x = torch.rand(10, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        scores = torch.stack([discriminator(x, torch.full((10,), label)) for label in range(10)])
        unconditional = discriminator.head(discriminator.features(x)).squeeze(1)
    assert scores.shape == (10, 10)
    assert float(scores.std(dim=0).min()) > 1e-3
    # Label 3's score minus the unconditional part is the projection term <embed(3), phi(x)>.
    projection = discriminator.features(x) @ discriminator.embedding.weight[3]
    torch.testing.assert_close(scores[3] - unconditional, projection.detach())


def test_spectral_norm_reaches_unit_norm(registry):
    torch.manual_seed(0)
    discriminator = _build(registry, "discriminator", (3, 32, 32), num_classes=10, channels=32, spectral_norm=True)
    x = torch.randn(4, 3, 32, 32)
    labels = torch.arange(4)
    discriminator.train()
    for _ in range(50):  # one power iteration per call in train mode
        discriminator(x, labels)
    discriminator.eval()
    normalised = [module for module in discriminator.modules() if hasattr(module, "parametrizations")]
    assert len(normalised) == 5  # three convolutions, the score layer and the label embedding
    with torch.no_grad():
        for module in normalised:
            weight = module.weight
            norm = float(torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), 2))
            assert norm == pytest.approx(1.0, rel=0.01), type(module).__name__


def test_batch_norm_skips_first_convolution(registry):
    discriminator = _build(registry, "discriminator", (1, 32, 32), batch_norm=True)
    layers = list(discriminator.features)
    norms = [index for index, layer in enumerate(layers) if isinstance(layer, torch.nn.BatchNorm2d)]
    assert isinstance(layers[0], torch.nn.Conv2d)
    assert isinstance(layers[1], torch.nn.LeakyReLU)
    assert len(norms) == 2
    assert discriminator(torch.zeros(3, 1, 32, 32)).shape == (3,)


def test_ema_copies_batch_norm_statistics(registry):
    experiment = _digits_experiment(
        registry,
        {"name": "gan", "ema_decay": 0.9},
        conditional=True,
        steps=3,
        generator=SMALL_GENERATOR,
        discriminator=SMALL_DISCRIMINATOR,
        metrics=[],
    )
    strategy = experiment.strategy
    averaged = strategy.average.average
    initial = {name: buffer.clone() for name, buffer in averaged.named_buffers()}
    train(experiment)
    trained = dict(strategy.generator.named_buffers())
    means = [name for name in initial if name.endswith("running_mean")]
    assert len(means) == 2  # the seed map's and the upsampling stage's batch norms
    for name in means:
        assert torch.equal(averaged.get_buffer(name), trained[name]), name
        assert not torch.equal(averaged.get_buffer(name), initial[name]), name
        assert bool((initial[name] == 0).all()), name
    for name, buffer in averaged.named_buffers():
        assert torch.equal(buffer, trained[name]), name


def test_conditional_vae_generates_requested_digits(registry):
    # A conditional VAE with the conv encoder and the dcgan decoder. It trained in about 5 s on one CPU thread.
    experiment = _digits_experiment(
        registry,
        {"name": "vae", "encoder": "conv", "observation_std": 0.5},
        conditional=True,
        steps=500,
        generator={"name": "dcgan", "latent_dim": 8, "channels": 32},
    )
    train(experiment)
    classifier = experiment.context.build("feature_extractor", ComponentConfig(name="classifier"))
    labels = torch.arange(10).repeat_interleave(200)
    torch.manual_seed(0)
    samples = experiment.strategy.sample(len(labels), labels)
    predicted = classifier.class_probabilities(samples).argmax(dim=1)
    for digit in range(10):
        chosen = labels == digit
        accuracy = float((predicted[chosen] == digit).float().mean())
        assert accuracy >= 0.9, f"digit {digit}: {accuracy:.2f} of samples classified as requested"
        # Samples of one class still differ: the decoder uses z, not only the label.
        spread = float(samples[chosen].std(dim=0).mean())
        assert spread > 0.05, f"digit {digit}: per-pixel spread {spread:.3f}"
