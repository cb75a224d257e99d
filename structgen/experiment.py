"""Build an experiment's components, train them, evaluate them, reload them."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import ComponentConfig, ResolvedExperiment, parse_config, resolve
from .context import BuildContext
from .core import DataSplits, Domain, Metric, Split, Strategy
from .devices import resolve_device
from .distributed import broadcast_parameters, init_from_environment, rank
from .errors import DataError
from .registry import Registry
from .runs import RunDirectory
from .training import Trainer, TrainingObserver

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Experiment:
    """The built components of one experiment, ready to train."""

    resolved: ResolvedExperiment
    context: BuildContext
    data: DataSplits
    strategy: Strategy
    metrics: list[Metric] = field(default_factory=list)

    @property
    def domain(self) -> Domain:
        return self.data.domain


def build_experiment(resolved: ResolvedExperiment, registry: Registry) -> Experiment:
    """Build data, strategy and metrics on the configured device, and check that they fit together.

    Raises :class:`~structgen.errors.ConfigError` or
    :class:`~structgen.errors.DataError` before any training when a component
    rejects its settings or a short forward pass fails.
    """
    config = resolved.config
    device = init_from_environment(resolve_device(config.device))
    seed_everything(config.seed)

    context = BuildContext(registry=registry, device=device, experiment=resolved, seed=config.seed)
    data = context.build("dataset", resolved.data).to(device)
    context = context.replace(domain=data.domain, data=data, num_classes=data.info.get("num_classes"))

    seed_everything(config.seed)
    strategy = context.build("strategy", resolved.strategy)
    broadcast_parameters(strategy)
    check_components(strategy, data)

    metric_sections = resolved.metrics
    metrics: list[Metric] = []
    if metric_sections is None:
        for section in data.info.get("metrics", []):
            metrics.append(context.build("metric", ComponentConfig.model_validate(section)))
    else:
        metrics = [context.build("metric", section) for section in metric_sections]
    experiment = Experiment(resolved, context, data, strategy, metrics)
    check_metric_sizes(experiment)
    return experiment


def check_metric_sizes(experiment: Experiment) -> None:
    """Check that every metric can score the evaluation split and the generated set, before any training."""
    split_name = experiment.resolved.config.training.eval_split
    real = len(evaluation_split(experiment).x)
    generated = evaluation_sample_count(experiment)
    for metric in experiment.metrics:
        try:
            metric.check_sizes(real, generated)
        except DataError as err:
            raise DataError(
                f"evaluation set too small (the {split_name} split contains {real} object{'' if real == 1 else 's'}, "
                f"{generated} are generated): {err}"
            ) from err


def check_components(strategy: Strategy, data: DataSplits) -> None:
    """Run a short forward pass so shape mismatches surface as one clear error."""
    domain = data.domain
    sample_batch = data.train.x[:2]
    condition = None if data.train.condition is None else data.train.condition[:2]
    discriminator = getattr(strategy, "discriminator", None)
    if discriminator is not None:
        try:
            with torch.no_grad():
                scores = discriminator(sample_batch, condition)
        except RuntimeError as err:
            raise DataError(f"the discriminator failed on a batch of shape {tuple(sample_batch.shape)}: {err}") from err
        if scores.shape != (len(sample_batch),):
            raise DataError(
                f"the discriminator must return one score per object, shape ({len(sample_batch)},); "
                f"got {tuple(scores.shape)}"
            )
    generator = getattr(strategy, "generator", None)
    if generator is not None:
        try:
            output = generator.sample(2, condition)
        except (RuntimeError, ValueError) as err:
            raise DataError(f"the generator failed to produce a batch: {err}") from err
        if tuple(output.shape[1:]) != tuple(domain.event_shape):
            raise DataError(
                f"the generator produces objects of shape {tuple(output.shape[1:])}, "
                f"but the data's objects have shape {domain.event_shape}"
            )


@torch.no_grad()
def generate(strategy: Strategy, n: int, conditions: torch.Tensor | None = None, chunk: int = 2500) -> torch.Tensor:
    """Draw ``n`` samples in chunks of at most ``chunk`` objects, one per row of ``conditions`` if given."""
    parts = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        condition = None if conditions is None else conditions[start:stop]
        parts.append(strategy.sample(stop - start, condition))
    return torch.cat(parts)


def evaluation_split(experiment: Experiment) -> Split:
    """Return the split that the metrics compare generated objects with (``training.eval_split``)."""
    if experiment.resolved.config.training.eval_split == "validation":
        return experiment.data.validation
    return experiment.data.test


def split_mark(experiment: Experiment) -> dict[str, str]:
    """Return ``{"split": name}`` for results scored on a split other than test, else an empty mapping.

    Scores against the validation split are for choosing settings, so their
    records say so and cannot pass for test figures.
    """
    split = experiment.resolved.config.training.eval_split
    return {} if split == "test" else {"split": split}


def evaluation_conditions(data: DataSplits, n: int, seed: int, split: Split | None = None) -> torch.Tensor | None:
    """Draw conditions for ``n`` evaluation samples of conditional data from ``split`` (default: test).

    They are drawn with replacement, so the generated set has that split's
    class balance. Paired data (``info["paired"]``, where each condition has
    one right answer, such as a misspelt name and its correction) gets every
    condition of the split once, in order, whatever ``n`` is, so generated
    row i corresponds to row i of the split. Returns None for unconditional data.
    """
    conditions = (data.test if split is None else split).condition
    if conditions is None:
        return None
    if data.info.get("paired", False):
        return conditions
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(len(conditions), (n,), generator=generator).to(conditions.device)
    return conditions[index]


def evaluation_sample_count(experiment: Experiment) -> int:
    """Return how many objects :func:`generate_for_evaluation` draws.

    That is ``training.eval_samples``, or the evaluation split's size for paired data.
    """
    split = evaluation_split(experiment)
    if split.condition is not None and experiment.data.info.get("paired", False):
        return len(split.condition)
    return experiment.resolved.config.training.eval_samples


def generate_for_evaluation(experiment: Experiment) -> torch.Tensor:
    """Generate the set that metrics score: ``training.eval_samples`` objects, conditioned like the evaluation split."""
    config = experiment.resolved.config
    conditions = evaluation_conditions(
        experiment.data, config.training.eval_samples, config.seed, evaluation_split(experiment)
    )
    return generate(experiment.strategy, evaluation_sample_count(experiment), conditions)


def evaluate(experiment: Experiment, samples: torch.Tensor | None = None) -> dict[str, float]:
    """Compute every metric on the split that ``training.eval_split`` names against ``samples`` (generated if None)."""
    if samples is None:
        samples = generate_for_evaluation(experiment)
    real = evaluation_split(experiment).x
    results: dict[str, float] = {}
    for metric in experiment.metrics:
        results.update(metric.compute(real, samples))
    return results


class _RunObserver:
    def __init__(self, run: RunDirectory) -> None:
        self.run = run
        self.started = time.perf_counter()

    def on_start(self, step: int) -> None:
        self.started = time.perf_counter()

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self.run.log({"step": step, "seconds": round(time.perf_counter() - self.started, 3), **logs})

    def on_checkpoint(self, step: int, state: dict[str, Any]) -> None:
        self.run.save_checkpoint(state)


def train(
    experiment: Experiment,
    run: RunDirectory | None = None,
    observers: tuple[TrainingObserver, ...] = (),
    resume: bool = False,
) -> Trainer:
    """Train the experiment's strategy, writing logs and checkpoints to ``run`` on rank 0."""
    config = experiment.resolved.config
    all_observers = tuple(observers)
    if run is not None and rank() == 0:
        all_observers = (_RunObserver(run),) + all_observers
    evaluator = None
    if config.training.evaluate_at and rank() == 0:

        def evaluator() -> dict[str, float]:
            return evaluate(experiment)

    trainer = Trainer(
        experiment.strategy,
        experiment.data.train,
        config.training,
        config.seed + rank(),
        all_observers,
        evaluator,
        evaluation_label=config.training.eval_split,
    )
    if resume and run is not None:
        if run.has_checkpoint():
            trainer.load_state(run.load_checkpoint(experiment.context.device))
            logger.info("resuming %s from step %d", run.path, trainer.step)
        else:
            logger.warning("%s has no checkpoint yet; training starts again from step 0", run.path)
        run.truncate_log(trainer.step)
    trainer.fit()
    return trainer


