"""Exception types raised by structgen.

Every error that a user can cause derives from :class:`StructgenError`, so a
command-line front end can print the message without a traceback.
"""

from __future__ import annotations


class StructgenError(Exception):
    """Base class of the errors that structgen raises on bad input."""


class ConfigError(StructgenError):
    """An experiment configuration is invalid.

    Attributes:
        problems: one ``(field_path, reason)`` pair per invalid field, so a
            caller can report every problem at once.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = [f"{path}: {reason}" for path, reason in self.problems]
        noun = "error" if len(lines) == 1 else "errors"
        super().__init__(f"invalid configuration ({len(lines)} {noun}):\n  " + "\n  ".join(lines))


class PluginError(StructgenError):
    """A plugin failed to load, or registered an invalid or clashing component.

    Attributes:
        plugin: name of the plugin at fault.
    """

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")


class ComponentNotFoundError(StructgenError, KeyError):
    """A configuration names a component that no plugin registered.

    Attributes:
        kind: component kind, such as ``"generator"``.
        name: the name that was requested.
        available: the names registered for that kind.
    """

    def __init__(self, kind: str, name: str, available: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        listed = ", ".join(self.available) or "(none)"
        super().__init__(f"unknown {kind} {name!r}; registered {kind} names: {listed}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class DataError(StructgenError):
    """User data is missing, malformed or does not fit the domain."""


class CapabilityError(StructgenError):
    """An inference algorithm needs a scorer capability that the scorer lacks."""


class TrainingError(StructgenError):
    """Training cannot go on, for example because a loss became NaN."""


class RunDirectoryError(StructgenError):
    """A run directory is missing, incomplete or was written by another experiment."""
