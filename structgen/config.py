"""The experiment configuration: one pydantic model, loaded from YAML or TOML.

Each component section names a registered component and contains its
parameters, for example ``generator: {name: mlp, hidden: 256}``. The
section itself only checks that a name is present; :func:`resolve` then
validates the parameters against the model the component registered, and
reports every problem at once with its field path.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ComponentNotFoundError, ConfigError
from .registry import Component, Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class ComponentConfig(BaseModel):
    """A component section: ``name`` plus the component's own parameters.

    A bare string is accepted as shorthand for ``{name: <string>}``.
    """

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Registered name of the component (see `structgen plugins`).")

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        return value

    @property
    def params(self) -> dict[str, Any]:
        """The component's parameters: every field except ``name``."""
        return dict(self.model_extra or {})


# Default network sections; strategies that need a network and find none fall back to these.
DEFAULT_GENERATOR = ComponentConfig(name="mlp")
DEFAULT_DISCRIMINATOR = ComponentConfig(name="mlp")


class TrainingConfig(BaseModel):
    """How long and on what batches a strategy trains."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(2000, gt=0, description="Number of training steps (one call of the strategy's train_step each).")
    batch_size: int = Field(256, gt=0, description="Training objects per step, drawn uniformly with replacement.")
    log_every: int = Field(100, gt=0, description="Steps between two lines of metrics.jsonl and progress updates.")
    checkpoint_every: int = Field(
        0, ge=0, description="Steps between checkpoints; 0 writes one checkpoint at the end only."
    )
    eval_samples: int = Field(2500, gt=0, description="Generated objects that the final metrics are computed on.")
    eval_split: Literal["test", "validation"] = Field(
        "test",
        description="Split that the metrics compare generated objects with: test for the figures you report, "
        "validation while you choose settings.",
    )
    evaluate_at: list[int] = Field(
        default_factory=list,
        description="Steps after which the metrics are also computed, recorded as the run's history "
        "(for example the end of a pre-training phase, to compare the model it hands on with the final one).",
    )

    @model_validator(mode="after")
    def _check_evaluate_at(self) -> TrainingConfig:
        outside = [step for step in self.evaluate_at if not 1 <= step <= self.steps]
        if outside:
            raise ValueError(
                f"evaluate_at steps {outside} lie outside 1..steps ({self.steps}); drop them or raise steps"
            )
        return self


class ExperimentConfig(BaseModel):
    """One experiment: data, networks, inference, strategy, training, metrics, device and seed."""

    model_config = ConfigDict(extra="forbid")

    data: ComponentConfig = Field(description="Data set, e.g. `{name: ring}` or `{name: points, path: data.npy}`.")
    strategy: ComponentConfig = Field(description="Training strategy, e.g. `{name: gan, loss: non_saturating}`.")
    generator: ComponentConfig | None = Field(
        None, description="Generator network; None uses the strategy's default (an MLP where one is needed)."
    )
    discriminator: ComponentConfig | None = Field(
        None, description="Discriminator network; None uses the strategy's default (an MLP where one is needed)."
    )
    inference: ComponentConfig | None = Field(
        None,
        description="How samples are drawn: None uses the strategy's default (`amortized` for strategies "
        "with a generator, `langevin` for `energy`).",
    )
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig(), description="Steps and batches.")
    metrics: list[ComponentConfig] | None = Field(
        None, description="Metrics computed after training; None uses the data set's default metrics."
    )
    device: str = Field("auto", description="`auto`, `cpu`, `cuda`, `cuda:N` or `mps`.")
    seed: int = Field(0, ge=0, description="Seed of weights, batches and sampling.")

    @model_validator(mode="before")
    @classmethod
    def _default_network_names(cls, values: Any) -> Any:
        # `--set generator.hidden=32` without a generator section means the default network.
        if isinstance(values, dict):
            for section, default in (("generator", DEFAULT_GENERATOR), ("discriminator", DEFAULT_DISCRIMINATOR)):
                if isinstance(values.get(section), dict) and "name" not in values[section]:
                    values = {**values, section: {"name": default.name, **values[section]}}
        return values

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError("must be one of auto, cpu, cuda, cuda:N, mps")
        return value


class ComponentParams(BaseModel):
    """Base for parameter models of components.

    Unknown fields are rejected. A parameter that names another component
    (the loss of a GAN, say) is listed in ``component_fields`` as
    ``{field_name: kind}`` so :func:`resolve` checks that the name exists.
    """

    model_config = ConfigDict(extra="forbid")
    component_fields: ClassVar[dict[str, str]] = {}


@dataclass(frozen=True)
class ResolvedComponent:
    """A component section bound to its registered component and validated parameters."""

    component: Component
    params: Any  # an instance of component.params

    def config(self) -> dict[str, Any]:
        """Return the section with every default filled in, as written to a run directory."""
        return {"name": self.component.name, **self.params.model_dump(mode="json")}


@dataclass(frozen=True)
class ResolvedExperiment:
    """An experiment whose every component exists and whose every parameter is valid."""

    config: ExperimentConfig
    data: ResolvedComponent
    strategy: ResolvedComponent
    generator: ResolvedComponent
    discriminator: ResolvedComponent
    inference: ResolvedComponent | None
    metrics: list[ResolvedComponent] | None

    def to_dict(self) -> dict[str, Any]:
        """Return the fully resolved configuration, defaults included."""
        out: dict[str, Any] = {
            "data": self.data.config(),
            "strategy": self.strategy.config(),
            "generator": self.generator.config(),
            "discriminator": self.discriminator.config(),
            "inference": None if self.inference is None else self.inference.config(),
            "training": self.config.training.model_dump(mode="json"),
            "metrics": None if self.metrics is None else [m.config() for m in self.metrics],
            "device": self.config.device,
            "seed": self.config.seed,
        }
        return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([(str(path), "file not found; pass the path of a YAML or TOML experiment file")])
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError([(str(path), f"unknown config format {path.suffix!r}; use .yaml, .yml or .toml")])
    try:
        if path.suffix == ".toml":
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            with open(path, encoding="utf-8") as handle:  # a stream, so YAML errors name the file
                values = yaml.safe_load(handle)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as err:
        raise ConfigError([(str(path), f"cannot be parsed: {err}")]) from err
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError([(str(path), f"must contain a mapping of sections, got {type(values).__name__}")])
    return values


def apply_overrides(values: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides such as ``training.steps=100`` to a config dict.

    The value is parsed as YAML, so ``100`` is an int, ``true`` a bool and
    ``[a, b]`` a list. A component section given as a bare name becomes a
    mapping when a parameter of it is set.
    """
    out = _deep_copy(values)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError([(item, "an override must look like section.field=value, e.g. training.steps=100")])
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError([(key, f"value {raw!r} cannot be parsed: {err}")]) from err
        parts = key.strip().split(".")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str):
                child = {"name": child}
            elif child is None:
                child = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError([(key, f"{where} is a {type(child).__name__}, not a section with fields")])
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(values: Any) -> Any:
    if isinstance(values, dict):
        return {k: _deep_copy(v) for k, v in values.items()}
    if isinstance(values, list):
        return [_deep_copy(v) for v in values]
    return values


