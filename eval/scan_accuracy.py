"""How well a trained SCAN (``vision.scan``) names and imagines concepts, read by the transfer
probe's classifiers: the measurements of issue 18, shared by ``benchmarks/bench_scan.py`` and the
pipeline's optional ``scan`` stage.

Reading generated frames: one random forest per factor (10 trees, every feature per split,
min_samples_leaf 10, as ``eval.metrics.probe``) fit on the frozen vision model's posterior means
of ground-truth frames of the training domain; generated frames are encoded by the same model and
classified. The forests' accuracy on held-out real frames (``probe_ceiling``) bounds every number.

(a) sym2img: per named factor, the fraction of samples read as the named value; per unnamed factor,
    the normalised entropy H / log(size) of the values read over the samples (``real_frames``: the
    same statistics for real frames of the concept, its unnamed factors drawn from the domain).
(b) img2sym: per factor, top-1 accuracy of the most probable unit; unit precision/recall at p > 0.5.
(c) recombination: (a) for held-out concepts built by each learnt operator from concepts that
    name other values, and given directly as their ground-truth symbol (the paper's "test symbols").
    IN COMMON and IGNORE need a factor the concept leaves free (None when it names every factor).
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from envs.factors import FactorSpace
from envs.symbols import OPERATORS, Concept, Vocabulary, frames_of, has_states
from vision import scan


class Generator(Protocol):
    """A symbol-conditioned frame generator (the conditional-VAE baseline)."""

    def sym2img(self, symbols: np.ndarray, samples: int = 8, seed: int = 0) -> np.ndarray: ...


def classifiers(space: FactorSpace, vocab: Vocabulary, vision_model, seed: int, frames: int = 5000,
                domain: str | None = None) -> tuple[list, dict[str, float]]:
    """The probe's random forests on the frozen model's codes of ``frames`` ground-truth frames of
    ``domain`` (default: the training domain), and their accuracy on 2000 held-out frames."""
    from sklearn.ensemble import RandomForestClassifier

    domain = domain or space.training_domain
    rng = np.random.default_rng([seed, 11])
    train = space.sample(frames, rng, domain, reachable=True)
    test = space.sample(2000, rng, domain, reachable=True)
    codes_train = scan.encode_posterior(vision_model, space.render(train))[0]
    codes_test = scan.encode_posterior(vision_model, space.render(test))[0]
    forests, ceiling = [], {}
    for name, col in zip(vocab.factor_names, vocab.columns):
        forest = RandomForestClassifier(10, max_features=None, min_samples_leaf=10, random_state=seed, n_jobs=1)
        forest.fit(codes_train, train[:, col])
        forests.append(forest)
        ceiling[name] = float(forest.score(codes_test, test[:, col]))
    return forests, ceiling


def read(forests: list, vision_model, frames: np.ndarray) -> np.ndarray:
    """int [n, factors]: each vocabulary factor's value as the forests read it from uint8 frames."""
    codes = scan.encode_posterior(vision_model, frames)[0]
    return np.stack([f.predict(codes) for f in forests], 1)


def score(concepts: Sequence[Concept], generated: Sequence[np.ndarray] | np.ndarray, forests: list, vision_model,
          vocab: Vocabulary) -> dict[str, Any]:
    """Named accuracy (mean over concepts' named factors) and unnamed normalised entropy, for the
    frames ``generated[i]`` [samples, H, W, C] of each ``concepts[i]``."""
    named_hits: dict[str, list[float]] = {f: [] for f in vocab.factor_names}
    entropies: dict[str, list[float]] = {f: [] for f in vocab.factor_names}
    for concept, frames in zip(concepts, generated):
        values = read(forests, vision_model, frames)
        for k, (name, size) in enumerate(zip(vocab.factor_names, vocab.factor_sizes)):
            if name in concept:
                named_hits[name].append(float(np.mean(values[:, k] == concept[name])))
            else:
                p = np.bincount(values[:, k], minlength=size) / len(values)
                p = p[p > 0]
                entropies[name].append(float(-(p * np.log(p)).sum() / np.log(size)))
    acc = {f: float(np.mean(v)) for f, v in named_hits.items() if v}
    ent = {f: float(np.mean(v)) for f, v in entropies.items() if v}
    return {"named_accuracy": float(np.mean([h for v in named_hits.values() for h in v])), "per_factor": acc,
            "unnamed_entropy": float(np.mean([h for v in entropies.values() for h in v])) if ent else None,
            "entropy_per_factor": ent}


