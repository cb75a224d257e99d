"""Plugin hooks and the manager that collects components from plugins.

A plugin is a module or object with functions marked ``@hookimpl``, each
named after a hook below and taking one argument, ``register``. Calling
``register(name, factory, params=Model, description=...)`` adds one
component of the hook's kind. Plugins are found through the ``structgen``
entry-point group; structgen's own strategies, inference algorithms, losses
and metrics come from :mod:`structgen.builtin`, which uses the same hooks.

Example plugin module::

    from structgen import hookimpl

    @hookimpl
    def register_generators(register):
        register("my_generator", build_my_generator, params=MyParams)

Set ``STRUCTGEN_PLUGINS`` to a comma-separated list of entry-point names to
load only those third-party plugins (the built-in one always loads), or to
an empty string to load none.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import pluggy
from pydantic import BaseModel

from .errors import PluginError
from .registry import Component, NoParams, PluginFailure, Registry

logger = logging.getLogger(__name__)

PROJECT = "structgen"
ENTRY_POINT_GROUP = "structgen"
PLUGINS_ENV = "STRUCTGEN_PLUGINS"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback each hook receives; one call registers one component."""

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        params: type[BaseModel] = NoParams,
        description: str = "",
    ) -> None: ...


class HookSpecs:
    """One hook per component kind."""

    @hookspec
    def register_domains(self, register: Register) -> None:
        """Register domains: what objects are (vectors, images, sequences, graphs)."""

    @hookspec
    def register_generators(self, register: Register) -> None:
        """Register generators: factories of :class:`~structgen.core.Generator`."""

    @hookspec
    def register_discriminators(self, register: Register) -> None:
        """Register discriminators: factories of :class:`~structgen.core.Discriminator`."""

    @hookspec
    def register_inference(self, register: Register) -> None:
        """Register inference algorithms: factories of :class:`~structgen.core.Inference`."""

    @hookspec
    def register_strategies(self, register: Register) -> None:
        """Register training strategies: factories of :class:`~structgen.core.Strategy`."""

    @hookspec
    def register_datasets(self, register: Register) -> None:
        """Register data sets: factories of :class:`~structgen.core.DataSplits`."""

    @hookspec
    def register_metrics(self, register: Register) -> None:
        """Register metrics: factories of :class:`~structgen.core.Metric`."""

    @hookspec
    def register_losses(self, register: Register) -> None:
        """Register GAN losses: factories of :class:`~structgen.core.AdversarialLoss`."""

    @hookspec
    def register_feature_extractors(self, register: Register) -> None:
        """Register feature extractors: factories of :class:`~structgen.core.FeatureExtractor`."""

    @hookspec
    def register_tasks(self, register: Register) -> None:
        """Register comparison tasks for `structgen compare`: factories of :class:`~structgen.compare.CompareConfig`."""


HOOK_KINDS: dict[str, str] = {
    "register_domains": "domain",
    "register_generators": "generator",
    "register_discriminators": "discriminator",
    "register_inference": "inference",
    "register_strategies": "strategy",
    "register_datasets": "dataset",
    "register_metrics": "metric",
    "register_losses": "loss",
    "register_feature_extractors": "feature_extractor",
    "register_tasks": "task",
}


def _structgen_version() -> str:
    from . import __version__

    return __version__


def _selected_entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    selected = os.environ.get(PLUGINS_ENV)
    if selected is None:
        return entry_points
    names = {name.strip() for name in selected.split(",") if name.strip()}
    return [ep for ep in entry_points if ep.name in names]


def _entry_point_version(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.version if dist is not None else "unknown"


def load_registry(extra_plugins: Iterable[tuple[str, object]] = (), entry_points: bool = True) -> Registry:
    """Load every plugin and return the registry of their components.

    Args:
        extra_plugins: ``(name, plugin)`` pairs registered after the entry
            points; tests and scripts use it to add a plugin defined in place.
        entry_points: load plugins from the ``structgen`` entry-point group.

    A plugin that fails to import, or whose hook raises, is recorded in
    ``Registry.failures`` with its error and the others still load.
    """
    from . import builtin

    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    versions: dict[str, str] = {}
    registry = Registry()

    manager.register(builtin, name="structgen")
    versions["structgen"] = _structgen_version()

    if entry_points:
        for entry_point in _selected_entry_points():
            version = _entry_point_version(entry_point)
            try:
                plugin = entry_point.load()
                manager.register(plugin, name=entry_point.name)
            except Exception as err:  # a broken plugin must not stop the others
                logger.warning("plugin %r failed to load: %s", entry_point.name, err)
                registry.failures.append(PluginFailure(entry_point.name, version, f"{type(err).__name__}: {err}"))
                continue
            versions[entry_point.name] = version

    for name, plugin in extra_plugins:
        manager.register(plugin, name=name)
        versions[name] = str(getattr(plugin, "__version__", "unknown"))

    _collect(manager, registry, versions)
    return registry


def _collect(manager: pluggy.PluginManager, registry: Registry, versions: dict[str, str]) -> None:
    """Call each plugin's hook implementations one by one, so each component records its plugin."""
    failed: set[str] = set()
    for hook_name, kind in HOOK_KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            plugin_name = impl.plugin_name
            if plugin_name in failed:
                continue
            register = _register_callback(registry, kind, plugin_name, versions.get(plugin_name, "unknown"))
            try:
                impl.function(register=register)
            except Exception as err:  # a broken plugin must not stop the others
                logger.warning("plugin %r failed in %s: %s", plugin_name, hook_name, err)
                failed.add(plugin_name)
                _drop_plugin(registry, plugin_name)
                registry.failures.append(
                    PluginFailure(plugin_name, versions.get(plugin_name, "unknown"), f"{type(err).__name__}: {err}")
                )


def _drop_plugin(registry: Registry, plugin_name: str) -> None:
    for by_name in registry.components.values():
        for name in [name for name, component in by_name.items() if component.plugin == plugin_name]:
            del by_name[name]


def _register_callback(registry: Registry, kind: str, plugin: str, version: str) -> Register:
    def register(
        name: str,
        factory: Callable[..., Any],
        params: type[BaseModel] = NoParams,
        description: str = "",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(plugin, f"{kind} name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise PluginError(plugin, f"{kind} {name!r}: factory must be callable, got {factory!r}")
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise PluginError(plugin, f"{kind} {name!r}: params must be a pydantic model class, got {params!r}")
        registry.add(Component(kind, name, factory, params, plugin, version, description))

    return register


_default_registry: Registry | None = None


def default_registry() -> Registry:
    """Return the registry of the installed plugins, loaded once per process."""
    global _default_registry
    if _default_registry is None:
        _default_registry = load_registry()
    return _default_registry