def parse_config(values: dict[str, Any]) -> ExperimentConfig:
    """Validate the structure of a config dict; raises :class:`ConfigError` listing every problem."""
    try:
        return ExperimentConfig.model_validate(values)
    except ValidationError as err:
        raise ConfigError(validation_problems(err, prefix="", model=ExperimentConfig)) from err


def validation_problems(err: ValidationError, prefix: str, model: type[BaseModel] | None) -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(field_path, reason)`` pairs that name the value found."""
    problems = []
    for error in err.errors():
        loc = [str(part) for part in error["loc"]]
        path = ".".join(([prefix] if prefix else []) + loc) or (prefix or "config")
        if error["type"] == "extra_forbidden":
            reason = "unknown field"
            allowed = _allowed_fields(model, loc[:-1])
            if allowed:
                reason += f"; valid fields: {', '.join(allowed)}"
        elif error["type"] == "missing":
            reason = "required field is missing"
        else:
            reason = f"{error['msg']} (got {error['input']!r})"
        problems.append((path, reason))
    return problems


def _allowed_fields(model: type[BaseModel] | None, loc: list[str]) -> list[str]:
    for part in loc:
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = _model_in(annotation)
    return [] if model is None else sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


SECTION_KINDS = {
    "data": "dataset",
    "strategy": "strategy",
    "generator": "generator",
    "discriminator": "discriminator",
    "inference": "inference",
}


class _Binder:
    """Binds component sections to registered components, collecting every problem."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.problems: list[tuple[str, str]] = []

    def bind(self, kind: str, section: ComponentConfig, path: str) -> ResolvedComponent | None:
        try:
            component = self.registry.get(kind, section.name)
        except ComponentNotFoundError as err:
            self.problems.append((f"{path}.name", str(err)))
            return None
        for field_name, ref_kind in getattr(component.params, "component_fields", {}).items():
            self.check_reference(ref_kind, section.params.get(field_name), f"{path}.{field_name}")
        try:
            params = component.parse_params(section.params)
        except ValidationError as err:
            self.problems.extend(validation_problems(err, prefix=path, model=component.params))
            return None
        return ResolvedComponent(component, params)

    def check_reference(self, kind: str, ref: Any, path: str) -> None:
        """Check a parameter that names another component: a bare name or a whole section."""
        if isinstance(ref, str):
            try:
                self.registry.get(kind, ref)
            except ComponentNotFoundError as err:
                self.problems.append((path, str(err)))
        elif isinstance(ref, (dict, ComponentConfig)):
            try:
                section = ComponentConfig.model_validate(ref)
            except ValidationError:
                return  # the parameter model reports the missing name
            self.bind(kind, section, path)

    def bind_raw(self, values: dict[str, Any]) -> None:
        """Bind the sections of an unparsed config dict that are well-formed, for one report of all problems."""
        for section_name, kind in SECTION_KINDS.items():
            raw = values.get(section_name)
            if raw is None:
                continue
            try:
                section = ComponentConfig.model_validate(raw)
            except ValidationError:
                continue  # parse_config already reported it
            self.bind(kind, section, section_name)
        metrics = values.get("metrics")
        if isinstance(metrics, list):
            for index, raw in enumerate(metrics):
                try:
                    self.bind("metric", ComponentConfig.model_validate(raw), f"metrics.{index}")
                except ValidationError:
                    continue


