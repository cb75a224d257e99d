"""Time structgen's linear-chain CRF against pytorch-crf and torch-struct.

All three libraries get the same random emissions, transitions, start and end
scores (batch 256, length 64, 32 tags, every position real, seed 0). First, in
float64, the script checks that they agree: log-partition values within 1e-4
relative error and identical Viterbi paths. It exits with status 1 and a
message when they do not. Then it times, in float32, the log-partition function
(the forward algorithm) and Viterbi decoding of each library in this one
process. Each figure is the median of ``--repeats`` runs after ``--warmup``
runs (at least 1), with PyTorch's default thread count; the functions are
timed in turns, one call of each per round, so that a change in machine
load hits every library alike. A function slower than 1 s per call gets 3
timed runs of its own instead. The last line of output is
``ratio_vs_pytorch_crf: R``, pytorch-crf's forward + Viterbi time over
structgen's, on the CPU.

    python benchmarks/crf_speed.py [--repeats 15] [--warmup 3]

pytorch-crf's API (``CRF._compute_normalizer`` and ``CRF.decode``) takes its
scores from module parameters, which the script overwrites with the shared
values. torch-struct's ``LinearChainCRF`` takes log-potentials of shape
(batch, length - 1, tags, tags), indexed ``[b, t, tag_{t+1}, tag_t]``. The script
builds them from the emissions and transitions and adds the start and end scores
to the first and last potential. Building them is part of torch-struct's timed
runs. When a CUDA device is present, the script times it too and prints a
second table, but the ratio comes from the CPU only.

NOTE: no run on a GPU has checked the CUDA branch yet.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from structgen.structured import log_partition, viterbi

BATCH = 256
LENGTH = 64
NUM_TAGS = 32
SEED = 0
RELATIVE_TOLERANCE = 1e-4
SLOW_SECONDS = 1.0
SLOW_REPEATS = 3


class Scores(NamedTuple):
    """One CRF problem: emissions (batch, length, tags), transitions (tags, tags), start and end (tags,)."""

    emissions: torch.Tensor
    transitions: torch.Tensor
    start: torch.Tensor
    end: torch.Tensor

    def to(self, dtype: torch.dtype, device: torch.device) -> Scores:
        return Scores(*(tensor.to(dtype=dtype, device=device) for tensor in self))


class Library(NamedTuple):
    """The log-partition and Viterbi functions of one library, bound to one problem."""

    name: str
    log_partition: Callable[[], torch.Tensor]
    viterbi: Callable[[], torch.Tensor]


def random_scores() -> Scores:
    """Draw standard normal scores in float64 with the fixed seed."""
    generator = torch.Generator().manual_seed(SEED)
    return Scores(
        torch.randn(BATCH, LENGTH, NUM_TAGS, generator=generator, dtype=torch.float64),
        torch.randn(NUM_TAGS, NUM_TAGS, generator=generator, dtype=torch.float64),
        torch.randn(NUM_TAGS, generator=generator, dtype=torch.float64),
        torch.randn(NUM_TAGS, generator=generator, dtype=torch.float64),
    )


def structgen_library(scores: Scores) -> Library:
    def partition() -> torch.Tensor:
        return log_partition(scores.emissions, scores.transitions, None, scores.start, scores.end)

    def best_paths() -> torch.Tensor:
        return viterbi(scores.emissions, scores.transitions, None, scores.start, scores.end)[1]

    return Library("structgen", partition, best_paths)


def pytorch_crf_library(scores: Scores) -> Library:
    from torchcrf import CRF

    crf = CRF(NUM_TAGS, batch_first=True).to(device=scores.emissions.device, dtype=scores.emissions.dtype)
    with torch.no_grad():
        crf.transitions.copy_(scores.transitions)
        crf.start_transitions.copy_(scores.start)
        crf.end_transitions.copy_(scores.end)
    mask = torch.ones(BATCH, LENGTH, dtype=torch.bool, device=scores.emissions.device)
    # _compute_normalizer takes time-major inputs even when batch_first is set.
    time_major_emissions = scores.emissions.transpose(0, 1)
    time_major_mask = mask.transpose(0, 1)

    def partition() -> torch.Tensor:
        return crf._compute_normalizer(time_major_emissions, time_major_mask)

    def best_paths() -> torch.Tensor:
        # decode returns Python lists, so the conversion to a tensor is part of its cost.
        return torch.tensor(crf.decode(scores.emissions, mask))

    return Library("pytorch-crf", partition, best_paths)


def torch_struct_potentials(scores: Scores) -> torch.Tensor:
    """Build log-potentials of shape (batch, length - 1, tags, tags) indexed ``[b, t, tag_{t+1}, tag_t]``."""
    potentials = scores.transitions.transpose(0, 1) + scores.emissions[:, 1:].unsqueeze(3)
    first = scores.start + scores.emissions[:, 0]  # (batch, tags) over tag_0
    last = scores.end.unsqueeze(1)  # over tag_{length-1}
    offsets = torch.zeros_like(potentials)
    offsets[:, 0] += first.unsqueeze(1)
    offsets[:, -1] += last
    return potentials + offsets


def torch_struct_library(scores: Scores) -> Library:
    from torch_struct import LinearChainCRF

    # torch-struct 0.5 subclasses torch.distributions.Distribution without declaring arg_constraints.
    warnings.filterwarnings("ignore", message=".*does not define `arg_constraints`", category=UserWarning)

    def partition() -> torch.Tensor:
        return LinearChainCRF(torch_struct_potentials(scores)).partition

    def best_paths() -> torch.Tensor:
        edges = LinearChainCRF(torch_struct_potentials(scores)).argmax  # one-hot, [b, t, tag_{t+1}, tag_t]
        first = edges[:, 0].sum(dim=1).argmax(dim=1, keepdim=True)
        following = edges.sum(dim=3).argmax(dim=2)
        return torch.cat([first, following], dim=1)

    return Library("torch-struct", partition, best_paths)


def build_libraries(scores: Scores) -> tuple[list[Library], list[str]]:
    """Return the libraries that import, and a line for each one that does not."""
    libraries = [structgen_library(scores), pytorch_crf_library(scores)]
    unavailable = []
    try:
        libraries.append(torch_struct_library(scores))
    except ImportError as err:
        unavailable.append(f"torch-struct: unavailable, import failed ({err})")
    return libraries, unavailable


def check_agreement(libraries: list[Library]) -> list[str]:
    """Compare every library with the first one in float64; return one line per disagreement."""
    reference = libraries[0]
    with torch.no_grad():
        reference_log_z = reference.log_partition()
    reference_paths = reference.viterbi()
    problems = []
    for library in libraries[1:]:
        with torch.no_grad():
            log_z = library.log_partition()
        relative = ((log_z - reference_log_z).abs() / reference_log_z.abs()).max().item()
        if not relative <= RELATIVE_TOLERANCE:
            problems.append(
                f"{library.name}: log-partition differs from {reference.name} by a relative {relative:.2e}, "
                f"more than {RELATIVE_TOLERANCE:.0e}"
            )
        paths = library.viterbi().to(reference_paths.device)
        different = (paths != reference_paths).any(dim=1)
        if different.any():
            problems.append(
                f"{library.name}: Viterbi paths differ from {reference.name} in {int(different.sum())} of "
                f"{BATCH} items (first item {int(different.nonzero()[0])})"
            )
    return problems


def seconds(function: Callable[[], Any], device: torch.device) -> float:
    """Wall-clock seconds of one call of ``function``, waiting for the device to finish."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    begin = time.perf_counter()
    function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - begin


