"""Transfer probe: does each factor's reading, learned on one domain, still hold on another?

DARLA's argument for zero-shot transfer is that a disentangled encoder maps a target-domain frame
(an unseen *combination* of factor values) to latents a source-trained policy already understands.
This probe tests that directly, without RL: one classifier per factor is fit on codes of
``domain`` frames, then scored on held-out ``domain`` codes (``accuracy.<factor>``, what DCI's
informativeness measures) and on codes of each of ``transfer_domains`` (``<domain>.<factor>``; by
default every other domain the space defines, so ``target`` and ``ood`` when fit on the Room's ``source``).
A factor the encoder ignores sits at its majority-class rate (``chance.<factor>``) in both; one it
encodes in an entangled way drops on the target. Scores are accuracies in [0, 1], with means over
factors (``mean_accuracy``, ``mean_<domain>``).

The space's views (:meth:`~envs.factors.FactorSpace.views`) are probed too, after the factors. For
a first-person env they matter most: the Room's object cells are allocentric, and a model of its
frames can only encode where each object is *in view* (``hat_bearing``, ``hat_distance``...).
Views are left out of the means, which stay comparable across spaces with and without them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register


def probe_from_codes(codes_train: ArrayLike, factors_train: ArrayLike, codes_test: ArrayLike, factors_test: ArrayLike,
                     shifted: dict | None = None, *,
                     names: Sequence[str] | None = None, seed: int = 0, trees: int = 10, min_samples_leaf: int = 10,
                     num_averaged: int | None = None) -> dict:
    """Per-factor random-forest accuracy on a same-domain test set and on each ``shifted`` set.

    ``shifted`` maps a domain name to its ``(codes, factors)``; ``names`` labels the factor columns
    (``factor0``, ``factor1``... by default). Every split considers every code (``max_features=None``):
    with random feature subsets, trees also split on codes of factors that the train domain's holes
    correlate with the probed one, and a perfectly factorised code then lost a third of its target
    accuracy on held-out pairs. The means cover the first ``num_averaged`` columns (all by default)."""
    from sklearn.ensemble import RandomForestClassifier

    codes_train, factors_train, codes_test, factors_test = utils.check_train_test(
        codes_train, factors_train, codes_test, factors_test)
    shifted = {name: utils.check_train_test(codes_train, factors_train, c, f)[2:]
               for name, (c, f) in (shifted or {}).items()}
    names = list(names) if names is not None else [f"factor{k}" for k in range(factors_train.shape[1])]
    if len(names) != factors_train.shape[1]:
        raise ValueError(f"{len(names)} names for {factors_train.shape[1]} factor columns")
    scores: dict[str, float] = {}
    for k, name in enumerate(names):
        classifier = RandomForestClassifier(trees, max_features=None, min_samples_leaf=min_samples_leaf,
                                            random_state=seed + k, n_jobs=1)
        classifier.fit(codes_train, factors_train[:, k])
        scores[f"accuracy.{name}"] = classifier.score(codes_test, factors_test[:, k])
        scores[f"chance.{name}"] = np.bincount(factors_test[:, k]).max() / len(factors_test)
        for domain, (codes, factors) in shifted.items():
            scores[f"{domain}.{name}"] = classifier.score(codes, factors[:, k])
    averaged = names[:num_averaged]
    scores["mean_accuracy"] = float(np.mean([scores[f"accuracy.{n}"] for n in averaged]))
    for domain in shifted:
        scores[f"mean_{domain}"] = float(np.mean([scores[f"{domain}.{n}"] for n in averaged]))
    return scores


@register("probe", paper="DARLA's transfer argument (Higgins et al. 2017), tested per factor",
          description="per-factor classifiers fit on one domain's codes, scored on held-out codes of that "
                      "domain and of shifted domains: which factors the vision encodes, and whether that "
                      "reading survives the shift",
          core=probe_from_codes)
def probe(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
          num_train: int = 5000, num_test: int = 2000, batch_size: int = 16,
          domain: str | None = None, transfer_domains: Sequence[str] | None = None, trees: int = 10,
          min_samples_leaf: int = 10, encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    space = utils.resolve_space(space)
    if transfer_domains is None:  # every other domain the space defines
        transfer_domains = [name for name in space.domains if name not in ("all", domain)]
    train, test, random_state = utils.train_test_codes(space, encoder, rng_or_seed, num_train, num_test, batch_size,
                                                       domain, encode_batch_size, views=True)
    columns = utils.scored_factors(space, utils.check_domain(space, domain))  # the fit domain's varying factors
    shifted = {name: utils.generate_batch_factor_code(space, utils.as_encode_fn(encoder), num_test, random_state,
                                                      batch_size, utils.check_domain(space, name), encode_batch_size,
                                                      views=True, columns=columns)
               for name in transfer_domains}
    names = [space.names[k] for k in columns]
    return probe_from_codes(*train, *test, shifted, names=names + [v.name for v in space.view_factors],
                            seed=utils.derived_seed(random_state), trees=trees, min_samples_leaf=min_samples_leaf,
                            num_averaged=len(names))