def resolve(config: ExperimentConfig, registry: Registry) -> ResolvedExperiment:
    """Bind every section to its registered component and validate its parameters.

    Raises:
        ConfigError: listing each unknown component name (with the names
            that are registered) and each invalid parameter, by field path.
    """
    binder = _Binder(registry)
    data = binder.bind("dataset", config.data, "data")
    strategy = binder.bind("strategy", config.strategy, "strategy")
    generator = binder.bind("generator", config.generator or DEFAULT_GENERATOR, "generator")
    discriminator = binder.bind("discriminator", config.discriminator or DEFAULT_DISCRIMINATOR, "discriminator")
    inference = None if config.inference is None else binder.bind("inference", config.inference, "inference")
    metrics = None
    if config.metrics is not None:
        metrics = [binder.bind("metric", section, f"metrics.{i}") for i, section in enumerate(config.metrics)]

    if binder.problems or data is None or strategy is None or generator is None or discriminator is None:
        raise ConfigError(binder.problems)
    return ResolvedExperiment(
        config=config,
        data=data,
        strategy=strategy,
        generator=generator,
        discriminator=discriminator,
        inference=inference,
        metrics=None if metrics is None else [m for m in metrics if m is not None],
    )


def validate_values(values: dict[str, Any], registry: Registry) -> ResolvedExperiment:
    """Parse and resolve a config dict, reporting structural and component problems together."""
    try:
        config = parse_config(values)
    except ConfigError as err:
        binder = _Binder(registry)
        binder.bind_raw(values)
        raise ConfigError(err.problems + binder.problems) from err
    return resolve(config, registry)


def load_experiment(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    registry: Registry | None = None,
    values: dict[str, Any] | None = None,
) -> ResolvedExperiment:
    """Load, override, validate and resolve an experiment in one call."""
    from .plugins import default_registry

    base = load_config_file(path) if path is not None else (values or {})
    return validate_values(apply_overrides(base, overrides), registry or default_registry())
