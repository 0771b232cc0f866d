"""The method registry: a config name (``beta_vae_dae``) → a :class:`~vision.methods.base.Method` class."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from vision.errors import UnknownMethodError

if TYPE_CHECKING:
    from vision.methods.base import Method

_M = TypeVar("_M", bound="type[Method]")
_METHODS: dict[str, type[Method]] = {}


def register(cls: _M) -> _M:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _METHODS and _METHODS[cls.name] is not cls:
        raise ValueError(f"vision method {cls.name!r} is registered twice "
                         f"({_METHODS[cls.name].__qualname__} and {cls.__qualname__})")
    _METHODS[cls.name] = cls
    return cls


def get(name: str) -> type[Method]:
    """The method class registered as ``name``."""
    try:
        return _METHODS[name]
    except KeyError:
        raise UnknownMethodError(f"unknown vision method {name!r}; known: {', '.join(names())}. "
                                 "Run `darla methods` for each with its paper and hyperparameters.") from None


def names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_METHODS)
