"""Concepts from ground truth: k-hot symbols over a factor space, (frame, symbol) samplers, and the
set algebra of SCAN's recombination operators (Higgins et al. 2018).

A *concept* is a set of factor values that a symbol names, ``{"shape": "heart", "scale": 5}``;
the factors it does not name are free. A :class:`Vocabulary` gives every value of every chosen
factor one unit, so a concept is a k-hot vector with one unit on per named factor (SCAN's symbol
input). :func:`sample_pairs` draws SCAN's few-examples-per-concept training set: a number of
concepts, each naming a random subset of the factors, and for each a few frames whose named
factors take the named values and whose other factors are drawn uniformly (so the frames show
what the concept leaves open). Ground truth only: nothing here knows about a vision model.

The operators act on concepts as sets of (factor, value) assignments::

    and        a ∪ b   (a and b name different factors, or agree where they overlap)
    in_common  a ∩ b   (the assignments both share)
    ignore     a \\ b   (a without the factors b names)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from envs.factors import FactorSpace

#: recombination operators, in the order of SCAN's one-hot conditioning vector
OPERATORS = ("and", "in_common", "ignore")

Concept = dict  # {factor name: value index}


def operator_index(name: str) -> int:
    """Position of operator ``name`` (``"AND"``, ``"in common"`` and ``"in_common"`` all work)."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in OPERATORS:
        raise ValueError(f"unknown recombination operator {name!r}; known: {', '.join(OPERATORS)}")
    return OPERATORS.index(key)


