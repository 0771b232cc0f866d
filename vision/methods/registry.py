"""The method registry: a config name (``beta_vae_dae``) → a :class:`~vision.methods.base.Method` class."""

from __future__ import annotations

from vision.errors import UnknownMethodError

_METHODS: dict[str, type] = {}


def register(cls):
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _METHODS and _METHODS[cls.name] is not cls:
        raise ValueError(f"vision method {cls.name!r} is registered twice "
                         f"({_METHODS[cls.name].__qualname__} and {cls.__qualname__})")
    _METHODS[cls.name] = cls
    return cls


def get(name: str) -> type:
    """The method class registered as ``name``."""
    try:
        return _METHODS[name]
    except KeyError:
        raise UnknownMethodError(f"unknown vision method {name!r}; known: {', '.join(names())}. "
                                 "Run `darla methods` for each with its paper and hyperparameters.") from None


def names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_METHODS)
