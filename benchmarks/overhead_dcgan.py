"""Time training steps of the ``gan_ns`` DCGAN of ``structgen compare mnist`` against a plain PyTorch loop.

Both sides train the same DCGAN generator and discriminator on the 28x28
mnist training split, in one process. The plain loop gets deep copies of
the modules structgen built. They share the batch size, the
non-saturating loss, the weight average and the Adam settings. Rounds alternate between the two
sides so that drift in machine load hits both; the best round of each side
is compared. The last line of output is ``ratio: R``, structgen's steps per
second over the plain loop's.

    python benchmarks/overhead_dcgan.py [--steps 50] [--rounds 10] [--device cpu]

A DCGAN step takes about 60 ms on 2 CPU cores, and rounds of 100 steps
drifted by up to 10% between rounds of one side, so the default alternates
more often: 10 rounds of 50 steps.
"""

from __future__ import annotations

from plain_gan import run_benchmark, task_values

if __name__ == "__main__":
    run_benchmark(
        __doc__.splitlines()[0],
        "mnist gan_ns DCGAN",
        lambda device: task_values("mnist", "gan_ns", "mnist", device),
        default_steps=50,
        default_rounds=10,
    )