class Vocabulary:
    """One symbol unit per value of each of ``factors`` (default: every factor with > 1 value).

    Unit ``offset(f) + v`` stands for "factor f has value v"; :attr:`units` names them
    ``"factor=label"`` (label from the factor's labels, else the value index)."""

    def __init__(self, space: FactorSpace, factors: Sequence[str] | None = None):
        self.space = space
        if factors is None:
            factors = [f.name for f in space.factors if f.size > 1]
        factors = list(factors)
        if not factors:
            raise ValueError(f"a vocabulary needs at least one factor; this space has {list(space.names)}")
        for name in factors:
            if name not in space.names:
                raise ValueError(f"unknown factor {name!r} for the vocabulary; this space has {list(space.names)}")
        if len(set(factors)) != len(factors):
            raise ValueError(f"factors {factors} name one factor twice")
        self.factor_names: tuple[str, ...] = tuple(factors)
        self.columns = np.array([space.index(n) for n in factors], dtype=np.int64)
        self.factor_sizes: tuple[int, ...] = tuple(space.sizes[c] for c in self.columns)
        self.offsets = np.concatenate([[0], np.cumsum(self.factor_sizes)[:-1]]).astype(np.int64)
        self.size = int(sum(self.factor_sizes))
        self.units: tuple[str, ...] = tuple(
            f"{name}={self.value_label(name, v)}" for name, size in zip(factors, self.factor_sizes) for v in range(size))

    @property
    def groups(self) -> list[tuple[str, int]]:
        """``(factor, number of units)`` in unit order: the blocks a vision model decodes per factor."""
        return list(zip(self.factor_names, self.factor_sizes))

    def value_label(self, factor: str, value: int) -> str:
        labels = self.space.factors[self.space.index(factor)].labels
        return str(labels[value]) if labels is not None else str(value)

    def _valid_values(self, factor: str) -> str:
        size = self.factor_sizes[self.factor_names.index(factor)]
        labels = self.space.factors[self.space.index(factor)].labels
        shown = ", ".join(labels) if labels is not None and size <= 40 else ""
        return f"{shown} (or indices 0-{size - 1})" if shown else f"indices 0-{size - 1}"

    def check(self, concept: Mapping[str, int | str]) -> Concept:
        """``concept`` with every value as an index, checked: an empty concept, a factor outside the
        vocabulary or a value the factor lacks fails with the valid ones."""
        if not isinstance(concept, Mapping) or not concept:
            raise ValueError(f"an empty symbol names nothing; name at least one of the factors "
                             f"{list(self.factor_names)}, e.g. {{{self.factor_names[0]!r}: 0}}")
        out: Concept = {}
        for factor, value in concept.items():
            if factor not in self.factor_names:
                raise ValueError(f"the symbol names factor {factor!r}, which this vocabulary lacks; "
                                 f"valid factors: {list(self.factor_names)}")
            size = self.factor_sizes[self.factor_names.index(factor)]
            labels = self.space.factors[self.space.index(factor)].labels
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < size:
                out[factor] = int(value)
            elif isinstance(value, str) and labels is not None and value in labels:
                out[factor] = labels.index(value)
            elif isinstance(value, str) and value.isdigit() and int(value) < size:
                out[factor] = int(value)
            else:
                raise ValueError(f"factor {factor!r} has no value {value!r}; valid: {self._valid_values(factor)}")
        return out

    def parse(self, text: str) -> Concept:
        """``"shape=heart,scale=5"`` → a checked concept (the command line's spelling)."""
        pairs = [p.strip() for p in str(text).split(",") if p.strip()]
        concept: dict[str, str] = {}
        for pair in pairs:
            factor, eq, value = pair.partition("=")
            if not eq:
                raise ValueError(f"symbol part {pair!r} is not FACTOR=VALUE; factors: {list(self.factor_names)}")
            concept[factor.strip()] = value.strip()
        return self.check(concept)

    def encode(self, concepts: Sequence[Mapping[str, int | str]]) -> np.ndarray:
        """float32 [n, size] k-hot symbols of checked concepts."""
        out = np.zeros((len(concepts), self.size), np.float32)
        for i, concept in enumerate(concepts):
            for factor, value in self.check(concept).items():
                out[i, self.offsets[self.factor_names.index(factor)] + value] = 1.0
        return out

    def symbol(self, concept: Mapping[str, int | str]) -> np.ndarray:
        """float32 [size] k-hot symbol of one concept."""
        return self.encode([concept])[0]

    def decode(self, symbols: np.ndarray) -> list[Concept]:
        """k-hot [n, size] → concepts (at most one unit on per factor; checked)."""
        symbols = np.atleast_2d(np.asarray(symbols))
        if symbols.shape[1] != self.size:
            raise ValueError(f"symbols have {symbols.shape[1]} units, this vocabulary has {self.size}")
        out = []
        for row in symbols:
            concept: Concept = {}
            for name, off, size in zip(self.factor_names, self.offsets, self.factor_sizes):
                on = np.flatnonzero(row[off:off + size] > 0.5)
                if len(on) > 1:
                    raise ValueError(f"a symbol names factor {name!r} twice (values {list(on)})")
                if len(on):
                    concept[name] = int(on[0])
            out.append(concept)
        return out

    def describe(self, concept: Mapping[str, int]) -> str:
        """``"shape=heart, scale=1.0"``: a concept in words."""
        return ", ".join(f"{f}={self.value_label(f, v)}" for f, v in concept.items()) or "(nothing)"

    def from_factors(self, factors: np.ndarray, named: np.ndarray) -> np.ndarray:
        """k-hot symbols naming, for each frame's factor indices ``[n, K]``, the vocabulary factors
        where ``named`` (bool [n, len(factor_names)]) is true."""
        factors = self.space.check_factors(np.atleast_2d(factors))
        named = np.asarray(named, bool)
        out = np.zeros((len(factors), self.size), np.float32)
        rows, cols = np.nonzero(named)
        out[rows, self.offsets[cols] + factors[rows, self.columns[cols]]] = 1.0
        return out


def _named_range(named: int | Sequence[int], num_factors: int) -> tuple[int, int]:
    lo, hi = (named, named) if isinstance(named, (int, np.integer)) else tuple(named)
    if not 1 <= lo <= hi <= num_factors:
        raise ValueError(f"named={named!r}: a symbol names between 1 and {num_factors} factors "
                         "(an int, or a (min, max) pair)")
    return int(lo), int(hi)


def _key(concept: Mapping[str, int]) -> tuple:
    return tuple(sorted(concept.items()))


def has_states(space: FactorSpace, vocab: Vocabulary, concept: Mapping[str, int], domain: str | None = None,
               reachable: bool = True, draws: int = 512) -> bool:
    """Whether ``concept`` has reachable states in ``domain`` (default: the training domain), by a
    fixed-seed draw of ``draws`` states with the named values set. Why: in a space whose domains
    split factor values (the Room's source lacks two colours of each factor and some wall-floor
    pairs), a uniformly drawn concept may name values the training frames never show."""
    concept = vocab.check(concept)
    domain = domain or space.training_domain
    draw = space.sample_uniform(draws, np.random.default_rng(0))
    for factor, value in concept.items():
        draw[:, space.index(factor)] = value
    keep = np.asarray(space.domain(domain).contains(draw), bool)
    if reachable:
        keep &= space.reachable(draw)
    return bool(keep.any())


