"""BetaVAE score (Higgins et al. 2017), as computed by disentanglement_lib.

A training point: pick a factor at random, draw two batches of ``batch_size`` factor vectors that
share that factor's value (pair by pair), and take the mean absolute difference of their codes. A
logistic regression predicts the fixed factor from that vector; the score is its accuracy on
``num_eval`` fresh points. Intervention-based, so it needs the factor space, not stored samples.

Within a ``domain``, the second batch's other factors are redrawn until each pair is inside it
(rejection sampling conditioned on the shared value).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Callable

import numpy as np
from numpy.typing import ArrayLike

from eval.metrics import utils
from eval.metrics.registry import register

if TYPE_CHECKING:
    from envs.factors import FactorSpace

_BLOCK = 64  # training points encoded together: 2 x 64 x batch_size frames per block


def _generate_points(space: FactorSpace, encode: Callable[[np.ndarray], np.ndarray], batch_size: int, num_points: int,
                     random_state: np.random.RandomState, domain: str,
                     encode_batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features[num_points, D], labels[num_points])`` in the reference's draw order.

    The reference draws (index, batch 1, batch 2) per point and encodes each batch separately;
    encoding uses no randomness, so points are drawn in blocks and their frames encoded together.
    """
    columns = utils.scored_factors(space, domain)
    features, labels = None, np.zeros(num_points, dtype=np.int64)
    for start in range(0, num_points, _BLOCK):
        count = min(_BLOCK, num_points - start)
        firsts, seconds = [], []
        for p in range(count):
            index = random_state.randint(len(columns))
            factors1 = utils.sample_factors(space, batch_size, random_state, domain)
            column = columns[index]
            factors2 = utils.sample_with_fixed(space, batch_size, random_state, domain, column,
                                               factors1[:, column])
            labels[start + p] = index
            firsts.append(factors1)
            seconds.append(factors2)
        codes = utils.encode_factors(space, encode, np.concatenate(firsts + seconds), encode_batch_size)
        half = count * batch_size
        diff = np.abs(codes[:half] - codes[half:]).reshape(count, batch_size, -1)
        if features is None:
            features = np.zeros((num_points, diff.shape[2]))
        features[start:start + count] = diff.mean(axis=1)
    if features is None:
        raise ValueError(f"num_points must be positive, got {num_points}")
    return features, labels


def beta_vae_from_features(train_features: ArrayLike, train_labels: ArrayLike, eval_features: ArrayLike,
                           eval_labels: ArrayLike, *, random_state: int | np.random.RandomState | None = 0) -> dict:
    """Accuracies of the reference's classifier on precomputed difference vectors and factor labels."""
    from sklearn import linear_model
    from sklearn.exceptions import ConvergenceWarning

    train_features = utils.check_codes(train_features, "train_features")
    eval_features = utils.check_codes(eval_features, "eval_features")
    train_labels, eval_labels = np.asarray(train_labels), np.asarray(eval_labels)
    if train_labels.shape != (len(train_features),) or eval_labels.shape != (len(eval_features),):
        raise ValueError("labels must be 1-D with one entry per feature vector")
    if len(np.unique(train_labels)) < 2:
        # Only one factor can be fixed (a single scored factor, or too few points): the classifier is
        # trivially right, which is the documented score of a one-factor space.
        only = train_labels[0]
        return {"train_accuracy": 1.0, "eval_accuracy": float(np.mean(eval_labels == only))}
    model = linear_model.LogisticRegression(random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_features, train_labels)
    return {"train_accuracy": float(np.mean(model.predict(train_features) == train_labels)),
            "eval_accuracy": float(model.score(eval_features, eval_labels))}


@register("beta_vae", paper="Higgins et al. 2017, beta-VAE: Learning Basic Visual Concepts with a "
                            "Constrained Variational Framework",
          description="accuracy of a linear classifier naming which factor was held fixed, from mean "
                      "absolute code differences of paired batches",
          core=beta_vae_from_features)
def beta_vae(space: utils.SpaceLike, encoder: utils.EncoderLike, rng_or_seed: utils.RngOrSeed = 0, *,
             batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
             domain: str | None = None, encode_batch_size: int = utils.DEFAULT_ENCODE_BATCH) -> dict:
    space = utils.resolve_space(space)
    random_state = utils.as_random_state(rng_or_seed)
    domain = utils.check_domain(space, domain)
    encode = utils.as_encode_fn(encoder)
    train = _generate_points(space, encode, batch_size, num_train, random_state, domain, encode_batch_size)
    # The reference fits the classifier here, before drawing the evaluation points; lbfgs draws
    # nothing from random_state, so drawing them next gives the same evaluation points.
    evals = _generate_points(space, encode, batch_size, num_eval, random_state, domain, encode_batch_size)
    return beta_vae_from_features(*train, *evals, random_state=random_state)
