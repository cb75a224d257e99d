"""The component registry: every registered component, by kind and name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from .errors import ComponentNotFoundError, PluginError

Kind = Literal[
    "domain",
    "generator",
    "discriminator",
    "inference",
    "strategy",
    "dataset",
    "metric",
    "loss",
    "feature_extractor",
    "task",
]
KINDS: tuple[str, ...] = get_args(Kind)


class NoParams(BaseModel):
    """Parameter model of a component that takes no parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Component:
    """A registered component: a factory and the pydantic model of its parameters.

    The factory is called as ``factory(params, context)`` with a validated
    instance of ``params`` and a :class:`~structgen.context.BuildContext`.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    params: type[BaseModel]
    plugin: str
    version: str
    description: str = ""

    def parse_params(self, values: dict[str, Any]) -> BaseModel:
        """Validate ``values`` against the parameter model (raises ``pydantic.ValidationError``)."""
        return self.params.model_validate(values)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: kind, name, plugin, version and each parameter's default and help."""
        params = {}
        for field_name, info in self.params.model_fields.items():
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            params[field_name] = {
                "type": _type_name(info.annotation),
                "default": default,
                "required": info.is_required(),
                "description": info.description or "",
            }
        return {
            "kind": self.kind,
            "name": self.name,
            "plugin": self.plugin,
            "version": self.version,
            "description": self.description,
            "params": params,
        }


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported or whose registration raised."""

    plugin: str
    version: str
    error: str

    def describe(self) -> dict[str, Any]:
        """JSON-ready description, listed by ``structgen plugins`` with kind ``plugin_error``."""
        return {
            "kind": "plugin_error",
            "name": self.plugin,
            "plugin": self.plugin,
            "version": self.version,
            "params": {},
            "error": self.error,
        }


@dataclass
class Registry:
    """Components by kind and name, plus the plugins that failed to load."""

    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {k: {} for k in KINDS})
    failures: list[PluginFailure] = field(default_factory=list)

    def add(self, component: Component) -> None:
        """Add a component; a second component of the same kind and name is a :class:`PluginError`."""
        if component.kind not in self.components:
            raise PluginError(component.plugin, f"unknown component kind {component.kind!r}")
        existing = self.components[component.kind].get(component.name)
        if existing is not None:
            raise PluginError(
                component.plugin,
                f"{component.kind} {component.name!r} is already registered by plugin {existing.plugin!r}; "
                "choose another name",
            )
        self.components[component.kind][component.name] = component

    def get(self, kind: str, name: str) -> Component:
        """Look a component up; an unknown name raises an error listing the registered ones."""
        try:
            return self.components[kind][name]
        except KeyError:
            raise ComponentNotFoundError(kind, name, list(self.components.get(kind, {}))) from None

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind``."""
        return sorted(self.components[kind])

    def all(self) -> list[Component]:
        """Return every component, ordered by kind (as in :data:`KINDS`) and then by name."""
        return [self.components[kind][name] for kind in KINDS for name in sorted(self.components[kind])]