def sample_concepts(vocab: Vocabulary, n: int, rng: np.random.Generator, named: int | Sequence[int] = (1, 2),
                    exclude: Sequence[Mapping[str, int]] = (), distinct: bool = True,
                    within: str | None = None) -> list[Concept]:
    """``n`` concepts, each naming ``named`` factors (an int or an inclusive (min, max)) with
    uniform values; concepts in ``exclude`` (held-out test concepts) are never drawn. ``within``: a
    domain of ``vocab.space``; only concepts with reachable states there are kept (:func:`has_states`)."""
    lo, hi = _named_range(named, len(vocab.factor_names))
    if within is not None:
        vocab.space.domain(within)  # an unknown domain fails here, with the valid ones
    banned = {_key(vocab.check(c)) for c in exclude}
    out: list[Concept] = []
    seen: set = set()
    for _ in range(1000 * max(n, 1)):
        if len(out) == n:
            return out
        k = int(rng.integers(lo, hi + 1))
        picked = sorted(rng.choice(len(vocab.factor_names), size=k, replace=False))
        concept = {vocab.factor_names[i]: int(rng.integers(0, vocab.factor_sizes[i])) for i in picked}
        key = _key(concept)
        if key in banned or (distinct and key in seen):
            continue
        if within is not None and not _admissible(vocab, concept, within):
            continue
        seen.add(key)
        out.append(concept)
    where = f" with states in domain {within!r}" if within is not None else ""
    raise ValueError(f"could draw only {len(out)} of {n} distinct concepts naming {lo}-{hi} factors{where}; "
                     "ask for fewer concepts or allow more named factors")


_ADMISSIBLE: dict[tuple, bool] = {}


def _admissible(vocab: Vocabulary, concept: Mapping[str, int], domain: str) -> bool:
    key = (id(vocab.space), domain, _key(concept))
    if key not in _ADMISSIBLE:
        _ADMISSIBLE[key] = has_states(vocab.space, vocab, concept, domain)
    return _ADMISSIBLE[key]


def frames_of(space: FactorSpace, vocab: Vocabulary, concept: Mapping[str, int], n: int, rng: np.random.Generator,
              domain: str | None = None, reachable: bool = True) -> np.ndarray:
    """Factor indices ``[n, K]`` of ``n`` states with ``concept``'s named values, the other factors
    uniform over ``domain`` (default: the space's training domain) among reachable states."""
    concept = vocab.check(concept)
    domain = domain or space.training_domain
    cols = np.array([space.index(f) for f in concept], np.int64)
    vals = np.array(list(concept.values()), np.int64)
    out = np.empty((0, space.num_factors), np.int64)
    for _ in range(200):
        if len(out) >= n:
            return out[:n]
        draw = space.sample_uniform(max(4 * (n - len(out)), 32), rng)
        draw[:, cols] = vals
        keep = np.asarray(space.domain(domain).contains(draw), bool)
        if reachable:
            keep &= space.reachable(draw)
        out = np.concatenate([out, draw[keep]])
    raise ValueError(f"concept {{{vocab.describe(concept)}}} has (almost) no states in domain {domain!r}; "
                     "name values the domain holds")


@dataclass
class SymbolData:
    """SCAN's training set: frames, their full factors, the k-hot symbol naming part of each frame,
    and which of ``concepts`` each row illustrates."""

    frames: np.ndarray      # uint8 [n, H, W, C]
    factors: np.ndarray     # int64 [n, K] (every factor, named or not)
    symbols: np.ndarray     # float32 [n, vocab.size]
    concept_ids: np.ndarray  # int64 [n] into concepts
    concepts: list


def sample_pairs(space: FactorSpace, vocab: Vocabulary, num_concepts: int, examples_per_concept: int,
                 seed: int = 0, named: int | Sequence[int] = (1, 2), domain: str | None = None,
                 exclude: Sequence[Mapping[str, int]] = (), reachable: bool = True) -> SymbolData:
    """``num_concepts`` concepts (each naming ``named`` random factors), ``examples_per_concept``
    frames each: SCAN's few-examples-per-concept regime, seeded. ``exclude`` holds concepts back."""
    if num_concepts < 1 or examples_per_concept < 1:
        raise ValueError(f"need at least one concept and one example each, got {num_concepts} x {examples_per_concept}")
    rng = np.random.default_rng(seed)
    concepts = sample_concepts(vocab, num_concepts, rng, named, exclude, within=domain or space.training_domain)
    factors = np.concatenate([frames_of(space, vocab, c, examples_per_concept, rng, domain, reachable)
                              for c in concepts])
    symbols = np.repeat(vocab.encode(concepts), examples_per_concept, axis=0)
    ids = np.repeat(np.arange(num_concepts), examples_per_concept)
    return SymbolData(space.render(factors), factors, symbols, ids, concepts)


