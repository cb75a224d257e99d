"""The REINFORCE pieces and the ``seqgan`` and ``gumbel_gan`` strategies on tiny text data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structgen import ConfigError, Discriminator
from structgen.config import validate_values
from structgen.context import BuildContext
from structgen.experiment import Experiment, build_experiment, train
from structgen_text.cnn_text import CNNTextDiscriminator, CNNTextParams
from structgen_text.domain import SequenceDomain
from structgen_text.gru import GRUGenerator
from structgen_text.reinforce import mean_baseline, policy_log_probs, reinforce_loss, rollout_rewards
from structgen_text.seqgan import require_autoregressive
from structgen_text.vocabulary import FIRST_ORDINARY_ID, Vocabulary

# Real rows contain only "a"; "b", "c" and "d" occur once so that they are in the vocabulary.
CORPUS = ["aaaa", "aaa", "aa", "aaaa", "aaa", "aaaa", "aa", "aaaa"] * 4 + ["bcd", "dcb"]
SMALL_GENERATOR = {"name": "gru", "embedding_dim": 16, "hidden": 16}
SMALL_DISCRIMINATOR = {"name": "cnn_text", "embedding_dim": 8, "widths": [1, 2], "filters": 8, "dropout": 0.0}
PHASES = {"pretrain_steps": 2, "d_pretrain_steps": 2, "d_steps": 2}


def _experiment(tmp_path: Path, registry, strategy: dict, steps: int, **overrides) -> Experiment:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    values = {
        "data": {"name": "text_file", "path": str(path), "max_length": 4},
        "generator": SMALL_GENERATOR,
        "discriminator": SMALL_DISCRIMINATOR,
        "strategy": strategy,
        "training": {"steps": steps, "batch_size": 16, "log_every": 1},
        "device": "cpu",
        "seed": 0,
        **overrides,
    }
    return build_experiment(validate_values(values, registry), registry)


def _tiny_domain() -> SequenceDomain:
    return SequenceDomain(Vocabulary(list("abc"), "character"), 5)


def _tiny_models(domain: SequenceDomain) -> tuple[GRUGenerator, CNNTextDiscriminator]:
    torch.manual_seed(0)
    generator = GRUGenerator(domain, embedding_dim=8, hidden=8)
    params = CNNTextParams(embedding_dim=8, widths=[1, 2], filters=4, dropout=0.5)
    return generator, CNNTextDiscriminator(domain.num_categories, params)


class LogRecorder:
    """Keeps every log line that the trainer reports."""

    def __init__(self) -> None:
        self.logs: dict[int, dict[str, float]] = {}

    def on_start(self, step: int) -> None:
        pass

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self.logs[step] = logs

    def on_checkpoint(self, step: int, state: dict) -> None:
        pass


# REINFORCE loss


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=4),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_reinforce_loss_ignores_padding(lengths, seed):
    generator = torch.Generator().manual_seed(seed)
    n, length, vocab = len(lengths), 5, 4
    mask = torch.arange(length).expand(n, -1) < torch.tensor(lengths).unsqueeze(1)
    tokens = torch.randint(vocab, (n, length), generator=generator)
    rewards = torch.rand(n, length, generator=generator)
    logits = torch.randn(n, length, vocab, generator=generator)

    def loss_and_gradient(logits: torch.Tensor, rewards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = logits.clone().requires_grad_(True)
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        loss = reinforce_loss(log_probs, rewards, mask, mean_baseline(rewards, mask))
        loss.backward()
        return loss.detach(), logits.grad

    loss, gradient = loss_and_gradient(logits, rewards)
    padded = ~mask
    changed_logits = logits.masked_fill(padded.unsqueeze(-1), float("-inf"))
    changed_logits[..., 0] = torch.where(padded, 1e4, changed_logits[..., 0])
    changed_rewards = rewards.masked_fill(padded, float("nan"))
    changed_loss, changed_gradient = loss_and_gradient(changed_logits, changed_rewards)

    assert torch.isfinite(loss)
    assert torch.equal(loss, changed_loss)
    assert torch.equal(gradient, changed_gradient)
    assert float(gradient[padded].abs().sum()) == 0.0


def test_reinforce_loss_value():
    log_probs = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -4.0, -9.0]])
    rewards = torch.tensor([[1.0, 0.5, 7.0], [2.0, 7.0, 7.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])

    loss = reinforce_loss(log_probs, rewards, mask, torch.tensor(0.5))

    # Real terms: 0.5 * -1, 0 * -2, 1.5 * -0.5, over 3 real positions.
    assert float(loss) == pytest.approx((0.5 + 0.75) / 3)


def test_reinforce_loss_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="one shape"):
        reinforce_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2, 3, dtype=torch.bool))


def test_mean_baseline_counts_real_rows_only():
    rewards = torch.tensor([[1.0, 2.0, 5.0], [3.0, 9.0, 9.0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])

    baseline = mean_baseline(rewards, mask)

    assert torch.equal(baseline, torch.tensor([[2.0, 2.0, 5.0]]))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_reinforce_step_moves_token_probability(sign):
    domain = _tiny_domain()
    generator, _ = _tiny_models(domain)
    x = domain.from_user(["abca", "cc"])
    rewards = torch.zeros(2, domain.max_length)
    rewards[0, 2] = sign
    mask = domain.mask(x)
    optimizer = torch.optim.SGD(generator.parameters(), lr=0.05)
    before = generator.token_log_probs(x).detach()

    loss = reinforce_loss(generator.token_log_probs(x), rewards, mask)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    after = generator.token_log_probs(x).detach()

    change = float(after[0, 2] - before[0, 2])
    assert sign * change > 0


def test_policy_log_probs_at_temperature_one():
    domain = _tiny_domain()
    generator, _ = _tiny_models(domain)
    x = domain.from_user(["abca", "cc", "", "abcab"])
    mask = domain.mask(x)

    log_probs = policy_log_probs(generator, x, temperature=1.0)
    sharper = policy_log_probs(generator, x, temperature=0.5)

    assert torch.allclose(log_probs[mask], generator.token_log_probs(x)[mask])
    assert not torch.allclose(sharper[mask], log_probs[mask])
    assert bool((sharper[mask] <= 0).all())


# Rollout rewards


def test_rollout_rewards_shape_range_and_padding():
    domain = _tiny_domain()
    generator, discriminator = _tiny_models(domain)
    discriminator.train()
    torch.manual_seed(1)
    samples = torch.cat([generator.sample(6), domain.from_user(["", "a", "abcab"])])
    mask = domain.mask(samples)

    rewards = rollout_rewards(generator, samples, discriminator, rollouts=4)

    assert rewards.shape == samples.shape
    assert float(rewards[~mask].abs().sum()) == 0.0
    assert float(rewards.min()) >= 0.0
    assert float(rewards.max()) <= 1.0
    assert bool((rewards[mask] > 0).all())
    assert discriminator.training
    assert generator.training


def test_rollout_last_reward_is_probability():
    domain = _tiny_domain()
    generator, discriminator = _tiny_models(domain)
    samples = domain.from_user(["ab", "", "abcab", "c"])
    last = domain.mask(samples).sum(dim=1) - 1

    rewards = rollout_rewards(generator, samples, discriminator, rollouts=3)

    discriminator.eval()
    expected = torch.sigmoid(discriminator(samples))
    assert torch.allclose(rewards.gather(1, last.unsqueeze(1)).squeeze(1), expected)


def test_rollout_rewards_with_greedy_completion():
    # With top_k=1 every completion is the greedy one, so the mean over rollouts equals one completion's score.
    domain = _tiny_domain()
    generator, discriminator = _tiny_models(domain)
    discriminator.eval()
    samples = domain.from_user(["abca", "cb"])

    rewards = rollout_rewards(generator, samples, discriminator, rollouts=3, top_k=1)

    greedy = generator.complete(samples[:, :2], top_k=1)
    expected = torch.sigmoid(discriminator(greedy))
    assert torch.allclose(rewards[:, 1], expected)


def test_rollout_rewards_rejects_zero_rollouts():
    domain = _tiny_domain()
    generator, discriminator = _tiny_models(domain)
    with pytest.raises(ValueError, match="rollouts must be at least 1"):
        rollout_rewards(generator, domain.from_user(["a"]), discriminator, rollouts=0)


# Strategies

SEQGAN = {"name": "seqgan", "rollouts": 2, **PHASES}
GUMBEL_GAN = {"name": "gumbel_gan", **PHASES}
ADVERSARIAL_KEYS = {
    "seqgan": {"loss_g", "reward", "nll", "loss_d"},
    "gumbel_gan": {"loss_g", "nll", "tau", "loss_d"},
}


@pytest.mark.parametrize("strategy", [SEQGAN, GUMBEL_GAN], ids=lambda strategy: strategy["name"])
def test_text_gan_runs_all_phases(tmp_path, registry, strategy):
    experiment = _experiment(tmp_path, registry, strategy, steps=6)
    recorder = LogRecorder()

    train(experiment, observers=(recorder,))

    assert experiment.strategy.batches_per_step == 2
    assert set(recorder.logs) == set(range(1, 7))
    for step in (1, 2):
        assert set(recorder.logs[step]) == {"nll"}
    for step in (3, 4):
        assert set(recorder.logs[step]) == {"loss_d"}
    for step in (5, 6):
        assert set(recorder.logs[step]) == ADVERSARIAL_KEYS[strategy["name"]]
    assert all(math.isfinite(value) for logs in recorder.logs.values() for value in logs.values())
    samples = experiment.strategy.sample(32)
    experiment.domain.validate(samples, source="samples")
    assert samples.shape == (32, 4)


@pytest.mark.parametrize("strategy", [SEQGAN, GUMBEL_GAN], ids=lambda strategy: strategy["name"])
def test_text_gan_update_counts(tmp_path, registry, strategy):
    experiment = _experiment(tmp_path, registry, {**strategy, "pretrain_steps": 1, "d_pretrain_steps": 1}, steps=3)
    gan = experiment.strategy
    x = experiment.data.train.x[:32]

    for step in range(3):
        gan.train_step(x, step=step)

    def updates(name: str) -> int:
        return int(gan.optimizers[name].state_dict()["state"][0]["step"])

    # Generator: one MLE update, then one adversarial update. Discriminator: d_steps (2) updates in each later step.
    assert updates("generator") == 2
    assert updates("discriminator") == 4


@pytest.mark.parametrize("strategy", [SEQGAN, GUMBEL_GAN], ids=lambda strategy: strategy["name"])
def test_text_gan_training_state_round_trip(tmp_path, registry, strategy):
    trained = _experiment(tmp_path, registry, strategy, steps=6)
    train(trained)
    fresh = _experiment(tmp_path, registry, strategy, steps=6)

    fresh.strategy.load_training_state(trained.strategy.training_state())

    fresh_state = fresh.strategy.state_dict()
    for name, value in trained.strategy.state_dict().items():
        if torch.is_tensor(value):
            assert torch.equal(value, fresh_state[name]), name
        else:
            assert value == fresh_state[name], name
    for name, optimizer in trained.strategy.optimizers.items():
        assert fresh.strategy.optimizers[name].state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


def test_seqgan_rollout_copy_follows_generator(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {**SEQGAN, "rollout_update": 0.5}, steps=6)
    gan = experiment.strategy

    train(experiment)

    assert gan.rollout is not None
    assert gan.rollout.updates == 2
    # A delayed copy differs from the generator that it follows.
    copy = dict(gan.rollout.average.named_parameters())
    moved = [name for name, weight in gan.generator.named_parameters() if not torch.equal(weight, copy[name])]
    assert moved
    assert "rollout.average.output.weight" in gan.state_dict()


def test_seqgan_rollout_copy_off(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {**SEQGAN, "rollout_update": 0.0, "baseline": "none"}, steps=6)

    train(experiment)

    assert experiment.strategy.rollout is None
    assert not any(name.startswith("rollout") for name in experiment.strategy.state_dict())


def test_gumbel_gan_tau_anneals(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, {**GUMBEL_GAN, "tau_start": 2.0, "tau_end": 0.5}, steps=10)
    gan = experiment.strategy

    assert gan.tau(0) == pytest.approx(2.0)
    assert gan.tau(gan.adversarial_start) == pytest.approx(2.0)
    assert gan.tau(9) == pytest.approx(0.5)
    # Geometric: halfway through the adversarial steps tau is the geometric mean.
    assert gan.tau(gan.adversarial_start + 2.5) == pytest.approx(1.0)


def test_text_gan_rejects_other_generators(registry):
    context = BuildContext(registry=registry, device=torch.device("cpu"), domain=_tiny_domain())
    with pytest.raises(ConfigError, match="seqgan needs an autoregressive generator, got Linear"):
        require_autoregressive(torch.nn.Linear(2, 2), context, "seqgan")


class IdsOnlyDiscriminator(Discriminator):
    """Scores token ids by an embedding lookup, which fails on one-hot rows."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.embedding(x).sum(dim=(1, 2))