def run_info(experiment: Experiment) -> dict[str, Any]:
    """Return what ``run.json`` stores so that a model can be rebuilt without its data."""
    return {"domain": experiment.domain.spec(), "num_classes": experiment.data.info.get("num_classes")}


def run_experiment(
    resolved: ResolvedExperiment,
    registry: Registry,
    out: str | Path,
    observers: tuple[TrainingObserver, ...] = (),
    resume: bool = False,
) -> dict[str, float]:
    """Build, train and evaluate an experiment, writing everything into the run directory ``out``."""
    experiment = build_experiment(resolved, registry)
    run = RunDirectory.create(out, resolved.to_dict(), run_info(experiment), resume) if rank() == 0 else None
    trainer = train(experiment, run, observers, resume)
    if run is None:  # ranks other than 0 neither evaluate nor write
        return {}
    samples = generate_for_evaluation(experiment)
    results = evaluate(experiment, samples)
    steps = resolved.config.training.steps
    run.write_results({"metrics": results, "steps": steps, "history": trainer.history, **split_mark(experiment)})
    save_run_pictures(experiment, run.path, samples)
    return results


def save_run_pictures(experiment: Experiment, directory: Path, samples: torch.Tensor) -> list[Path]:
    """Save the pictures of a finished run into ``directory``; return the paths written.

    Samples beside objects of the evaluation split, training curves, latent interpolations
    (for strategies that decode latent codes) and one row per class (for
    conditional models). A domain that cannot draw gets the curves only.
    """
    from .pictures import save_class_grid, save_interpolation, save_samples, save_training_curves

    seed = experiment.resolved.config.seed
    num_classes = experiment.data.info.get("num_classes")
    written = []
    if save_samples(experiment.domain, samples, directory / "samples.png", evaluation_split(experiment).x):
        written.append(directory / "samples.png")
    pictures = [
        save_training_curves(directory, directory / "curves.png"),
        save_interpolation(
            experiment.strategy,
            experiment.domain,
            directory / "interpolation.png",
            seed=seed,
            condition=0 if num_classes else None,
        ),
    ]
    if num_classes:
        pictures.append(
            save_class_grid(experiment.strategy, experiment.domain, num_classes, directory / "classes.png", seed=seed)
        )
    return written + [path for path in pictures if path]


def load_trained(
    run_dir: str | Path, registry: Registry, device: str | None = None
) -> tuple[Strategy, Domain, int | None]:
    """Rebuild a trained strategy from its run directory alone: no data set, no training.

    Returns the strategy in evaluation mode, its domain, and the number of
    condition classes (None for an unconditional model).
    """
    run = RunDirectory(run_dir)
    values = run.config()
    if device is not None:
        values["device"] = device
    resolved = resolve(parse_config(values), registry)
    info = run.info()
    torch_device = resolve_device(resolved.config.device)
    domain_spec = dict(info["domain"])
    context = BuildContext(registry=registry, device=torch_device, experiment=resolved, seed=resolved.config.seed)
    domain = context.build("domain", ComponentConfig.model_validate(domain_spec))
    context = context.replace(domain=domain, num_classes=info.get("num_classes"))
    seed_everything(resolved.config.seed)
    strategy = context.build("strategy", resolved.strategy)
    state = run.load_checkpoint(torch_device)
    strategy.load_training_state(state["strategy"], with_optimizers=False)
    strategy.eval()
    return strategy, domain, info.get("num_classes")