def timed_call(function: Callable[[], Any], device: torch.device, gradients: bool) -> float:
    """Wall-clock seconds of one call, with autograd on only when ``gradients`` is True."""
    with torch.set_grad_enabled(gradients):
        return seconds(function, device)


def time_libraries(
    libraries: list[Library], device: torch.device, repeats: int, warmup: int
) -> dict[str, tuple[float, float]]:
    """Median (log-partition, Viterbi) seconds of each library.

    The functions are timed in turns, one call of each per round, so that a
    change in machine load during the run hits every library alike. A
    function whose first run takes longer than SLOW_SECONDS gets
    SLOW_REPEATS timed runs of its own and no further warm-up, so that
    torch-struct does not dominate the run time.
    """
    # torch-struct finds the argmax as the gradient of the max semiring, so Viterbi runs with autograd on.
    calls = {}
    for library in libraries:
        calls[(library.name, "log_partition")] = (library.log_partition, False)
        calls[(library.name, "viterbi")] = (library.viterbi, True)
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in calls}
    in_turns = []
    for key, (function, gradients) in calls.items():
        if timed_call(function, device, gradients) > SLOW_SECONDS:
            samples[key] = [timed_call(function, device, gradients) for _ in range(min(repeats, SLOW_REPEATS))]
            continue
        for _ in range(warmup - 1):
            timed_call(function, device, gradients)
        in_turns.append(key)
    for _ in range(repeats):
        for key in in_turns:
            function, gradients = calls[key]
            samples[key].append(timed_call(function, device, gradients))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {
        library.name: (medians[(library.name, "log_partition")], medians[(library.name, "viterbi")])
        for library in libraries
    }


def print_table(device: torch.device, timings: dict[str, tuple[float, float]], unavailable: list[str]) -> None:
    print(f"\nfloat32 on {device}, batch {BATCH}, length {LENGTH}, {NUM_TAGS} tags, median milliseconds")
    print(f"{'library':<14}{'log-partition':>15}{'Viterbi':>12}{'total':>12}")
    for name, (forward, decode) in timings.items():
        print(f"{name:<14}{forward * 1e3:>15.2f}{decode * 1e3:>12.2f}{(forward + decode) * 1e3:>12.2f}")
    for line in unavailable:
        print(line)


def run_device(device: torch.device, repeats: int, warmup: int, strict: bool) -> dict[str, tuple[float, float]]:
    """Check agreement in float64, then time in float32, on ``device``.

    With ``strict``, a disagreement exits with status 1; otherwise it is printed and timing goes on.
    """
    libraries, unavailable = build_libraries(random_scores().to(torch.float64, device))
    problems = check_agreement(libraries)
    if problems:
        print(f"the libraries disagree in float64 on {device}:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        if strict:
            sys.exit(1)
    else:
        print(f"float64 on {device}: {', '.join(library.name for library in libraries)} agree")

    libraries, _ = build_libraries(random_scores().to(torch.float32, device))
    timings = time_libraries(libraries, device, repeats, warmup)
    print_table(device, timings, unavailable)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="Timed runs per function; the median is reported.")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed runs per function before timing.")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 1:
        parser.error(f"--repeats and --warmup must be at least 1, got {args.repeats} and {args.warmup}")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    cpu_timings = run_device(torch.device("cpu"), args.repeats, args.warmup, strict=True)
    if torch.cuda.is_available():
        # A disagreement on CUDA is printed but does not stop the script. The ratio below is the CPU's.
        run_device(torch.device("cuda"), args.repeats, args.warmup, strict=False)

    reference = sum(cpu_timings["pytorch-crf"])
    ours = sum(cpu_timings["structgen"])
    print(f"ratio_vs_pytorch_crf: {reference / ours:.2f}")


if __name__ == "__main__":
    main()
