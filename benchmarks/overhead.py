"""Time training steps of the default ``mixture`` GAN through structgen against a plain PyTorch loop.

Both sides train the same networks (the plain loop gets deep copies of the
modules structgen built) with the same batch size, losses, R1 penalty,
weight average and Adam settings, in one process. Rounds alternate between
the two sides so that drift in machine load hits both; the best round of
each side is compared. The last line of output is ``ratio: R``, structgen's
steps per second over the plain loop's.

    python benchmarks/overhead.py [--steps 500] [--rounds 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from structgen.compare import deep_merge
from structgen.config import TrainingConfig, load_experiment
from structgen.experiment import build_experiment
from structgen.plugins import default_registry
from structgen.training import Trainer


def mixture_gan_values(device: str) -> dict:
    """Return the experiment that ``structgen compare mixture`` runs for its ``gan`` on ``ring``."""
    registry = default_registry()
    task = registry.get("task", "mixture")
    compare = task.factory(task.params(), None)
    values = deep_merge(compare.base, compare.strategies["gan"])
    return {**values, "data": {"name": "ring"}, "device": device, "seed": 0}


class PlainGAN:
    """The same GAN step written directly in PyTorch, with no framework code."""

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


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="Training steps per timed round.")
    parser.add_argument("--rounds", type=int, default=5, help="Timed rounds per side.")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto.")
    args = parser.parse_args()

    registry = default_registry()
    resolved = load_experiment(values=mixture_gan_values(args.device), registry=registry)
    experiment = build_experiment(resolved, registry)
    device = experiment.context.device
    batch_size = resolved.config.training.batch_size
    strategy = experiment.strategy
    plain = PlainGAN(strategy.generator, strategy.discriminator, strategy.params, experiment.data.train.x, batch_size)
    print(f"default mixture GAN on {device}: batch {batch_size}, {args.steps} steps per round, {args.rounds} rounds")

    trainer = Trainer(strategy, experiment.data.train, TrainingConfig(steps=1, batch_size=batch_size), seed=0)
    trainer.fit()  # warm-up of the structgen side
    for _ in range(20):
        plain.step()  # warm-up of the plain side

    structgen_rates, plain_rates = [], []
    for _ in range(args.rounds):
        trainer.config = TrainingConfig(steps=trainer.step + args.steps, batch_size=batch_size)
        synchronize(device)
        start = time.perf_counter()
        trainer.fit()
        synchronize(device)
        structgen_rates.append(args.steps / (time.perf_counter() - start))

        synchronize(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            plain.step()
        synchronize(device)
        plain_rates.append(args.steps / (time.perf_counter() - start))

    best_structgen, best_plain = max(structgen_rates), max(plain_rates)
    print("structgen steps/s per round: " + ", ".join(f"{r:.1f}" for r in structgen_rates))
    print("plain     steps/s per round: " + ", ".join(f"{r:.1f}" for r in plain_rates))
    print(f"best: structgen {best_structgen:.1f} steps/s, plain {best_plain:.1f} steps/s")
    print(f"ratio: {best_structgen / best_plain:.3f}")


if __name__ == "__main__":
    main()
