"""A GAN training step written directly in PyTorch, and the timing of structgen's trainer against it.

``overhead.py`` and ``overhead_dcgan.py`` import this module; it is not a
benchmark of its own.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from structgen.compare import deep_merge
from structgen.config import TrainingConfig, load_experiment
from structgen.experiment import Experiment, build_experiment
from structgen.plugins import default_registry
from structgen.training import Trainer


class PlainGAN:
    """The non-saturating GAN step with R1 penalty and weight average, with no framework code.

    It trains deep copies of the given networks with the strategy's
    settings, so both sides do the same arithmetic: one discriminator
    update, one generator update, then the weight average, which also
    copies buffers such as batch-norm statistics.
    """

    def __init__(self, generator, discriminator, params, data: torch.Tensor, batch_size: int) -> None:
        self.generator = copy.deepcopy(generator)
        self.discriminator = copy.deepcopy(discriminator)
        self.average = copy.deepcopy(generator).requires_grad_(False)
        betas = (params.beta1, params.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=params.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=params.lr_d, betas=betas)
        self.params = params
        self.data = data
        self.batch_size = batch_size
        self.batches = torch.Generator(device=data.device).manual_seed(0)
        self.d_updates = 0

    def step(self) -> None:
        p = self.params
        real = self.data[
            torch.randint(len(self.data), (self.batch_size,), device=self.data.device, generator=self.batches)
        ]
        latent = self.generator.latent_dim

        with torch.no_grad():
            fake = self.generator(torch.randn(self.batch_size, latent, device=real.device))
        apply_r1 = p.r1_gamma > 0 and self.d_updates % p.r1_every == 0
        self.d_updates += 1
        if apply_r1:
            real.requires_grad_(True)
        real_scores = self.discriminator(real)
        loss_d = F.softplus(-real_scores).mean() + F.softplus(self.discriminator(fake)).mean()
        if apply_r1:
            (grad,) = torch.autograd.grad(real_scores.sum(), real, create_graph=True)
            loss_d = loss_d + 0.5 * p.r1_gamma * grad.pow(2).flatten(1).sum(1).mean() * p.r1_every
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        fake = self.generator(torch.randn(self.batch_size, latent, device=real.device))
        loss_g = F.softplus(-self.discriminator(fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if p.ema_decay > 0:
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.average.parameters()), list(self.generator.parameters()), 1 - p.ema_decay
                )
                for average, current in zip(self.average.buffers(), self.generator.buffers(), strict=True):
                    average.copy_(current)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Rates:
    """Steps per second of each timed round, for both sides."""

    structgen: list[float]
    plain: list[float]

    def report(self) -> None:
        """Print the rounds, the best round of each side, and last the line ``ratio: R``."""
        best_structgen, best_plain = max(self.structgen), max(self.plain)
        print("structgen steps/s per round: " + ", ".join(f"{r:.1f}" for r in self.structgen))
        print("plain     steps/s per round: " + ", ".join(f"{r:.1f}" for r in self.plain))
        print(f"best: structgen {best_structgen:.1f} steps/s, plain {best_plain:.1f} steps/s")
        print(f"ratio: {best_structgen / best_plain:.3f}")


def time_against_plain(experiment: Experiment, steps: int, rounds: int, warmup: int = 20) -> Rates:
    """Time ``rounds`` rounds of ``steps`` GAN steps through structgen's trainer and through :class:`PlainGAN`.

    Rounds alternate between the two sides, so that drift in machine load
    hits both.
    """
    strategy = experiment.strategy
    batch_size = experiment.resolved.config.training.batch_size
    device = experiment.context.device
    plain = PlainGAN(strategy.generator, strategy.discriminator, strategy.params, experiment.data.train.x, batch_size)

    trainer = Trainer(strategy, experiment.data.train, TrainingConfig(steps=warmup, batch_size=batch_size), seed=0)
    trainer.fit()
    for _ in range(warmup):
        plain.step()

    rates = Rates([], [])
    for _ in range(rounds):
        trainer.config = TrainingConfig(steps=trainer.step + steps, batch_size=batch_size)
        synchronize(device)
        start = time.perf_counter()
        trainer.fit()
        synchronize(device)
        rates.structgen.append(steps / (time.perf_counter() - start))

        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            plain.step()
        synchronize(device)
        rates.plain.append(steps / (time.perf_counter() - start))
    return rates


def task_values(task_name: str, label: str, dataset: str, device: str) -> dict:
    """Return the experiment that ``structgen compare TASK`` runs for ``label`` on ``dataset`` at seed 0."""
    registry = default_registry()
    task = registry.get("task", task_name)
    compare = task.factory(task.params(), None)
    values = deep_merge(compare.base, compare.strategies[label])
    return {**values, "data": {"name": dataset}, "device": device, "seed": 0}


def run_benchmark(
    description: str, model: str, values: Callable[[str], dict], default_steps: int, default_rounds: int = 5
) -> None:
    """Parse ``--steps``, ``--rounds`` and ``--device``, build the experiment ``values(device)``, time it, report.

    ``model`` names the timed GAN in the first line of output.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=default_steps, help="Training steps per timed round.")
    parser.add_argument("--rounds", type=int, default=default_rounds, help="Timed rounds per side.")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto.")
    args = parser.parse_args()

    registry = default_registry()
    resolved = load_experiment(values=values(args.device), registry=registry)
    experiment = build_experiment(resolved, registry)
    batch_size = resolved.config.training.batch_size
    print(
        f"{model} on {experiment.context.device}: batch {batch_size}, {args.steps} steps per round, "
        f"{args.rounds} rounds"
    )
    time_against_plain(experiment, args.steps, args.rounds).report()
