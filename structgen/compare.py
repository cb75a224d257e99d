"""``structgen compare``: several strategies on the same data sets, several seeds each."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from .config import ComponentConfig, ResolvedExperiment, apply_overrides, load_config_file, parse_config, resolve
from .core import Strategy
from .errors import ConfigError, RunDirectoryError
from .experiment import (
    Experiment,
    build_experiment,
    evaluate,
    evaluation_split,
    generate_for_evaluation,
    split_mark,
    train,
)
from .pictures import save_panels
from .registry import Registry
from .training import TrainingObserver

logger = logging.getLogger(__name__)

REAL = "real"


class CompareConfig(BaseModel):
    """A comparison: each strategy on each data set, with the same networks and budget.

    Each entry of ``strategies`` is a partial experiment config (at least a
    ``strategy`` section) merged over ``base``; ``data`` and ``seed`` are set
    per run.
    """

    model_config = ConfigDict(extra="forbid")

    datasets: list[ComponentConfig] = Field(description="Data sets, e.g. [ring, grid].")
    strategies: dict[str, dict[str, Any]] = Field(
        description="Label -> partial experiment config, e.g. {gan: {strategy: {name: gan}}}."
    )
    base: dict[str, Any] = Field(default_factory=dict, description="Config shared by every run (networks, training).")
    dataset_overrides: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict,
        description="Data set name -> strategy label -> config merged over base and the strategy's entry, "
        "for settings that depend on the data's scale (e.g. Langevin step sizes on grid).",
    )
    start_from: dict[str, str] = Field(
        default_factory=dict,
        description="Strategy label -> earlier label whose trained generator (same data set and seed) it starts "
        "from, e.g. {seqgan: mle}: the second strategy then continues the first one's model.",
    )
    seeds: int = Field(3, ge=1, description="Seeds 0 .. seeds-1 per strategy and data set.")
    strategy_seeds: dict[str, int] = Field(
        default_factory=dict,
        description="Strategy label -> fewer seeds for that strategy (at most `seeds`), e.g. {energy: 1} for an "
        "expensive model.",
    )
    table: Literal["median", "mean_std"] = Field(
        "median", description="What the printed table shows per strategy: the median over seeds, or mean ± std."
    )
    real_floor: bool = Field(
        False,
        description="Add a `real` record: the metrics of the validation split against the test split (of part of "
        "the training split against the validation split when training.eval_split is validation).",
    )
    picture_samples: int = Field(1000, gt=0, description="Objects per panel of the comparison picture.")


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; nested mappings merge, other values replace."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_compare_config(target: str, registry: Registry) -> CompareConfig:
    """Load a comparison from a registered task name (``mixture``) or a YAML/TOML compare file."""
    from pydantic import ValidationError

    from .config import validation_problems

    if target in registry.components["task"]:
        component = registry.get("task", target)
        return component.factory(component.params(), None)
    path = Path(target)
    if not path.suffix:
        names = ", ".join(registry.names("task")) or "(none)"
        raise ConfigError([("task", f"unknown task {target!r}; registered tasks: {names}, or give a compare file")])
    values = load_config_file(path)
    try:
        return CompareConfig.model_validate(values)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, prefix="", model=CompareConfig)) from err


def seeds_of(compare: CompareConfig, label: str) -> range:
    """Return the seeds that strategy ``label`` runs: ``strategy_seeds`` where given, never more than ``seeds``."""
    return range(min(compare.strategy_seeds.get(label, compare.seeds), compare.seeds))


def _experiment_values(compare: CompareConfig, dataset: ComponentConfig, label: str, seed: int) -> dict[str, Any]:
    values = deep_merge(compare.base, compare.strategies[label])
    values = deep_merge(values, compare.dataset_overrides.get(dataset.name, {}).get(label, {}))
    values["data"] = dataset.model_dump()
    values["seed"] = seed
    return values


def validate_compare(
    compare: CompareConfig, registry: Registry, overrides: Iterable[str] = ()
) -> dict[tuple[str, str, int], Any]:
    """Resolve every run's experiment up front, so a bad setting fails before any training."""
    resolved = {}
    problems: list[tuple[str, str]] = []
    dataset_names = [dataset.name for dataset in compare.datasets]
    for name, by_label in compare.dataset_overrides.items():
        if name not in dataset_names:
            problems.append((f"dataset_overrides.{name}", f"not one of the data sets: {', '.join(dataset_names)}"))
        for label in by_label:
            if label not in compare.strategies:
                labels = ", ".join(compare.strategies)
                problems.append((f"dataset_overrides.{name}.{label}", f"not one of the strategies: {labels}"))
    order = list(compare.strategies)
    for label, count in compare.strategy_seeds.items():
        if label not in compare.strategies:
            problems.append((f"strategy_seeds.{label}", f"not one of the strategies: {', '.join(order)}"))
        elif count < 1:
            problems.append((f"strategy_seeds.{label}", f"must be at least 1, got {count}"))
    for label, source in compare.start_from.items():
        if label not in compare.strategies:
            problems.append((f"start_from.{label}", f"not one of the strategies: {', '.join(order)}"))
        elif source in compare.strategies and len(seeds_of(compare, label)) > len(seeds_of(compare, source)):
            problems.append(
                (
                    f"start_from.{label}",
                    f"{label!r} runs more seeds than {source!r}, whose trained generator of the same seed it "
                    f"starts from; give {label!r} at most {len(seeds_of(compare, source))} in strategy_seeds",
                )
            )
        elif source not in order[: order.index(label)]:
            problems.append(
                (
                    f"start_from.{label}",
                    f"{source!r} is not a strategy listed before {label!r}; a run can only start from one "
                    f"trained before it: {', '.join(order[: order.index(label)]) or 'none'}",
                )
            )
    for dataset in compare.datasets:
        for label in compare.strategies:
            for seed in seeds_of(compare, label):
                values = apply_overrides(_experiment_values(compare, dataset, label, seed), overrides)
                try:
                    resolved[(dataset.name, label, seed)] = resolve(parse_config(values), registry)
                except ConfigError as err:
                    problems.extend((f"{dataset.name}/{label}: {path}", reason) for path, reason in err.problems)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ConfigError(unique)
    return resolved


