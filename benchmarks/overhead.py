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

from plain_gan import run_benchmark, task_values

if __name__ == "__main__":
    run_benchmark(
        __doc__.splitlines()[0],
        "default mixture GAN",
        lambda device: task_values("mixture", "gan", "ring", device),
        default_steps=500,
    )
