"""The base class every adapter derives from, and the registry that finds them.

An adapter module defines a subclass with a `type_name`; importing the package's modules registers
it, so a new adapter is one module (and one test table), nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

from digest.errors import ConfigError, Problem
from digest.settings import Settings, parse_section


@dataclass(frozen=True, slots=True)
class NoOptions:
    """For adapters that take no options."""


OptionsT = TypeVar("OptionsT")


class Adapter(Generic[OptionsT]):
    """Limits and capabilities are class attributes; the outbox reads them."""

    type_name: ClassVar[str]
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: OptionsT, settings: Settings) -> None:
        self.options = options
        self.settings = settings

    def close(self) -> None:
        """Release connections; the default holds none."""

    @classmethod
    def parse_options(cls, raw: Any, path: str, settings: Settings) -> OptionsT:
        problems: list[Problem] = []
        options = parse_section(cls.Options, raw or {}, path, settings.source, problems)
        if problems or options is None:
            raise ConfigError(problems)
        return options  # type: ignore[return-value]


AdapterT = TypeVar("AdapterT", bound=Adapter[Any])


def adapter_classes(package: ModuleType, base: type[AdapterT]) -> dict[str, type[AdapterT]]:
    """Every subclass of `base` with a `type_name` defined in `package`'s modules, by type name."""
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    found: dict[str, type[AdapterT]] = {}
    pending = list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "type_name" in cls.__dict__:
            found[cls.type_name] = cls
    return found


def unknown_type(path: str, name: str, known: dict[str, Any], settings: Settings) -> ConfigError:
    choices = ", ".join(sorted(known))
    return ConfigError(
        [Problem(settings.source, "", path, f"unknown adapter {name!r}; choose one of {choices}")]
    )
