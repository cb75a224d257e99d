"""The ``structgen`` command line: plugins, run, compare, sample."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import StructgenError

logger = logging.getLogger("structgen")

USER_ERROR = 2


class ProgressBar:
    """A tqdm bar fed by the trainer's log steps."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.bar: Any = None

    def on_start(self, step: int) -> None:
        # Created when the loop starts, so that errors while building show no empty bar and the clock
        # covers every step. A resumed run starts the bar at its checkpoint's step.
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.total,
            initial=step,
            desc=self.label,
            unit="step",
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        if self.bar is None:
            return
        # The new figures are set first, so that the redraw of update shows them.
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()}, refresh=False)
        self.bar.update(step - self.bar.n)
        if step >= self.bar.total:
            self.bar.close()

    def on_checkpoint(self, step: int, state: dict[str, Any]) -> None:
        pass


def _progress(enabled: bool):
    if not enabled:
        return None
    return lambda label, total: ProgressBar(label, total)


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(name.ljust(width) for name, width in zip(header, widths, strict=True))
    print(line)
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import default_registry

    registry = default_registry()
    entries = [component.describe() for component in registry.all()]
    entries += [failure.describe() for failure in registry.failures]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        head = f"{entry['kind']:<17} {entry['name']:<20} {entry['plugin']} {entry['version']}"
        print(head)
        if entry.get("description"):
            print(f"    {entry['description']}")
        if "error" in entry:
            print(f"    failed to load: {entry['error']}")
            continue
        for name, info in entry["params"].items():
            default = "required" if info["required"] else f"default {info['default']!r}"
            print(f"    {name} ({info['type']}, {default}): {info['description']}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .config import load_experiment
    from .distributed import rank
    from .experiment import run_experiment
    from .plugins import default_registry

    registry = default_registry()
    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"device={args.device}")
    resolved = load_experiment(args.config, overrides, registry)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    observers = () if args.no_progress else (ProgressBar(str(out), resolved.config.training.steps),)
    results = run_experiment(resolved, registry, out, observers=observers, resume=args.resume)
    if rank() != 0:
        return 0
    _print_table(["metric", "value"], [[name, f"{value:.4g}"] for name, value in results.items()])
    if resolved.config.training.eval_split != "test":
        print(f"metrics compare with the {resolved.config.training.eval_split} split, not the test split")
    print(f"run written to {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import load_compare_config, run_compare, summary_table
    from .plugins import default_registry

    registry = default_registry()
    compare = load_compare_config(args.task, registry)
    if args.seeds is not None:
        compare = compare.model_copy(update={"seeds": args.seeds})
    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"device={args.device}")
    out = Path(args.out) if args.out else Path("compare") / Path(args.task).stem
    records = run_compare(
        compare, registry, out, overrides, progress=_progress(not args.no_progress), overwrite=args.overwrite
    )
    header, rows = summary_table(records, compare.table)
    statistic = "medians" if compare.table == "median" else "mean ± std"
    fewer = "".join(f", {label}: {count}" for label, count in compare.strategy_seeds.items())
    print(f"{statistic} over seeds ({compare.seeds} per strategy{fewer}):")
    _print_table(header, rows)
    print(f"results written to {out / 'results.json'}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .devices import module_device
    from .experiment import generate, load_trained, seed_everything
    from .pictures import save_class_grid, save_interpolation, save_samples
    from .plugins import default_registry

    strategy, domain, num_classes = load_trained(args.run_dir, default_registry(), device=args.device)
    if args.seed is not None:
        seed_everything(args.seed)
    # A conditional model draws the classes in turn: 0, 1, ..., num_classes - 1, 0, ...
    conditions = None if not num_classes else torch.arange(args.n, device=module_device(strategy)) % num_classes
    samples = generate(strategy, args.n, conditions)
    out = Path(args.out) if args.out else Path(args.run_dir) / "samples"
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "samples.npy", samples.cpu().numpy())
    written = [out / "samples.npy"]
    if conditions is not None:
        np.save(out / "labels.npy", conditions.cpu().numpy())
        written.append(out / "labels.npy")
    objects = domain.to_user(samples)
    if all(isinstance(text, str) for text in objects):
        # Token ids mean little to a reader; texts are also written out one per line.
        (out / "samples.txt").write_text("".join(text + "\n" for text in objects), encoding="utf-8")
        written.append(out / "samples.txt")
    if save_samples(domain, samples, out / "samples.png"):
        written.append(out / "samples.png")
    first_class = 0 if num_classes else None
    if interpolation := save_interpolation(strategy, domain, out / "interpolation.png", condition=first_class):
        written.append(interpolation)
    if num_classes and (grid := save_class_grid(strategy, domain, num_classes, out / "classes.png")):
        written.append(grid)
    print(f"{args.n} samples written to {', '.join(str(path) for path in written)}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="structgen", description="Structured generation: generators and scorers, side by side."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log progress messages at INFO level.")
    commands = parser.add_subparsers(dest="command", required=True)

    plugins = commands.add_parser("plugins", help="List every registered component with its parameters.")
    plugins.add_argument(
        "--json", action="store_true", help="Print a JSON list of {kind, name, plugin, version, params}."
    )
    plugins.set_defaults(handler=cmd_plugins)

    device_help = "Device: cpu, cuda, cuda:N, mps or auto (default: the config's)."
    set_help = "Override a config field, e.g. --set training.steps=100 (repeatable)."

    run = commands.add_parser("run", help="Train and evaluate one experiment from a YAML or TOML config.")
    run.add_argument("config", help="Experiment config file (.yaml, .yml or .toml).")
    run.add_argument("--set", action="append", metavar="FIELD=VALUE", help=set_help)
    run.add_argument("--out", help="Run directory (default: runs/<config name>).")
    run.add_argument("--device", help=device_help)
    run.add_argument("--resume", action="store_true", help="Continue the run in --out from its last checkpoint.")
    run.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")
    run.set_defaults(handler=cmd_run)

    compare = commands.add_parser("compare", help="Train several strategies on the same data sets and tabulate them.")
    compare.add_argument("task", help="A registered task (mixture, digits, ...) or a compare config file.")
    compare.add_argument("--out", help="Output directory (default: compare/<task>); created if missing.")
    compare.add_argument(
        "--seeds", type=_positive_int, help="Seeds per strategy and data set (default: the task's, 3)."
    )
    compare.add_argument("--set", action="append", metavar="FIELD=VALUE", help=set_help + " Applies to every run.")
    compare.add_argument("--device", help=device_help)
    compare.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")
    compare.add_argument("--overwrite", action="store_true", help="Replace an earlier results.json in --out.")
    compare.set_defaults(handler=cmd_compare)

    sample = commands.add_parser("sample", help="Draw samples from a finished run; needs only its directory.")
    sample.add_argument("run_dir", help="Run directory written by `structgen run`.")
    sample.add_argument("-n", type=_positive_int, default=64, help="Number of samples (default 64).")
    sample.add_argument("--out", help="Output directory (default: RUN_DIR/samples).")
    sample.add_argument(
        "--seed",
        type=int,
        help="Random seed of the samples (default: the run's seed, so repeated calls draw the same samples).",
    )
    sample.add_argument("--device", help=device_help)
    sample.set_defaults(handler=cmd_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except StructgenError as err:
        print(f"error: {err}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; finished runs and checkpoints are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
