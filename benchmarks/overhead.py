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

from plain_gan import time_against_plain

from structgen.compare import deep_merge
from structgen.config import load_experiment
from structgen.experiment import build_experiment
from structgen.plugins import default_registry


def mixture_gan_values(device: str) -> dict:
    """Return the experiment that ``structgen compare mixture`` runs for its ``gan`` on ``ring``."""
    registry = default_registry()
    task = registry.get("task", "mixture")
    compare = task.factory(task.params(), None)
    values = deep_merge(compare.base, compare.strategies["gan"])
    return {**values, "data": {"name": "ring"}, "device": device, "seed": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="Training steps per timed round.")
    parser.add_argument("--rounds", type=int, default=5, help="Timed rounds per side.")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto.")
    args = parser.parse_args()

    registry = default_registry()
    resolved = load_experiment(values=mixture_gan_values(args.device), registry=registry)
    experiment = build_experiment(resolved, registry)
    batch_size = resolved.config.training.batch_size
    device = experiment.context.device
    print(f"default mixture GAN on {device}: batch {batch_size}, {args.steps} steps per round, {args.rounds} rounds")
    time_against_plain(experiment, args.steps, args.rounds).report()


if __name__ == "__main__":
    main()