def operands(space: FactorSpace, vocab: Vocabulary, concept: Concept, op: str, rng: np.random.Generator,
             domain: str | None = None) -> tuple[Concept, Concept]:
    """Two concepts whose ``op`` is the two-factor ``concept``: AND splits it; IN COMMON adds
    differing values of another factor to each side; IGNORE adds one to the left and names it on
    the right. Both operands name only values with states in ``domain`` (SCAN saw them)."""
    names = list(concept)
    others = [k for k, f in enumerate(vocab.factor_names) if f not in concept and vocab.factor_sizes[k] > 1]
    for _ in range(1000):
        extra = vocab.factor_names[others[int(rng.integers(len(others)))]]
        size = vocab.factor_sizes[vocab.factor_names.index(extra)]
        u = int(rng.integers(size))
        if op == "and":
            a, b = {names[0]: concept[names[0]]}, {names[1]: concept[names[1]]}
        elif op == "in_common":
            a, b = {**concept, extra: u}, {**concept, extra: (u + 1 + int(rng.integers(size - 1))) % size}
        else:
            a, b = {**concept, extra: u}, {extra: u}
        if has_states(space, vocab, a, domain) and has_states(space, vocab, b, domain):
            return a, b
    raise ValueError(f"found no {op} operands with states in domain {domain!r} for {{{vocab.describe(concept)}}}")


def evaluate(space: FactorSpace, vocab: Vocabulary, model: scan.Scan, train_concepts: Sequence[Concept],
             heldout: Sequence[Concept], *, seed: int = 0, samples: int = 20, probe_frames: int = 5000,
             operators: Sequence[str] = OPERATORS, baseline: Generator | None = None,
             domain: str | None = None) -> dict[str, Any]:
    """(a), (b) and (c) of the module docstring for ``model`` (and the ``baseline``, when given):
    ``train_concepts`` are scored in (a), ``heldout`` two-factor concepts (never trained on) in (c)."""
    domain = domain or space.training_domain
    forests, ceiling = classifiers(space, vocab, model.vision, seed, probe_frames, domain)
    rng = np.random.default_rng([seed, 13])
    chance = {f: 1.0 / s for f, s in zip(vocab.factor_names, vocab.factor_sizes)}
    results: dict[str, Any] = {"probe_ceiling": ceiling, "chance": chance}

    symbols = vocab.encode(train_concepts)
    real = [space.render(frames_of(space, vocab, c, samples, rng, domain)) for c in train_concepts]
    results["a_sym2img_train_concepts"] = {
        "real_frames": score(train_concepts, real, forests, model.vision, vocab),
        "scan": score(train_concepts, model.sym2img(symbols, samples, seed=seed), forests, model.vision, vocab),
        "cvae": score(train_concepts, baseline.sym2img(symbols, samples, seed=seed), forests, model.vision, vocab)
        if baseline is not None else None}

    factors = space.sample(500, rng, domain, reachable=True)
    frames = space.render(factors)
    truth = factors[:, vocab.columns]
    probs = model.img2sym(frames)
    top1 = model.img2sym_values(frames)
    true_units = vocab.from_factors(factors, np.ones((len(factors), len(vocab.factor_names)), bool)) > 0.5
    predicted = probs > 0.5
    tp = (predicted & true_units).sum()
    results["b_img2sym"] = {
        "top1_per_factor": {f: float(np.mean(top1[:, k] == truth[:, k])) for k, f in enumerate(vocab.factor_names)},
        "precision_at_0.5": float(tp / max(predicted.sum(), 1)), "recall_at_0.5": float(tp / true_units.sum()),
        "mean_true_unit_probability": float(probs[true_units].mean()),
        "mean_other_unit_probability": float(probs[~true_units].mean())}

    recomb: dict[str, Any] = {}
    if heldout:
        heldout_symbols = vocab.encode(heldout)
        recomb["scan_test_symbols"] = score(heldout, model.sym2img(heldout_symbols, samples, seed=seed),
                                            forests, model.vision, vocab)
        if baseline is not None:
            recomb["cvae_test_symbols"] = score(heldout, baseline.sym2img(heldout_symbols, samples, seed=seed),
                                                forests, model.vision, vocab)
        for op in operators:
            # IN COMMON and IGNORE add a factor the concept leaves free: none is left when it names them all
            usable = [c for c in heldout if op == "and" or any(f not in c and n > 1 for f, n in vocab.groups)]
            if not usable:
                recomb[f"scan_{op}"] = None
                continue
            pairs = [operands(space, vocab, concept, op, rng, domain) for concept in usable]
            mu, logvar = model.recombine(vocab.encode([a for a, _ in pairs]), vocab.encode([b for _, b in pairs]), op)
            recomb[f"scan_{op}"] = score(usable, model.sym2img(concept=(mu, logvar), samples=samples, seed=seed),
                                         forests, model.vision, vocab)
    results["c_recombination_heldout"] = recomb
    results["heldout_concepts"] = [vocab.describe(c) for c in heldout]
    return results
