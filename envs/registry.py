"""One registry of what the toolkit can collect frames from and act in, at two levels.

- *Level 2, ground truth*: gymnasium environments registered with :func:`register_env` (so
  ``gymnasium.make("darla/Room-v1", domain="target")`` works) and procedural datasets (dSprites, 3D
  shapes) registered with a factory for their :class:`~envs.factors.FactorSpace`. Either kind answers
  ``make_factor_space(name)``, which the metrics, factor sampling and the oracle need.
- *Level 1, any gymnasium env with image observations*: :func:`register_domains` names its domains
  as sets of constructor kwargs and/or wrapper specs (:mod:`envs.wrappers`), since such an env has
  no ``domain=`` argument and no factors. Everything that only needs frames and returns works on it.

Unknown names fail with the list of known ones.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

import gymnasium

from artifacts.registry import Registry
from envs import wrappers
from envs.factors import FactorSpace


@dataclass(frozen=True)
class EnvEntry:
    """One registered name: a gymnasium env with ground truth (``env``), a procedural dataset
    (``dataset``) or an env without ground truth whose domains a run config declares (``level1``)."""

    kind: Literal["env", "dataset", "level1"]
    description: str
    # env: "module:function" building its FactorSpace without making the env (or None: ask the env);
    # dataset: the FactorSpace factory itself
    factor_space: Callable[..., FactorSpace] | str | None = None
    domains: Mapping[str, dict[str, Any]] | None = None  # level 1: domain -> {"kwargs", "wrappers"}


# Registering a name again replaces its entry: a run config re-declares its level-1 domains.
ENVIRONMENTS: Registry[EnvEntry] = Registry(
    "environment or dataset", hint="Run `darla envs` to see each with its factors and domains.", replace=True)
DOMAIN_KEYS = ("kwargs", "wrappers")
# gymnasium.make's own keyword arguments, accepted in a domain's kwargs beside the constructor's
MAKE_KWARGS = ("max_episode_steps", "disable_env_checker", "render_mode")


class NoGroundTruthError(ValueError):
    """Something that needs ground-truth factors was asked of a level-1 env, which has none."""


def register_env(env_id: str, entry_point: str, description: str, factor_space: str | None = None,
                 **kwargs) -> None:
    """Register a gymnasium environment whose ``unwrapped.factor_space`` is a FactorSpace.

    ``factor_space`` ("module:function", called with the env's keyword arguments) builds that space
    without making the env: for an env whose simulator is an optional extra, so that listing,
    metrics' bookkeeping and config checks work where the simulator is not installed."""
    if env_id not in gymnasium.registry:
        gymnasium.register(env_id, entry_point=entry_point, **kwargs)
    ENVIRONMENTS.add(env_id, EnvEntry("env", description, factor_space))


def register_ground_truth(name: str, factory: Callable[..., FactorSpace], description: str) -> None:
    """Register a procedural dataset: ``factory(**kwargs)`` returns its FactorSpace."""
    ENVIRONMENTS.add(name, EnvEntry("dataset", description, factory))


def register_domains(env_id: str, domains: Mapping[str, Mapping], env_kwargs: Mapping | None = None) -> dict:
    """Declare a level-1 env: ``env_id`` is any gymnasium id with image observations (after the
    domains' wrappers), ``domains`` maps each domain name, the source first, to
    ``{"kwargs": {...}, "wrappers": [...]}`` (either may be left out: ``{}`` is the env as it is).

    Checked here, before any stage runs (:func:`check_domains`); returns the normalised domains.
    Declaring them again replaces them: the latest run config's definitions hold in this process."""
    checked = check_domains(env_id, domains, env_kwargs)
    ENVIRONMENTS.add(env_id, EnvEntry("level1", f"no ground truth (level 1); domains {list(checked)}", domains=checked))
    return checked


def check_domains(env_id: str, domains: Mapping[str, Mapping], env_kwargs: Mapping | None = None) -> dict:
    """Level-1 domains, normalised, or one error naming every problem: not a mapping, an unknown key,
    a kwarg the env's constructor does not accept, an unknown wrapper; then each domain's env is
    made once to check that it observes uint8 images whose sides are multiples of 16, the same shape
    in every domain (a policy trained on the source acts unchanged on the others)."""
    if env_id in ENVIRONMENTS and _entry(env_id).kind != "level1":
        raise ValueError(f"{env_id} has ground truth and declares its own domains "
                         f"({make_factor_space(env_id, **dict(env_kwargs or {})).declared_domains}); "
                         "`domains` in a config is for envs without ground truth (level 1, docs/your_env.md)")
    try:
        spec = gymnasium.spec(env_id)
    except gymnasium.error.Error as err:
        raise KeyError(f"unknown environment {env_id!r} ({err}); register it with gymnasium, or give "
                       "'module:EnvId' so that its module is imported first") from None
    if not isinstance(domains, Mapping) or not domains:
        raise ValueError(f"domains of {env_id} must be a non-empty mapping of domain name to "
                         '{"kwargs": {...}, "wrappers": [...]}, the source first; got ' + repr(domains))
    accepted = _constructor_kwargs(spec)
    problems, checked = [], {}
    for name, entry in domains.items():
        where = f"domains.{name}"
        if not isinstance(name, str) or not name or name == "all":
            problems.append(f"{where}: a domain name is a non-empty string other than 'all'")
            continue
        if not isinstance(entry, Mapping) or set(entry) - set(DOMAIN_KEYS):
            problems.append(f"{where}: a domain is a mapping with keys {list(DOMAIN_KEYS)}, got {entry!r}")
            continue
        kwargs, spec_list = dict(entry.get("kwargs") or {}), list(entry.get("wrappers") or [])
        if not isinstance(entry.get("kwargs") or {}, Mapping):
            problems.append(f"{where}.kwargs must be a mapping of constructor arguments, got {entry['kwargs']!r}")
            continue
        unknown = sorted(set(kwargs) - accepted) if accepted is not None else []
        if unknown and accepted is not None:
            problems.append(f"{where}.kwargs: {env_id}'s constructor ({spec.entry_point}) accepts no "
                            f"{', '.join(map(repr, unknown))}; it accepts: {sorted(accepted - set(MAKE_KWARGS))}")
        try:
            wrappers.check_spec(spec_list)
        except wrappers.WrapperError as err:
            problems.append(f"{where}.wrappers: {err}")
        checked[name] = {"kwargs": kwargs, "wrappers": spec_list}
    if problems:
        raise ValueError(f"{env_id}: " + "; ".join(problems))
    shapes = {name: _observed_frames(env_id, name, domain, env_kwargs) for name, domain in checked.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"{env_id}: the domains observe frames of different shapes {shapes}; a policy trained on "
                         "the source acts unchanged on every domain, so give them one size (the resize wrapper)")
    return checked


def _constructor_kwargs(spec) -> set[str] | None:
    """The keyword arguments ``gymnasium.make(spec.id, ...)`` passes on and the env accepts; None
    when its constructor takes ``**kwargs`` (then anything may be passed)."""
    from gymnasium.envs.registration import load_env_creator

    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    try:
        params = inspect.signature(creator).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return {p for p, v in params.items() if v.kind != v.VAR_POSITIONAL} | set(MAKE_KWARGS)


def _observed_frames(env_id: str, name: str, domain: dict, env_kwargs: Mapping | None) -> tuple:
    """The frame shape one domain's env observes, or an error saying which wrapper would fix it."""
    where = f"{env_id} (domain {name!r})"
    try:
        env = _make_domain(env_id, domain, env_kwargs or {})
    except TypeError as err:  # a constructor taking **kwargs refuses an unknown one only when it runs
        given = sorted({**dict(env_kwargs or {}), **domain["kwargs"]})
        raise ValueError(f"{where}: the env cannot be made with the kwargs {given} (env_kwargs, then "
                         f"domains.{name}.kwargs): {str(err).split(' was raised from')[0]}; its constructor "
                         "takes **kwargs, so a kwarg it does not accept is only found when the env is made: check "
                         "the spelling against the env's documentation") from None
    try:
        space = env.observation_space
    finally:
        env.close()
    try:
        shape = wrappers.image_shape(space, "the vision stage")
        wrappers.check_frame_size(shape, f"the observations of {where}")
    except wrappers.WrapperError as err:
        message = str(err).replace("wrapper 'the vision stage' needs", f"{where}: the vision stage needs")
        raise ValueError(message) from None
    return tuple(int(n) for n in shape)


def _make_domain(env_id: str, domain: dict, env_kwargs: Mapping) -> gymnasium.Env:
    env = gymnasium.make(env_id, **{**dict(env_kwargs), **domain["kwargs"]})
    return wrappers.apply_wrappers(env, domain["wrappers"])


def _entry(name: str) -> EnvEntry:
    return ENVIRONMENTS.get(name)


def _kind(name: str) -> str | None:
    return ENVIRONMENTS.get(name).kind if name in ENVIRONMENTS else None


def available() -> dict[str, str]:
    """Every registered name (environments first, then datasets, then envs without ground truth)
    with its one-line description."""
    order = ("env", "dataset", "level1")
    return {name: e.description for name, e in sorted(ENVIRONMENTS.items(), key=lambda item: order.index(item[1].kind))}


def is_env(name: str) -> bool:
    return _kind(name) in ("env", "level1")


def has_ground_truth(name: str) -> bool:
    """Whether ``name`` has a FactorSpace (level 2); False for a level-1 env."""
    return _kind(name) != "level1"


def level1_domains(name: str) -> dict | None:
    """The kwargs and wrappers of each domain of a level-1 env (None for an env with ground truth)."""
    return dict(_entry(name).domains or {}) if _kind(name) == "level1" else None


def declared_domains(name: str, **kwargs) -> list[str]:
    """The domains an env or dataset declares, its training (source) domain first, at either level."""
    if _kind(name) == "level1":
        return list(_entry(name).domains or {})
    return make_factor_space(name, **kwargs).declared_domains


def env_version(name: str) -> int | None:
    """The version of a registered environment (``-v1`` → 1), recorded in each dataset's origin;
    None for procedural datasets, which have none."""
    return gymnasium.spec(name).version if is_env(name) else None


def check_name(name: str) -> None:
    ENVIRONMENTS.get(name)


def make_env(env_id: str, **kwargs) -> gymnasium.Env:
    """``gymnasium.make`` with the toolkit's error for an unknown id. For a level-1 env,
    ``domain`` (default: its source) selects the constructor kwargs and wrappers it is made with."""
    entry = _entry(env_id)
    if entry.kind == "level1":
        domains = dict(entry.domains or {})
        name = kwargs.pop("domain", None) or next(iter(domains))
        if name not in domains:
            raise ValueError(f"{env_id} has no domain {name!r}; its domains: {list(domains)}")
        return _make_domain(env_id, domains[name], kwargs)
    if entry.kind == "dataset":
        raise ValueError(f"{env_id!r} is a dataset, not an environment; environments: "
                         f"{sorted(name for name in ENVIRONMENTS if is_env(name))}")
    return gymnasium.make(env_id, **kwargs)


def make_factor_space(name: str, **kwargs) -> FactorSpace:
    """The ground-truth factor space of a registered environment or dataset."""
    entry = _entry(name)
    if entry.kind == "level1":
        raise NoGroundTruthError(
            f"{name} has no ground truth: it is a level-1 env, whose domains are sets of kwargs and wrappers "
            f"({list(entry.domains or {})}); factor sampling, the oracle variant and the disentanglement metrics need "
            "an env with a FactorSpace (level 2, see docs/your_env.md)")
    if callable(entry.factor_space):
        return entry.factor_space(**kwargs)
    if isinstance(entry.factor_space, str):
        module, function = entry.factor_space.split(":")
        return getattr(importlib.import_module(module), function)(**kwargs)
    env = gymnasium.make(name, **kwargs)
    try:
        space: FactorSpace = getattr(env.unwrapped, "factor_space")
        return space
    finally:
        env.close()