ProgressFactory = Callable[[str, int], TrainingObserver]


def run_compare(
    compare: CompareConfig,
    registry: Registry,
    out: str | Path,
    overrides: Iterable[str] = (),
    progress: ProgressFactory | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Train and evaluate every (data set, strategy, seed) and write ``results.json`` and pictures to ``out``.

    ``results.json`` is rewritten after each run, so an interrupted
    comparison keeps what it finished.
    """
    overrides = list(overrides)
    resolved = validate_compare(compare, registry, overrides)
    out = Path(out)
    if (out / "results.json").exists() and not overwrite:
        raise RunDirectoryError(
            f"{out} already contains results.json; choose another --out or pass --overwrite to replace it"
        )
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    sources = set(compare.start_from.values())

    for dataset in compare.datasets:
        panels: list[tuple[str, torch.Tensor]] = []
        experiment: Experiment | None = None
        trained: dict[tuple[str, int], dict[str, torch.Tensor]] = {}
        for label in compare.strategies:
            for seed in seeds_of(compare, label):
                source = compare.start_from.get(label)
                start = None if source is None else (source, trained[(source, seed)])
                experiment, record, samples = run_one(
                    resolved[(dataset.name, label, seed)], registry, label, progress, start
                )
                if label in sources:
                    trained[(label, seed)] = generator_state(experiment.strategy, label)
                records.append(record)
                _write_records(out, records)
                if seed == 0:
                    panels.append((label, samples[: compare.picture_samples].cpu()))
        if experiment is None:
            continue
        if compare.real_floor:
            metrics = evaluate(experiment, real_floor_objects(experiment))
            record = {"dataset": dataset.name, "strategy": REAL, "seed": 0, "seconds": 0.0, "metrics": metrics}
            records.append({**record, **split_mark(experiment)})
            _write_records(out, records)
        real_panel = (REAL, evaluation_split(experiment).x[: compare.picture_samples].cpu())
        try:
            save_panels(experiment.domain, [real_panel] + panels, out / f"{dataset.name}.png", title=dataset.name)
        except NotImplementedError:
            logger.info("domain of %s cannot draw; no picture written", dataset.name)
    return records


def real_floor_objects(experiment: Experiment) -> torch.Tensor:
    """Return the real objects that the ``real`` record scores as if they were generated.

    They are the validation split, or, when the runs evaluate on the
    validation split, as many objects of the training split.
    """
    data = experiment.data
    if experiment.resolved.config.training.eval_split == "validation":
        return data.train.x[: len(data.validation.x)]
    return data.validation.x


def generator_state(strategy: Strategy, label: str) -> dict[str, torch.Tensor]:
    """Return a copy of the weights of ``strategy.generator``, for a run that starts from them."""
    generator = getattr(strategy, "generator", None)
    if not isinstance(generator, nn.Module):
        raise ConfigError(
            [(f"start_from: {label}", f"strategy {label!r} trains no generator, so no run can start from it")]
        )
    return {name: value.detach().clone() for name, value in generator.state_dict().items()}


def run_one(
    resolved: ResolvedExperiment,
    registry: Registry,
    label: str,
    progress: ProgressFactory | None,
    start: tuple[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[Experiment, dict[str, Any], torch.Tensor]:
    """Build, train and evaluate one run; return it, its ``results.json`` record and its samples.

    ``start`` is the label and generator weights of an earlier run; they
    replace this strategy's freshly built generator before its first step.
    """
    config = resolved.config
    started = time.perf_counter()
    experiment = build_experiment(resolved, registry)
    if start is not None:
        source, weights = start
        generator = getattr(experiment.strategy, "generator", None)
        if not isinstance(generator, nn.Module):
            raise ConfigError(
                [(f"start_from: {label}", f"strategy {label!r} has no generator to load {source!r}'s weights into")]
            )
        generator.load_state_dict(weights)
    observers: tuple[TrainingObserver, ...] = ()
    if progress is not None:
        observers = (progress(f"{config.data.name}/{label}/seed {config.seed}", config.training.steps),)
    trainer = train(experiment, observers=observers)
    samples = generate_for_evaluation(experiment)
    metrics = evaluate(experiment, samples)
    record: dict[str, Any] = {
        "dataset": config.data.name,
        "strategy": label,
        "seed": config.seed,
        "seconds": round(time.perf_counter() - started, 2),
        "metrics": metrics,
    }
    if trainer.history:
        record["history"] = trainer.history
    if start is not None:
        record["start_from"] = start[0]
    return experiment, {**record, **split_mark(experiment)}, samples


def _write_records(out: Path, records: list[dict[str, Any]]) -> None:
    temporary = out / ".results.json.tmp"
    temporary.write_text(json.dumps(records, indent=2), encoding="utf-8")
    temporary.replace(out / "results.json")


def median_table(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Rows of medians over seeds: one per data set and strategy, one column per metric."""
    return summary_table(records, "median")


def summary_table(
    records: list[dict[str, Any]], statistic: Literal["median", "mean_std"] = "median"
) -> tuple[list[str], list[list[str]]]:
    """Rows of one per data set and strategy, one column per metric: the median over seeds, or mean ± std.

    The standard deviation is the sample one (n - 1). A single seed has
    none, so it shows the value alone. Seconds are summarised the same way
    as the metrics.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["dataset"], record["strategy"]), []).append(record)
    metric_names = sorted({name for record in records for name in record["metrics"]})
    header = ["dataset", "strategy", "seeds", "seconds"] + metric_names
    rows = []
    for (dataset, strategy), group in groups.items():
        row = [dataset, strategy, str(len(group)), _summary([r["seconds"] for r in group], statistic, ".1f")]
        for name in metric_names:
            values = [r["metrics"][name] for r in group if name in r["metrics"]]
            row.append(_summary(values, statistic, ".4g") if values else "-")
        rows.append(row)
    return header, rows


def _summary(values: list[float], statistic: str, spec: str) -> str:
    if statistic == "median":
        return format(statistics.median(values), spec)
    if len(values) == 1:
        return format(values[0], spec)
    return f"{format(statistics.mean(values), spec)} ± {format(statistics.stdev(values), '.2g')}"
