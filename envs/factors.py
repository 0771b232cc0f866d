"""Ground-truth factor spaces and domains: the contract between environments, datasets and metrics.

A :class:`FactorSpace` is a grid of discrete factors (continuous ones are binned) that fully
determines a rendered frame, the same contract as disentanglement_lib's ``GroundTruthData``:
``sample(n, rng)`` draws factor index vectors, ``render(factors)`` turns them into uint8 HWC frames.
A :class:`Domain` is a named subset of that grid (DARLA's source / target / out-of-distribution
splits); membership is a vectorised predicate over factor indices, so it is checkable and testable.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

FactorArray = np.ndarray  # int64[n, K] of factor indices, one column per factor


@dataclass(frozen=True)
class Factor:
    """One factor of variation: a name, its number of discrete values and optional value labels."""

    name: str
    size: int
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"factor {self.name!r} needs at least one value, got size={self.size}")
        if self.labels is not None and len(self.labels) != self.size:
            raise ValueError(f"factor {self.name!r}: {len(self.labels)} labels for {self.size} values")


class Domain:
    """A named subset of a factor space, defined by a vectorised predicate over factor indices.

    ``predicate(factors[n, K]) -> bool[n]``. Sampling is uniform over the members, by vectorised
    rejection from the uniform grid, so every built-in domain should hold a non-negligible share of it.
    """

    def __init__(self, name: str, predicate: Callable[[np.ndarray], np.ndarray], description: str = ""):
        self.name = name
        self.description = description
        self._predicate = predicate
        self.space: FactorSpace | None = None  # set when the domain is attached to a space

    def contains(self, factors: np.ndarray) -> np.ndarray | bool:
        """Membership of one factor vector (returns bool) or of a batch ``[n, K]`` (returns bool[n])."""
        factors = np.asarray(factors)
        single = factors.ndim == 1
        batch = np.atleast_2d(factors)
        if self.space is not None:
            self.space.check_factors(batch)
        inside = np.asarray(self._predicate(batch), dtype=bool)
        return bool(inside[0]) if single else inside

    def sample(self, n: int, rng: np.random.Generator) -> FactorArray:
        """``n`` factor vectors drawn uniformly from this domain's members."""
        if self.space is None:
            raise RuntimeError(f"domain {self.name!r} is not attached to a factor space")
        out = np.empty((0, self.space.num_factors), dtype=np.int64)
        for _ in range(1000):
            if len(out) >= n:
                return out[:n]
            draw = self.space.sample_uniform(max(2 * (n - len(out)), 16), rng)
            out = np.concatenate([out, draw[self._predicate(draw)]])
        raise RuntimeError(f"domain {self.name!r} is (nearly) empty: rejection sampling found {len(out)} of {n}")

    def __repr__(self) -> str:
        return f"Domain({self.name!r}: {self.description})"


