"""Plugin discovery, registration by a plugin defined in the test, and broken plugins."""

from __future__ import annotations

import importlib.metadata
import json
import math

import pytest
import torch
from pydantic import Field
from torch import nn

import structgen
from structgen import Generator, PluginError, hookimpl
from structgen.cli import main
from structgen.config import ComponentParams, load_experiment
from structgen.experiment import build_experiment
from structgen.plugins import PLUGINS_ENV, load_registry

CORE_COMPONENTS = {
    ("strategy", "gan"),
    ("strategy", "vae"),
    ("strategy", "autoencoder"),
    ("strategy", "energy"),
    ("inference", "gradient_ascent"),
    ("inference", "langevin"),
    ("inference", "exhaustive"),
    ("inference", "amortized"),
    ("dataset", "ring"),
    ("dataset", "grid"),
    ("dataset", "digits"),
    ("dataset", "points"),
    ("generator", "mlp"),
    ("discriminator", "mlp"),
    ("generator", "conv"),
    ("discriminator", "conv"),
    ("loss", "minimax"),
    ("loss", "non_saturating"),
}


class LinearGeneratorParams(ComponentParams):
    scale: float = Field(1.0, gt=0, description="Output scale.")


class LinearGenerator(Generator):
    def __init__(self, event_dim: int, scale: float) -> None:
        super().__init__()
        self.latent_dim = 4
        self.scale = scale
        self.linear = nn.Linear(4, event_dim)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.scale * self.linear(z)


class LinearGeneratorPlugin:
    """A third-party plugin, defined here instead of in an installed package."""

    __version__ = "1.2.3"

    @hookimpl
    def register_generators(self, register):
        def build(params, context):
            return LinearGenerator(math.prod(context.domain.event_shape), params.scale)

        register("linear", build, params=LinearGeneratorParams, description="One linear layer.")


class BrokenPlugin:
    @hookimpl
    def register_generators(self, register):
        register("half_done", lambda params, context: None)
        raise RuntimeError("broken on purpose")


def test_installed_plugins_register_core_components(registry):
    names = {(component.kind, component.name) for component in registry.all()}
    assert CORE_COMPONENTS <= names
    assert registry.failures == []


def test_components_record_their_plugin(registry):
    assert registry.get("strategy", "gan").plugin == "structgen"
    assert registry.get("dataset", "ring").plugin == "structgen_vectors"
    assert registry.get("dataset", "digits").plugin == "structgen_images"
    assert registry.get("strategy", "gan").version == structgen.__version__


def test_test_plugin_generator_used_by_config():
    registry = load_registry(extra_plugins=[("linear_plugin", LinearGeneratorPlugin())])
    component = registry.get("generator", "linear")
    assert component.plugin == "linear_plugin"
    assert component.version == "1.2.3"

    resolved = load_experiment(
        values={
            "data": {"name": "ring", "train_size": 512, "eval_size": 64},
            "strategy": {"name": "gan"},
            "generator": {"name": "linear", "scale": 2.0},
            "training": {"steps": 3, "batch_size": 16},
            "device": "cpu",
        },
        registry=registry,
    )
    experiment = build_experiment(resolved, registry)
    assert isinstance(experiment.strategy.generator, LinearGenerator)
    assert experiment.strategy.generator.scale == 2.0
    assert experiment.strategy.sample(5).shape == (5, 2)


def test_test_plugin_params_are_validated():
    registry = load_registry(extra_plugins=[("linear_plugin", LinearGeneratorPlugin())])
    with pytest.raises(structgen.ConfigError, match="generator.scale"):
        load_experiment(
            values={"data": "ring", "strategy": "gan", "generator": {"name": "linear", "scale": -1}},
            registry=registry,
        )


def test_broken_plugin_is_listed_and_others_load():
    registry = load_registry(extra_plugins=[("broken", BrokenPlugin())])
    assert [failure.plugin for failure in registry.failures] == ["broken"]
    assert "broken on purpose" in registry.failures[0].error
    assert "half_done" not in registry.names("generator")
    assert "mlp" in registry.names("generator")


def test_duplicate_name_is_a_plugin_error():
    class Clash:
        @hookimpl
        def register_strategies(self, register):
            register("gan", lambda params, context: None)

    registry = load_registry(extra_plugins=[("clash", Clash())])
    assert registry.failures[0].plugin == "clash"
    assert "already registered by plugin 'structgen'" in registry.failures[0].error
    assert registry.get("strategy", "gan").plugin == "structgen"


def test_register_rejects_bad_params_model():
    class BadParams:
        @hookimpl
        def register_losses(self, register):
            register("odd", lambda params, context: None, params=dict)

    registry = load_registry(extra_plugins=[("bad_params", BadParams())])
    assert "pydantic model" in registry.failures[0].error


def test_unimportable_entry_point_is_listed(monkeypatch):
    broken = importlib.metadata.EntryPoint(name="ghost", value="structgen_no_such_module", group="structgen")
    real = importlib.metadata.entry_points

    def entry_points(**kwargs):
        found = list(real(**kwargs))
        return found + [broken] if kwargs.get("group") == "structgen" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    registry = load_registry()
    assert [failure.plugin for failure in registry.failures] == ["ghost"]
    assert "ModuleNotFoundError" in registry.failures[0].error
    assert "ring" in registry.names("dataset")


def test_environment_variable_limits_plugins(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "structgen_vectors")
    registry = load_registry()
    assert "ring" in registry.names("dataset")
    assert "digits" not in registry.names("dataset")
    assert "gan" in registry.names("strategy")


def test_plugins_json_lists_every_kind(capsys):
    assert main(["plugins", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {"kind", "name", "plugin", "version", "params"} <= set(entries[0])
    kinds = {entry["kind"] for entry in entries}
    assert {"domain", "generator", "discriminator", "inference", "strategy", "dataset", "metric", "loss"} <= kinds
    assert "feature_extractor" in kinds
    gan = next(e for e in entries if (e["kind"], e["name"]) == ("strategy", "gan"))
    assert gan["params"]["loss"]["default"] == "non_saturating"


def test_plugins_text_shows_parameters(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "r1_gamma" in out
    assert "structgen_vectors" in out


def test_unknown_component_lists_registered_names(registry):
    with pytest.raises(structgen.ConfigError, match=r"registered generator names: conv, (\w+, )*mlp\b"):
        load_experiment(values={"data": "ring", "strategy": "gan", "generator": "nope"}, registry=registry)


def test_plugin_error_names_plugin():
    err = PluginError("acme", "something failed")
    assert err.plugin == "acme"
    assert "acme" in str(err)


def test_factory_returning_wrong_type_is_plugin_error():
    class Unfinished:
        @hookimpl
        def register_generators(self, register):
            register("unfinished", lambda params, context: None)

    registry = load_registry(extra_plugins=[("unfinished_plugin", Unfinished())])
    resolved = load_experiment(
        values={"data": "ring", "strategy": "gan", "generator": "unfinished", "device": "cpu"}, registry=registry
    )
    with pytest.raises(
        PluginError, match="generator 'unfinished' returned NoneType; it must return a structgen.Generator"
    ):
        build_experiment(resolved, registry)
