"""The metric registry: one entry per score family, looked up by name, run with one signature.

Every metric is ``metric(space, encoder, rng_or_seed, **settings) -> dict`` of named scores, with
keyword-only settings whose defaults are the protocol of Locatello et al. (2019). A new metric is one
module with one ``@register`` call; an unknown name fails with the list of known ones.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, TypeVar

from artifacts.registry import Registry

if TYPE_CHECKING:
    from eval.metrics.utils import EncoderLike, RngOrSeed, SpaceLike

METRICS: Registry[Metric] = Registry("metric", hint="docs/metrics.md describes each with its paper and settings.")
_Fn = TypeVar("_Fn", bound=Callable[..., dict])


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

    def __call__(self, space: SpaceLike, encoder: EncoderLike | Sequence[EncoderLike], rng_or_seed: RngOrSeed = 0,
                 **settings: Any) -> dict:
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise TypeError(f"metric {self.name!r} has no setting(s) {unknown}; its settings are "
                            f"{sorted(self.defaults)}")
        from eval.metrics.utils import to_plain
        return to_plain(self.fn(space, encoder, rng_or_seed, **settings))


def register(name: str, *, paper: str, description: str, core: Callable | None = None,
             multi_encoder: bool = False) -> Callable[[_Fn], _Fn]:
    """Decorator registering ``fn(space, encoder, rng_or_seed, *, **settings)`` under ``name``."""

    def wrap(fn: _Fn) -> _Fn:
        METRICS.add(name, Metric(name, fn, paper, description, core, multi_encoder))
        return fn

    return wrap


def names(include_multi_encoder: bool = True) -> list[str]:
    """Registered metric names, in registration order (UDR, which needs several models, last)."""
    return [n for n, m in METRICS.items() if include_multi_encoder or not m.multi_encoder]


def get(name: str) -> Metric:
    """The metric called ``name``; an unknown name raises KeyError listing the known ones."""
    return METRICS.get(name)


def settings_per_metric(selected: Sequence[str], overrides: Mapping[str, Any]) -> dict[str, dict]:
    """Per-metric settings from ``overrides``: ``mig={...}`` targets one metric, ``num_train=...``
    every selected metric that takes it; a metric's own entry wins over a shared one. The one place
    settings are checked (the CLI, the run config and :func:`evaluate` all come here), so a typo
    fails with ValueError before any scoring, listing what is accepted."""
    per_metric: dict[str, dict] = {name: {} for name in selected}
    for key, value in overrides.items():
        if key in METRICS:
            if not isinstance(value, Mapping):
                raise ValueError(f"override {key}= must be a dict of settings for metric {key!r}, got {value!r}")
            wrong = sorted(set(value) - set(METRICS[key].defaults))
            if wrong:
                raise ValueError(f"metric {key!r} has no setting(s) {wrong}; its settings are "
                                 f"{sorted(METRICS[key].defaults)}")
            continue
        takers = [name for name in selected if key in METRICS[name].defaults]
        if not takers:
            accepted = sorted({s for name in selected for s in METRICS[name].defaults})
            raise ValueError(f"no selected metric ({', '.join(selected)}) has a setting {key!r}; "
                             f"settings they accept: {accepted}")
        for name in takers:
            per_metric[name][key] = value
    for name in selected:
        per_metric[name].update(overrides.get(name, {}))
    return per_metric


def evaluate(space: SpaceLike, encoder: EncoderLike, names: Iterable[str] | str | None = None, seed: int = 0,
             domain: str | None = None, **overrides: Any) -> dict[str, dict]:
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
        selected = [n for n, m in METRICS.items() if not m.multi_encoder]
    else:
        selected = [names] if isinstance(names, str) else list(names)
    for name in selected:
        get(name)  # fail before any work on an unknown name
    per_metric = settings_per_metric(selected, overrides)
    results = {}
    for name in selected:
        metric = METRICS[name]
        settings = dict(per_metric[name])
        if domain is not None:
            settings["domain"] = domain
        results[name] = metric(space, encoder, seed, **settings)
    return results


def score_models(space: SpaceLike, encoders: Mapping[str, EncoderLike], names: Sequence[str] | None = None,
                 seed: int = 0,
                 domain: str | None = None, settings: Mapping | None = None,
                 log: Callable[[str], None] = lambda _msg: None) -> dict:
    """Every selected metric on each of several encoders (keyed by a label), and the multi-model
    metrics (UDR) across them, as one JSON-able document (what ``darla metrics`` writes):
    ``{"scores": {label: {metric: {...}}}, "seconds": {...}, "udr": {...} (2+ models), "meta": {...}}``.
    ``names`` defaults to every single-model metric, plus UDR when there are several encoders."""
    import time

    from eval.metrics.utils import resolve_space, scored_factors

    space = resolve_space(space)
    if names is None:
        names = [n for n, m in METRICS.items() if not m.multi_encoder] + (["udr"] if len(encoders) > 1 else [])
    names = list(names)
    for name in names:
        get(name)  # fail before any work on an unknown name
    per_metric = settings_per_metric(names, dict(settings or {}))
    multi = [n for n in names if METRICS[n].multi_encoder]
    if multi and len(encoders) < 2:
        raise ValueError(f"{', '.join(multi)} compares several models: give at least 2 checkpoints")
    where = {"domain": domain} if domain else {}
    doc: dict = {"scores": {}, "seconds": {}}
    for label, encoder in encoders.items():
        doc["scores"][label], doc["seconds"][label] = {}, {}
        for name in (n for n in names if n not in multi):
            start = time.perf_counter()
            doc["scores"][label][name] = result = METRICS[name](space, encoder, seed, **where, **per_metric[name])
            doc["seconds"][label][name] = round(time.perf_counter() - start, 3)
            log(f"{label}  {name:12s} {_brief(result)}  ({doc['seconds'][label][name]:.1f} s)")
    for name in multi:
        start = time.perf_counter()
        result = METRICS[name](space, list(encoders.values()), seed, **where, **per_metric[name])
        doc[name] = {**result, "models": list(encoders)}
        doc["seconds"][name] = round(time.perf_counter() - start, 3)
        log(f"{name}: " + ", ".join(f"{m}={s:.3f}" for m, s in zip(encoders, result["model_scores"])))
    from eval.metrics import versions

    doc["meta"] = {"seed": seed, "domain": domain, "metrics": names, "settings": dict(settings or {}),
                   "factors": [space.names[k] for k in scored_factors(space, domain or "all")], "versions": versions()}
    return doc


def _brief(scores: Mapping) -> str:
    return "  ".join(f"{k}={v:.3f}" for k, v in scores.items() if isinstance(v, float))