def combine(a: Mapping[str, int], b: Mapping[str, int], operator: str) -> Concept:
    """The ground-truth result of ``a OPERATOR b`` on concepts (see the module docstring)."""
    op = OPERATORS[operator_index(operator)]
    if op == "and":
        clash = [f for f in a if f in b and a[f] != b[f]]
        if clash:
            raise ValueError(f"AND of concepts that disagree on {clash}: a concept names one value per factor")
        return {**a, **b}
    if op == "in_common":
        return {f: v for f, v in a.items() if b.get(f) == v}
    return {f: v for f, v in a.items() if f not in b}


def sample_recombinations(vocab: Vocabulary, n: int, rng: np.random.Generator, operator: str,
                          named: int | Sequence[int] = (1, 2), exclude: Sequence[Mapping[str, int]] = (),
                          within: str | None = None) -> list[tuple[Concept, Concept, Concept]]:
    """``n`` triples ``(a, b, result)`` with ``combine(a, b, operator) == result``, the result naming
    ``named`` factors and never one of ``exclude``; the operands are built around the result as in
    SCAN's training: AND splits it in two, IN COMMON adds differing values of other factors to both,
    IGNORE adds other factors to ``a`` and names them in ``b``. ``within``: a domain of
    ``vocab.space``; the result and both operands then all have reachable states there (so a
    frame of the result can be rendered, and no operand names a value SCAN never saw)."""
    op = OPERATORS[operator_index(operator)]
    num = len(vocab.factor_names)
    lo, hi = _named_range(named, num)
    if op == "and":
        lo = max(lo, 2)
    elif hi >= num:
        hi = num - 1
    if lo > hi:
        raise ValueError(f"{op} needs {'two named factors' if op == 'and' else 'a factor left to add'}: "
                         f"named={named!r} over {num} factors leaves none")
    out = []
    for result in sample_concepts(vocab, n, rng, (lo, hi), exclude, distinct=False, within=within):
        for _ in range(1000):  # operands with states can be rare (the Room's held-out colour pairs)
            a, b = _operands(vocab, result, op, rng)
            if within is None or (_admissible(vocab, a, within) and _admissible(vocab, b, within)):
                break
        else:
            raise ValueError(f"{op}: found no operands with states in domain {within!r} for the result "
                             f"{{{vocab.describe(result)}}}")
        assert combine(a, b, op) == result
        out.append((a, b, dict(result)))
    return out


def _operands(vocab: Vocabulary, result: Concept, op: str, rng: np.random.Generator) -> tuple[Concept, Concept]:
    """Operands ``(a, b)`` with ``combine(a, b, op) == result`` (see :func:`sample_recombinations`)."""
    names = list(result)
    if op == "and":
        rng.shuffle(names)
        cut = int(rng.integers(1, len(names)))
        a, b = {f: result[f] for f in names[:cut]}, {f: result[f] for f in names[cut:]}
    else:
        free = [i for i, f in enumerate(vocab.factor_names) if f not in result]
        if op == "in_common":
            free = [i for i in free if vocab.factor_sizes[i] > 1]
        k = int(rng.integers(1, len(free) + 1)) if free else 0
        extra = [free[i] for i in sorted(rng.choice(len(free), size=k, replace=False))] if k else []
        if not extra:
            raise ValueError(f"{op} needs a factor outside the result with more than one value")
        if op == "in_common":
            va = {vocab.factor_names[i]: int(rng.integers(0, vocab.factor_sizes[i])) for i in extra}
            vb = {f: int((v + rng.integers(1, vocab.factor_sizes[vocab.factor_names.index(f)]))
                         % vocab.factor_sizes[vocab.factor_names.index(f)]) for f, v in va.items()}
            a, b = {**result, **va}, {**result, **vb}
        else:
            b = {vocab.factor_names[i]: int(rng.integers(0, vocab.factor_sizes[i])) for i in extra}
            a = {**result, **b}
    return a, b
