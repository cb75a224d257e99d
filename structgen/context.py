"""The build context that every component factory receives: device, domain, data and registry."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from .config import ComponentConfig, ResolvedComponent, ResolvedExperiment
from .core import (
    AdversarialLoss,
    DataSplits,
    Discriminator,
    Domain,
    FeatureExtractor,
    Generator,
    Inference,
    Metric,
    Strategy,
)
from .errors import CapabilityError, ConfigError, PluginError
from .registry import Registry

# The interface each kind of factory must return.
BUILT_TYPES: dict[str, type] = {
    "domain": Domain,
    "generator": Generator,
    "discriminator": Discriminator,
    "inference": Inference,
    "strategy": Strategy,
    "dataset": DataSplits,
    "metric": Metric,
    "loss": AdversarialLoss,
    "feature_extractor": FeatureExtractor,
}


@dataclass
class BuildContext:
    """Everything a factory may need, passed as ``factory(params, context)``.

    Attributes:
        registry: the registry, for factories that build other components.
        device: where every tensor and module lives.
        domain: the objects' domain; None only while the data set is built.
        data: the data splits, or None when a trained model is reloaded
            from a run directory without its data.
        experiment: the resolved experiment, or None for a standalone build.
        seed: the experiment seed.
        num_classes: number of condition classes of conditional data, else None.
        generator: a trained or training generator, for ``amortized`` inference.
    """

    registry: Registry
    device: torch.device
    domain: Domain | None = None
    data: DataSplits | None = None
    experiment: ResolvedExperiment | None = None
    seed: int = 0
    num_classes: int | None = None
    generator: Generator | None = None

    def replace(self, **changes: Any) -> BuildContext:
        """Return a copy with some attributes changed."""
        return dataclasses.replace(self, **changes)

    @property
    def total_steps(self) -> int:
        """Training steps of the experiment, for learning-rate schedules (1 without an experiment)."""
        return self.experiment.config.training.steps if self.experiment is not None else 1

    def require_domain(self) -> Domain:
        """Return the domain, or raise :class:`ConfigError` when none was built yet."""
        if self.domain is None:
            raise ConfigError([("data", "this component needs a domain, but none was built yet")])
        return self.domain

    def build(self, kind: str, section: ResolvedComponent | ComponentConfig) -> Any:
        """Build a component from a resolved section or a bare ``{name, params}`` section.

        Raises :class:`PluginError` when the factory returns something other
        than the interface its kind promises (a ``Generator`` for a generator).
        """
        if isinstance(section, ComponentConfig):
            component = self.registry.get(kind, section.name)
            section = ResolvedComponent(component, component.parse_params(section.params))
        built = section.component.factory(section.params, self)
        expected = BUILT_TYPES.get(kind)
        if expected is not None and not isinstance(built, expected):
            component = section.component
            raise PluginError(
                component.plugin,
                f"the factory of {kind} {component.name!r} returned {type(built).__name__}; "
                f"it must return a {expected.__module__.split('.')[0]}.{expected.__name__}",
            )
        return built

    def build_generator(self) -> Generator:
        """Build the experiment's generator on the device."""
        section = self._section("generator")
        return self.build("generator", section).to(self.device)

    def build_discriminator(self) -> Discriminator:
        """Build the experiment's discriminator on the device."""
        section = self._section("discriminator")
        return self.build("discriminator", section).to(self.device)

    def build_inference(
        self,
        default: str,
        generator: Generator | None = None,
        scorer: Discriminator | None = None,
        section: ResolvedComponent | ComponentConfig | None = None,
    ) -> Inference:
        """Build ``section``, else the experiment's inference, else ``default``.

        ``scorer`` is the strategy's scorer, or None for strategies without
        one (VAE, autoencoder), which can only use algorithms that ignore it.
        Raises :class:`ConfigError` for a search without a scorer, and
        :class:`CapabilityError` when ``scorer`` lacks a capability that the
        algorithm requires (input gradients, factors, conditionals).
        """
        context = self if generator is None else self.replace(generator=generator)
        if section is None and self.experiment is not None:
            section = self.experiment.inference
        inference = context.build("inference", section if section is not None else ComponentConfig(name=default))
        if scorer is None and inference.needs_scorer:
            raise ConfigError(
                [
                    (
                        "inference.name",
                        f"{type(inference).__name__} searches a scorer, but this strategy trains none; "
                        "use amortized, or a strategy with a discriminator (gan, energy)",
                    )
                ]
            )
        if scorer is not None:
            missing = inference.missing_capabilities(scorer)
            if missing:
                names = ", ".join(sorted(capability.value for capability in missing))
                raise CapabilityError(
                    f"inference {type(inference).__name__} needs scorer capabilities ({names}) that "
                    f"{type(scorer).__name__} lacks; choose another inference"
                )
        return inference

    def build_loss(self, name: str) -> AdversarialLoss:
        """Build a registered GAN loss by name."""
        return self.build("loss", ComponentConfig(name=name))

    def _section(self, kind: str) -> ResolvedComponent | ComponentConfig:
        if self.experiment is not None:
            return getattr(self.experiment, kind)
        return ComponentConfig(name="mlp")
