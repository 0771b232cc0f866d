"""The method registry: a config name (``beta_vae_dae``) → a :class:`~vision.methods.base.Method` class."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from artifacts.registry import Registry
from vision.errors import UnknownMethodError

if TYPE_CHECKING:
    from vision.methods.base import Method

_M = TypeVar("_M", bound="type[Method]")
METHODS: Registry[type[Method]] = Registry(
    "vision method", error=UnknownMethodError,
    hint="Run `darla methods` for each with its paper and hyperparameters.")


def register(cls: _M) -> _M:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    METHODS.add(cls.name, cls)
    return cls


def get(name: str) -> type[Method]:
    """The method class registered as ``name``."""
    return METHODS.get(name)


def names() -> list[str]:
    """Registered method names, in registration order."""
    return METHODS.names()
