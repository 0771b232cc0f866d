"""The metric registry: one entry per score family, looked up by name, run with one signature.

Every metric is ``metric(space, encoder, rng_or_seed, **settings) -> dict`` of named scores, with
keyword-only settings whose defaults are the protocol of Locatello et al. (2019). A new metric is one
module with one ``@register`` call; an unknown name fails with the list of known ones.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

_REGISTRY: dict[str, "Metric"] = {}


@dataclass(frozen=True)
class Metric:
    """A registered metric: the space-level function, its array-level core and what it measures."""

    name: str
    fn: Callable[..., dict]
    paper: str
    description: str
    core: Callable[..., dict] | None = None
    multi_encoder: bool = False  # UDR compares several trained models
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def defaults(self) -> dict[str, object]:
        """The settings this metric accepts, with their default values."""
        params = inspect.signature(self.fn).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def __call__(self, space, encoder, rng_or_seed=0, **settings) -> dict:
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise TypeError(f"metric {self.name!r} has no setting(s) {unknown}; its settings are "
                            f"{sorted(self.defaults)}")
        from eval.metrics.utils import to_plain
        return to_plain(self.fn(space, encoder, rng_or_seed, **settings))


def register(name: str, *, paper: str, description: str, core: Callable | None = None,
             multi_encoder: bool = False) -> Callable:
    """Decorator registering ``fn(space, encoder, rng_or_seed, *, **settings)`` under ``name``."""

    def wrap(fn):
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"metric {name!r} is already registered")
        _REGISTRY[name] = Metric(name, fn, paper, description, core, multi_encoder)
        return fn

    return wrap


def names(include_multi_encoder: bool = True) -> list[str]:
    """Registered metric names, in registration order (UDR, which needs several models, last)."""
    return [n for n, m in _REGISTRY.items() if include_multi_encoder or not m.multi_encoder]


def get(name: str) -> Metric:
    """The metric called ``name``; an unknown name raises KeyError listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(names())}") from None


def _split_overrides(selected: Sequence[str], overrides: Mapping[str, object]) -> dict[str, dict]:
    """Per-metric settings from ``overrides``: ``mig={...}`` targets one metric, ``num_train=...`` all that take it."""
    per_metric: dict[str, dict] = {name: {} for name in selected}
    for key, value in overrides.items():
        if key in _REGISTRY:
            if not isinstance(value, Mapping):
                raise TypeError(f"override {key}= must be a dict of settings for metric {key!r}, got {value!r}")
            if key in per_metric:
                per_metric[key].update(value)
            continue
        takers = [name for name in selected if key in _REGISTRY[name].defaults]
        if not takers:
            accepted = sorted({s for name in selected for s in _REGISTRY[name].defaults})
            raise TypeError(f"no selected metric ({', '.join(selected)}) has a setting {key!r}; "
                            f"settings they accept: {accepted}")
        for name in takers:
            per_metric[name].setdefault(key, value)
    return per_metric


def evaluate(space, encoder, names: Iterable[str] | str | None = None, seed: int = 0,
             domain: str | None = None, **overrides) -> dict[str, dict]:
    """Run several metrics on one representation: ``{metric name: {score name: value}}``.

    ``names`` defaults to every single-model metric. Each metric gets its own
    ``RandomState(seed)``, as in disentanglement_lib, so adding or removing a metric never changes
    another's samples. ``overrides`` are settings: ``num_train=1000`` applies to every selected
    metric that has that setting, ``dci={"importance": "forest"}`` to one metric only.
    ``domain`` restricts factor sampling to a named domain of the space.
    """
    from eval.metrics.utils import resolve_space

    space = resolve_space(space)
    if names is None:
        selected = [n for n, m in _REGISTRY.items() if not m.multi_encoder]
    else:
        selected = [names] if isinstance(names, str) else list(names)
    for name in selected:
        get(name)  # fail before any work on an unknown name
    per_metric = _split_overrides(selected, overrides)
    results = {}
    for name in selected:
        metric = _REGISTRY[name]
        settings = dict(per_metric[name])
        if domain is not None:
            settings["domain"] = domain
        results[name] = metric(space, encoder, seed, **settings)
    return results