def test_gumbel_gan_rejects_ids_only_discriminator(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, GUMBEL_GAN, steps=1)
    gan = experiment.strategy
    gan.discriminator = IdsOnlyDiscriminator(experiment.domain.num_categories)

    with pytest.raises(ConfigError, match=r"gumbel_gan feeds one-hot rows of shape \(n, L, V\)"):
        gan._check_one_hot_input(experiment.context)
    assert gan.discriminator.training


def test_text_gan_rejects_condition(tmp_path, registry):
    experiment = _experiment(tmp_path, registry, SEQGAN, steps=1)
    x = experiment.data.train.x[:4]
    with pytest.raises(ValueError, match="unconditional"):
        experiment.strategy.train_step(x, torch.zeros(4), step=0)


def _share_of_a(experiment: Experiment, n: int = 400) -> float:
    """Return the share of "a" among the ordinary tokens of ``n`` samples (0 when there are none)."""
    a = experiment.domain.vocabulary.ordinary_ids["a"]
    torch.manual_seed(123)
    samples = experiment.strategy.sample(n)
    ordinary = samples >= FIRST_ORDINARY_ID
    return float((samples == a)[ordinary].float().mean().nan_to_num(0.0))


@pytest.mark.parametrize(
    "strategy, steps",
    [
        ({"name": "seqgan", "rollouts": 4, "lr_g": 0.02}, 100),
        ({"name": "gumbel_gan", "lr_g": 0.005, "tau_start": 1.0, "tau_end": 1.0}, 140),
    ],
    ids=["seqgan", "gumbel_gan"],
)
def test_text_gan_raises_preferred_token(tmp_path, registry, strategy, steps):
    # Without MLE pre-training the generator starts near uniform. The discriminator learns in 60 steps that real
    # rows contain "a", then stays fixed (d_steps 0), so the adversarial steps alone must raise the share of "a".
    phases = {"pretrain_steps": 0, "d_pretrain_steps": 60, "d_steps": 0, "lr_d": 0.01}
    experiment = _experiment(tmp_path, registry, {**strategy, **phases}, steps=steps)
    experiment.strategy.eval()
    before = _share_of_a(experiment)

    train(experiment)

    after = _share_of_a(experiment)
    assert before < 0.4
    assert after > 0.7


@pytest.mark.parametrize("strategy", [SEQGAN, GUMBEL_GAN], ids=lambda strategy: strategy["name"])
def test_linear_chain_crf_serves_as_gan_discriminator(tmp_path, registry, strategy):
    experiment = _experiment(tmp_path, registry, strategy, steps=6, discriminator={"name": "linear_chain_crf"})
    crf = experiment.strategy.discriminator
    transitions_before = crf.transitions.detach().clone()
    recorder = LogRecorder()

    train(experiment, observers=(recorder,))

    assert set(recorder.logs[6]) == ADVERSARIAL_KEYS[strategy["name"]]
    assert all(math.isfinite(value) for logs in recorder.logs.values() for value in logs.values())
    # The discriminator phases trained the CRF's transition scores.
    assert not torch.equal(crf.transitions.detach(), transitions_before)


def test_gumbel_gan_rejects_a_loss_with_gradient_penalty(tmp_path, registry):
    with pytest.raises(ConfigError, match="does not add the gp penalty"):
        _experiment(tmp_path, registry, {**GUMBEL_GAN, "loss": "wasserstein_gp"}, steps=1)
