"""Frame collection: stream frames with their ground-truth factors to a chunked HDF5 file (see
:mod:`envs.dataset`), by one of two *samplings*:

* ``rollout``: run a policy (uniform random by default) in an environment's domain. The frames are
  what an agent sees, with the agent's biases: a random walker in the Room faces a wall most of the
  time, and an object is in view in 30% of its frames.
* ``factors``: draw states uniformly from the domain of the factor space (restricted to the states
  the environment can be in) and render them with the exact renderer: no policy bias (46% of Room
  frames show an object). Labels never reach the vision model either way: only frames are trained on.

``auto`` (the default) is ``rollout`` for environments and ``factors`` for registered procedural
datasets, which have no dynamics, so every name ``darla envs`` lists can be collected the same way.
An env without ground truth (level 1, :func:`envs.registry.register_domains`) is collected by
rollout only; its dataset has zero factor columns.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from artifacts import package_version

from envs.dataset import DatasetWriter
from envs.registry import (NoGroundTruthError, check_name, env_version, has_ground_truth, is_env, level1_domains,
                           make_env, make_factor_space)

Policy = Callable[[np.ndarray, np.random.Generator], int]
BATCH = 256
SAMPLINGS = ("auto", "rollout", "factors")


def random_policy(action_space) -> Policy:
    return lambda obs, rng: int(rng.integers(action_space.n)) if hasattr(action_space, "n") \
        else action_space.sample()


def check_sampling(sampling: str) -> str:
    """``sampling`` itself, or an error listing the known ones."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r}; known: {', '.join(SAMPLINGS)} "
                         "(rollout: a random policy's frames; factors: uniform states drawn by the renderer)")
    return sampling


def resolve_sampling(env_id: str, sampling: str) -> str:
    """What ``auto`` means for ``env_id``: a rollout for an environment, factors for a dataset."""
    if sampling == "auto":
        return "rollout" if is_env(env_id) else "factors"
    return sampling


def collect(env_id: str, out: str | os.PathLike, frames: int, domain: str | None = None, seed: int = 0,
            policy: Policy | None = None, progress: bool = True, sampling: str = "auto", **env_kwargs) -> str:
    """Collect ``frames`` observations from ``env_id``'s ``domain`` (default: its training domain)
    into ``out``; returns the path.

    The file appears only once complete. ``sampling`` is one of :data:`SAMPLINGS` (see the module
    docstring). In a rollout, episodes restart on termination or truncation and the policy receives
    the observation and a generator seeded from ``seed``."""
    check_name(env_id)
    check_sampling(sampling)
    if frames < 1:
        raise ValueError(f"--frames must be positive, got {frames}")
    sampling = resolve_sampling(env_id, sampling)
    if not has_ground_truth(env_id):
        if sampling == "factors":
            raise NoGroundTruthError(f"sampling=factors draws states from a FactorSpace, and {env_id} has none "
                                     "(level 1); use sampling=rollout (or auto)")
        return _collect_level1(env_id, out, frames, domain, seed, policy, progress, env_kwargs)
    if sampling == "rollout" and not is_env(env_id):
        raise ValueError(f"{env_id!r} is a procedural dataset with no dynamics to roll out; use sampling=factors")
    if sampling == "factors" and policy is not None:
        raise ValueError("a policy only applies to sampling=rollout")
    space = make_factor_space(env_id, **env_kwargs)
    domain = space.domain(domain or space.training_domain).name  # unknown domain: fail before any file
    env = make_env(env_id, domain=domain, **env_kwargs) if is_env(env_id) else None
    domain_names = [d for d in space.domains if d != "all"]
    attrs = {"env_id": env_id, "domain": domain, "seed": seed, "sampling": sampling,
             "policy": "none" if sampling == "factors" else "random" if policy is None else
             getattr(policy, "__name__", type(policy).__name__), "factor_names": list(space.names),
             "factor_sizes": list(space.sizes), "domain_names": domain_names, "darla_version": package_version(),
             "env_kwargs": dict(env_kwargs), "env_version": env_version(env_id)}
    rng = np.random.default_rng(seed)
    bar = tqdm(total=frames, desc=f"collect {env_id}:{domain}", unit="frame", disable=not progress)
    with DatasetWriter(out, frames, space.observation_shape, space.num_factors, attrs) as writer:
        if sampling == "factors":
            batches = _sample_batches(space, domain, frames, rng)
        else:
            assert env is not None  # rollout sampling was checked to have an env above
            policy = policy or random_policy(env.action_space)
            batches = _rollout_batches(env, policy, frames, rng, seed)
        for obs, factors in batches:
            writer.write(obs, factors, space.domain_labels(factors, domain_names))
            bar.update(len(obs))
    bar.close()
    if env is not None:
        env.close()
    return str(out)


def _collect_level1(env_id: str, out, frames: int, domain: str | None, seed: int, policy: Policy | None,
                    progress: bool, env_kwargs: dict) -> str:
    """A random policy's rollout in one domain of an env without ground truth: frames only."""
    specs = level1_domains(env_id) or {}
    domains = list(specs)
    domain = domain or domains[0]
    if domain not in domains:
        raise ValueError(f"{env_id} has no domain {domain!r}; its domains: {domains}")
    env = make_env(env_id, domain=domain, **env_kwargs)
    attrs = {"env_id": env_id, "domain": domain, "seed": seed, "sampling": "rollout",
             "policy": "random" if policy is None else getattr(policy, "__name__", type(policy).__name__),
             "factor_names": [], "factor_sizes": [], "domain_names": domains, "darla_version": package_version(),
             "env_kwargs": dict(env_kwargs), "env_version": env_version(env_id),
             "domain_spec": specs[domain]}
    label = np.int8(domains.index(domain))
    bar = tqdm(total=frames, desc=f"collect {env_id}:{domain}", unit="frame", disable=not progress)
    try:
        with DatasetWriter(out, frames, tuple(env.observation_space.shape or ()), 0, attrs) as writer:
            for obs, factors in _rollout_batches(env, policy or random_policy(env.action_space), frames,
                                                 np.random.default_rng(seed), seed):
                writer.write(obs, factors, np.full(len(obs), label, np.int8))
                bar.update(len(obs))
    finally:
        bar.close()
        env.close()
    return str(out)


def _rollout_batches(env, policy: Policy, frames: int, rng: np.random.Generator, seed: int):
    obs, info = env.reset(seed=seed)
    n_factors = len(info["factors"]) if "factors" in info else 0  # none in a level-1 env
    shape = env.observation_space.shape
    done = 0
    while done < frames:
        count = min(BATCH, frames - done)
        batch_obs = np.empty((count, *shape), dtype=np.uint8)
        batch_factors = np.empty((count, n_factors), dtype=np.int64)
        for i in range(count):
            batch_obs[i] = obs
            if n_factors:
                batch_factors[i] = info["factors"]
            obs, _, terminated, truncated, info = env.step(policy(obs, rng))
            if terminated or truncated:
                obs, info = env.reset()
        done += count
        yield batch_obs, batch_factors


def _sample_batches(space, domain: str, frames: int, rng: np.random.Generator):
    for start in range(0, frames, BATCH):
        factors = space.sample(min(BATCH, frames - start), rng, domain=domain, reachable=True)
        yield space.render(factors), factors
