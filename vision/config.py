"""Typed hyperparameters: dataclasses, updated from Python values with type checks.

Every method's ``Config`` inherits :class:`TrainConfig`, so the optimisation keys (``steps``,
``lr``, ...) are flat and the same for every method; method-specific keys sit next to them and a
method that owns another model nests its config (``beta_vae_dae``'s ``dae.steps``). Strings from a
command line are parsed by ``darla.overrides``; this module only accepts already-typed values.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Mapping, TypeVar

from vision.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_C = TypeVar("_C", bound="DataclassInstance")


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping shared by every method.

    ``threads`` = 0 leaves torch's default (all cores); ``device`` is ``cpu``, ``cuda``, ``cuda:N``
    or ``auto`` (CUDA when available). Checkpoints every ``checkpoint_every`` steps and at the end.
    ``precision="bf16"`` runs the training forward pass under bfloat16 autocast (convolutions and
    matrix products in bf16, losses and weights in fp32): 1.2-1.7 times the images per second on a
    CPU with AVX-512 BF16; evaluation, codes and checkpoints stay fp32. ``auto`` picks bf16 where
    the hardware has it (``vision.train.native_bf16``) and fp32 elsewhere, where bf16 is emulated.
    Opt-in: its codes served their agents 4-6% worse here (docs/results.md).
    """

    steps: int = 5000
    batch_size: int = 64
    lr: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    checkpoint_every: int = 500
    log_every: int = 50
    image_every: int = 500
    precision: Literal["fp32", "bf16", "auto"] = "fp32"

    #: keys that may change when a run resumes (they do not change the numbers computed).
    RESUMABLE: ClassVar[tuple[str, ...]] = ("steps", "device", "threads", "checkpoint_every",
                                           "log_every", "image_every")

    def validate(self) -> None:
        """Raise ConfigError for values no run can use."""
        for key in ("steps", "seed", "threads"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}={getattr(self, key)} must be >= 0")
        for key in ("batch_size", "checkpoint_every", "log_every", "image_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}={getattr(self, key)} must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr} must be > 0")
        _check_literals(self, "")


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_literals(config, prefix: str) -> None:
    hints = _hints(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        kind = hints[f.name]
        if typing.get_origin(kind) is typing.Literal and value not in typing.get_args(kind):
            raise ConfigError(f"{prefix}{f.name}={value!r} is not one of {list(typing.get_args(kind))}")
        if is_dataclass(value):
            _check_literals(value, f"{prefix}{f.name}.")


def keys(config_or_cls: Any, prefix: str = "") -> list[str]:
    """Every settable key, nested ones with dots (``dae.steps``)."""
    cls = config_or_cls if isinstance(config_or_cls, type) else type(config_or_cls)
    hints = _hints(cls)
    out = []
    for f in fields(cls):
        if is_dataclass(hints[f.name]):
            out += keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


def describe(config: Any) -> list[tuple[str, str, Any]]:
    """``(key, type name, value)`` for every key of a config instance (for ``darla methods``)."""
    rows = []
    hints = _hints(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value):
            rows += [(f"{f.name}.{k}", t, v) for k, t, v in describe(value)]
        else:
            kind = hints[f.name]
            name = (f"one of {list(typing.get_args(kind))}" if typing.get_origin(kind) is typing.Literal
                    else getattr(kind, "__name__", str(kind)))
            rows.append((f.name, name, value))
    return rows


def _accepts(kind, value) -> bool:
    if typing.get_origin(kind) is typing.Literal:
        return value in typing.get_args(kind)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def update(config: _C, updates: Mapping[str, Any]) -> _C:
    """A copy of ``config`` with ``updates`` applied; keys may be dotted (``"dae.steps"``) or a
    nested mapping (``dae={"steps": 100}``). Unknown keys and wrongly typed values raise ConfigError."""
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for key, value in updates.items():
        head, dot, rest = key.partition(".")
        if dot:
            nested.setdefault(head, {})[rest] = value
        elif isinstance(value, Mapping):
            nested.setdefault(head, {}).update(value)
        else:
            flat[key] = value
    hints = _hints(type(config))
    names = {f.name for f in fields(config)}
    changes: dict[str, Any] = {}
    for key in list(flat) + list(nested):
        if key not in names:
            raise ConfigError(f"unknown hyperparameter {key!r} for {type(config).__qualname__}; "
                              f"valid keys: {', '.join(keys(config))}")
    for key, value in flat.items():
        kind = hints[key]
        if is_dataclass(kind):
            raise ConfigError(f"{key!r} is a group of hyperparameters; set its fields as {key}.NAME=VALUE "
                              f"({', '.join(keys(kind, key + '.'))})")
        if not _accepts(kind, value):
            if typing.get_origin(kind) is typing.Literal:
                raise ConfigError(f"{key}={value!r} is not one of {list(typing.get_args(kind))}")
            raise ConfigError(f"{key}={value!r} has the wrong type; expected {getattr(kind, '__name__', kind)}")
        changes[key] = float(value) if kind is float else value
    for key, sub in nested.items():
        if not is_dataclass(hints[key]):
            raise ConfigError(f"{key!r} is not a group; valid keys: {', '.join(keys(config))}")
        try:
            changes[key] = update(getattr(config, key), sub)
        except ConfigError as err:
            raise ConfigError(f"in {key}: {err}") from None
    return dataclasses.replace(config, **changes)


def from_dict(cls: type[_C], data: Mapping[str, Any]) -> _C:
    """Rebuild a config saved with ``dataclasses.asdict`` (keys it does not know are an error)."""
    return update(cls(), dict(data))