class FactorSpace(abc.ABC):
    """A discrete grid of ground-truth factors that determines a frame, with named domains.

    Subclasses set ``factors`` (a sequence of :class:`Factor`), ``observation_shape`` (H, W, C) and
    implement :meth:`render`. Domains are optional; ``"all"`` (the whole grid) always exists.
    """

    factors: tuple[Factor, ...]
    observation_shape: tuple[int, int, int]
    view_factors: tuple[Factor, ...] = ()  # what :meth:`views` returns, column by column

    def __init__(self, factors: Sequence[Factor], observation_shape: Sequence[int],
                 domains: Sequence[Domain] = ()):
        self.factors = tuple(factors)
        h, w, c = (int(s) for s in observation_shape)  # (H, W, C)
        self.observation_shape = (h, w, c)
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate factor names: {names}")
        all_domain = Domain("all", lambda f: np.ones(len(f), dtype=bool), "every factor combination")
        self.domains: dict[str, Domain] = {}
        for domain in (all_domain, *domains):
            domain.space = self
            self.domains[domain.name] = domain

    @property
    def training_domain(self) -> str:
        """Where vision and agents learn: the first domain the space declares ("all" when it
        declares none). The others are the shifts a policy is evaluated on zero-shot."""
        return self.declared_domains[0]

    @property
    def declared_domains(self) -> list[str]:
        """Every domain the space declares, in order, the training one first ("all" when none)."""
        declared = [name for name in self.domains if name != "all"]
        return declared or ["all"]

    # -- shape of the grid -------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(f.size for f in self.factors)

    @property
    def num_factors(self) -> int:
        return len(self.factors)

    @property
    def num_combinations(self) -> int:
        return int(np.prod(self.sizes, dtype=np.float64))

    def index(self, name: str) -> int:
        """Column of the factor called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown factor {name!r}; this space has {list(self.names)}") from None

    # -- sampling and rendering --------------------------------------------------------------
    def domain(self, name: str) -> Domain:
        """The domain called ``name``; an unknown name fails with the list of known ones."""
        try:
            return self.domains[name]
        except KeyError:
            raise KeyError(f"unknown domain {name!r}; known domains: {sorted(self.domains)}") from None

    def sample_uniform(self, n: int, rng: np.random.Generator) -> FactorArray:
        """``n`` factor vectors, each factor uniform and independent over its whole grid."""
        return np.stack([rng.integers(0, s, size=n) for s in self.sizes], axis=1).astype(np.int64)

    def sample(self, n: int, rng: np.random.Generator, domain: str = "all", reachable: bool = False) -> FactorArray:
        """``n`` factor vectors drawn uniformly from ``domain`` (the whole grid by default);
        ``reachable=True`` keeps only states the environment can be in (:meth:`reachable`)."""
        if not reachable:
            return self.sample_uniform(n, rng) if domain == "all" else self.domain(domain).sample(n, rng)
        out = np.empty((0, self.num_factors), dtype=np.int64)
        for _ in range(1000):
            if len(out) >= n:
                return out[:n]
            draw = self.sample(max(2 * (n - len(out)), 16), rng, domain)
            out = np.concatenate([out, draw[self.reachable(draw)]])
        raise RuntimeError(f"rejection sampling found only {len(out)} of {n} reachable states in domain {domain!r}")

    def reachable(self, factors: np.ndarray) -> np.ndarray:
        """bool[n]: which factor vectors are states the environment can actually be in (all, by
        default; the Room never puts an object in the agent's cell or two objects in one cell)."""
        return np.ones(len(self.check_factors(np.atleast_2d(factors))), dtype=bool)

    @abc.abstractmethod
    def render(self, factors: np.ndarray) -> np.ndarray:
        """uint8[n, H, W, C] frames for factor indices ``[n, K]`` (deterministic)."""

    def views(self, factors: np.ndarray) -> FactorArray:
        """Ground truth the factors determine, as the observer sees it: int ``[n, len(view_factors)]``.

        A first-person env's factors live in the scene's frame (agent cell, object cell), but what a
        model of its frames can encode, and what a policy needs, is where things are in view. Views
        state that, for the ``probe`` metric and the ``oracle`` agent. None by default."""
        return np.zeros((len(self.check_factors(np.atleast_2d(factors))), 0), dtype=np.int64)

    def domain_labels(self, factors: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Index into ``names`` (default: every domain but "all") of the first domain holding each row; -1 if none."""
        names = list(names) if names is not None else [d for d in self.domains if d != "all"]
        factors = np.atleast_2d(factors)
        labels = np.full(len(factors), -1, dtype=np.int8)
        for i, name in reversed(list(enumerate(names))):
            labels[self.domain(name).contains(factors)] = i
        return labels

    def check_factors(self, factors: np.ndarray) -> np.ndarray:
        """Validate shape and range of a factor array, with an error that says what is wrong."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise ValueError(f"factors must have shape [n, {self.num_factors}] ({', '.join(self.names)}); "
                             f"got {factors.shape}")
        if not np.issubdtype(factors.dtype, np.integer):
            raise TypeError(f"factors are grid indices and must be integers, got dtype {factors.dtype}")
        if len(factors):
            low, high = factors.min(axis=0), factors.max(axis=0)
            for k, (lo, hi, size) in enumerate(zip(low, high, self.sizes)):
                if lo < 0 or hi >= size:
                    raise ValueError(f"factor {self.names[k]!r} takes values in [0, {size}), got [{lo}, {hi}]")
        return factors

    def describe(self) -> Mapping[str, object]:
        """A JSON-friendly summary: factor names and sizes, domains, observation shape."""
        return {
            "factors": {f.name: f.size for f in self.factors},
            "domains": {name: d.description for name, d in self.domains.items()},
            "observation_shape": list(self.observation_shape),
            "combinations": self.num_combinations,
        }
