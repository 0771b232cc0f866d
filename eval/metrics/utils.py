"""Shared machinery of the metrics: seeding, sampling (codes, factors) from a factor space, batched
encoding, input validation, histogram discretisation and discrete mutual information.

Sampling follows disentanglement_lib's order exactly so that the same seed gives the same samples:
factors are drawn column by column with ``RandomState.randint(size_k, size=n)``, in the same batch
sizes as the reference (16 points per draw for the code/factor metrics). Rendering and encoding use
no randomness, so they are batched freely (``encode_batch_size`` frames per encoder call) without
changing what is sampled.

Array conventions: codes are ``[n_points, n_codes]`` and factors ``int[n_points, n_factors]``, the
transposes of disentanglement_lib's ``mus`` / ``ys``.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, SupportsFloat, Union, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

if TYPE_CHECKING:
    from envs.factors import FactorSpace

DEFAULT_ENCODE_BATCH = 512


class EncodesFrames(Protocol):
    """An encoder object: ``encode(frames uint8[n, H, W, C]) -> codes[n, D]`` (an array or a tensor)."""

    def encode(self, frames: np.ndarray) -> Any: ...


#: What a metric takes as ``space``: a FactorSpace, or the name of a registered environment / dataset.
SpaceLike = Union["FactorSpace", str]
#: What a metric takes as ``encoder``: an object with ``encode``, or a callable ``frames -> codes``.
EncoderLike = Union[EncodesFrames, Callable[[np.ndarray], Any]]
#: What a metric takes as ``rng_or_seed`` (see :func:`as_random_state`).
RngOrSeed = Union[int, np.integer, np.random.RandomState, np.random.Generator]


# -- seeding ---------------------------------------------------------------------------------------
def as_random_state(rng_or_seed: RngOrSeed) -> np.random.RandomState:
    """A ``np.random.RandomState``: the reference's generator, so a seed reproduces its draws.

    An int seeds a fresh one; a RandomState is used as is (its draws continue); a ``Generator``
    seeds a RandomState from one draw (reproducible, but not the reference's stream).
    """
    if isinstance(rng_or_seed, np.random.RandomState):
        return rng_or_seed
    if isinstance(rng_or_seed, np.random.Generator):
        return np.random.RandomState(int(rng_or_seed.integers(0, 2**32 - 1)))
    if isinstance(rng_or_seed, numbers.Integral) and not isinstance(rng_or_seed, bool):
        return np.random.RandomState(int(rng_or_seed))
    raise TypeError(f"expected an int seed, a np.random.RandomState or a np.random.Generator; "
                    f"got {type(rng_or_seed).__name__}")


def derived_seed(random_state: np.random.RandomState) -> int:
    """An int seed for a scikit-learn estimator that the reference leaves unseeded.

    Taken from a *copy* of the state so the reference's sampling stream is not disturbed.
    """
    copy = np.random.RandomState()
    copy.set_state(random_state.get_state())
    return int(copy.randint(0, 2**31 - 1))


class LegacyGenerator:
    """A ``np.random.Generator``-shaped view of a ``RandomState`` for ``FactorSpace.sample``.

    ``FactorSpace.sample_uniform`` calls ``rng.integers(0, size_k, size=n)`` per factor; mapped to
    ``RandomState.randint(0, size_k, size=n)`` it draws exactly what disentanglement_lib's
    ``randint(size_k, size=n)`` draws. Other methods (random, choice, permutation, ...) pass through.
    """

    def __init__(self, random_state: np.random.RandomState):
        self.random_state = random_state

    def integers(self, low: int, high: int | None = None, size: int | tuple[int, ...] | None = None,
                 dtype: DTypeLike = np.int64, endpoint: bool = False) -> np.ndarray:
        if high is None:
            low, high = 0, low
        if endpoint:
            high = high + 1
        return self.random_state.randint(low, high, size=size).astype(dtype, copy=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.random_state, name)


# -- factor spaces ---------------------------------------------------------------------------------
DOMAIN_PROBE_POINTS = 4096  # draws that decide which factors vary inside a domain


def scored_factors(space: FactorSpace, domain: str = "all") -> list[int]:
    """Columns of the factors the metrics score: those with more than one value (in ``domain``).

    A single-valued factor carries no information (its entropy is 0, so MIG's normaliser is 0 and
    no classifier can be fit); disentanglement_lib likewise treats such factors (dSprites' colour) as
    observation-only. They are still rendered, just not scored. A domain can fix a factor that the
    space varies (Reach's ``source`` draws every frame in ``sim`` style): which factors vary there is
    read from ``DOMAIN_PROBE_POINTS`` draws of the domain by a fixed generator of its own, so the
    columns depend on the space and domain only and the metric's own draws are unchanged.
    """
    columns = [k for k, size in enumerate(space.sizes) if size > 1]
    if columns and domain != "all":
        probe = np.asarray(space.sample(DOMAIN_PROBE_POINTS, np.random.default_rng(0), domain=domain))
        columns = [k for k in columns if np.unique(probe[:, k]).size > 1]
    if not columns:
        where = f" in domain {domain!r}" if domain != "all" else ""
        raise ValueError(f"every factor of this space has a single value{where} "
                         f"({dict(zip(space.names, space.sizes))}); "
                         "disentanglement metrics need at least one factor that varies")
    return columns


def resolve_space(space: SpaceLike) -> FactorSpace:
    """A FactorSpace, or the registered environment / dataset of that name."""
    if isinstance(space, str):
        import envs  # noqa: F401  (registers environments and datasets)
        from envs.registry import make_factor_space
        return make_factor_space(space)
    for attr in ("sample", "render", "sizes"):
        if not hasattr(space, attr):
            raise TypeError(f"expected a FactorSpace (or a registered name), got {type(space).__name__} "
                            f"without {attr!r}")
    return space


def check_domain(space: FactorSpace, domain: str | None) -> str:
    """The domain name to sample from (``"all"`` when none is given); unknown names fail early."""
    if domain is None or domain == "all":
        return "all"
    space.domain(domain)  # raises KeyError listing the known domains
    return domain


def sample_factors(space: FactorSpace, num: int, random_state: np.random.RandomState,
                   domain: str = "all") -> np.ndarray:
    """``num`` full factor vectors (all columns), in the reference's draw order for ``domain="all"``."""
    rng = cast(np.random.Generator, LegacyGenerator(random_state))  # Generator-shaped: what sample() calls
    return np.asarray(space.sample(num, rng, domain=domain), dtype=np.int64)


def sample_with_fixed(space: FactorSpace, num: int, random_state: np.random.RandomState, domain: str,
                      column: int, values: ArrayLike) -> np.ndarray:
    """``num`` factor vectors with ``column`` set to ``values``, the others uniform within ``domain``.

    Without a domain this is the reference's "sample, then overwrite the column". Inside a domain the
    overwritten rows can leave it; those are redrawn (with the column fixed again) until they are in
    it, which is rejection sampling from the domain conditioned on the fixed value.
    """
    out = sample_factors(space, num, random_state, domain)
    values = np.broadcast_to(np.asarray(values, dtype=np.int64), (num,))
    out[:, column] = values
    if domain == "all":
        return out
    member = space.domain(domain)
    bad = ~np.asarray(member.contains(out))
    for _ in range(1000):
        if not bad.any():
            return out
        redraw = sample_factors(space, int(bad.sum()), random_state, domain)
        redraw[:, column] = values[bad]
        out[bad] = redraw
        bad[np.flatnonzero(bad)] = ~member.contains(redraw)
    raise RuntimeError(f"could not sample factors inside domain {domain!r} with factor "
                       f"{space.names[column]!r} fixed: that value is (almost) absent from the domain")


# -- encoders --------------------------------------------------------------------------------------
def as_encode_fn(encoder: EncoderLike) -> Callable[[np.ndarray], Any]:
    """``frames -> codes`` from an encoder object (``.encode``) or a plain callable."""
    fn = getattr(encoder, "encode", None)
    if callable(fn):
        return fn
    if callable(encoder):
        return encoder
    raise TypeError(f"an encoder needs encode(frames) -> codes, or must be a callable frames -> codes; "
                    f"got {type(encoder).__name__}")


def _check_encoded(codes: Any, n: int) -> np.ndarray:
    if hasattr(codes, "detach"):  # a torch tensor slipped through: accept it, on the CPU
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != n:
        raise ValueError(f"the encoder returned shape {codes.shape} for {n} frames; it must return "
                         f"[{n}, latent_dim] latent means")
    if not np.issubdtype(codes.dtype, np.floating):
        codes = codes.astype(np.float64)
    return codes


def encode_factors(space: FactorSpace, encode: Callable[[np.ndarray], Any], factors: np.ndarray,
                   encode_batch_size: int = DEFAULT_ENCODE_BATCH) -> np.ndarray:
    """Render ``factors`` and encode them, ``encode_batch_size`` frames per encoder call."""
    n = len(factors)
    out = None
    for start in range(0, n, encode_batch_size):
        chunk = factors[start:start + encode_batch_size]
        codes = _check_encoded(encode(space.render(chunk)), len(chunk))
        if out is None:
            out = np.empty((n, codes.shape[1]), dtype=codes.dtype)
        out[start:start + len(chunk)] = codes
    if out is None:
        raise ValueError("nothing to encode: the number of points must be positive")
    check_finite(out)
    return out


def generate_batch_factor_code(space: FactorSpace, encode: Callable[[np.ndarray], Any], num_points: int,
                               random_state: np.random.RandomState,
                               batch_size: int = 16, domain: str = "all",
                               encode_batch_size: int = DEFAULT_ENCODE_BATCH,
                               views: bool = False,
                               columns: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(codes[n, D], factors[n, K'])`` for ``num_points`` samples, K' = the scored factors of
    ``domain`` (or the given ``columns``: a shifted domain read with its training domain's factors),
    followed by the space's views (:meth:`~envs.factors.FactorSpace.views`) when ``views`` is set.

    Factors are drawn ``batch_size`` points at a time as disentanglement_lib's function of the same
    name does (its draws depend on the batch size), then rendered and encoded in large batches.
    """
    if num_points < 1:
        raise ValueError(f"num_points must be positive, got {num_points}")
    columns = list(columns) if columns is not None else scored_factors(space, domain)  # fail before any work
    draws = [sample_factors(space, min(batch_size, num_points - i), random_state, domain)
             for i in range(0, num_points, batch_size)]
    factors = np.concatenate(draws)
    codes = encode_factors(space, encode, factors, encode_batch_size)
    if views:
        return codes, np.hstack([factors[:, columns], space.views(factors)])
    return codes, factors[:, columns]


def sample_codes(space: SpaceLike, encoder: EncoderLike, rng_or_seed: RngOrSeed, num_points: int, batch_size: int,
                 domain: str | None,
                 encode_batch_size: int = DEFAULT_ENCODE_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The set-up of every single-sample metric: resolve the space, then ``(codes, factors)`` of
    ``num_points`` points drawn from ``domain`` with a ``RandomState`` made from ``rng_or_seed``."""
    space = resolve_space(space)
    return generate_batch_factor_code(space, as_encode_fn(encoder), num_points, as_random_state(rng_or_seed),
                                      batch_size, check_domain(space, domain), encode_batch_size)


def train_test_codes(space: SpaceLike, encoder: EncoderLike, rng_or_seed: RngOrSeed, num_train: int, num_test: int,
                     batch_size: int, domain: str | None, encode_batch_size: int = DEFAULT_ENCODE_BATCH,
                     views: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray],
                                                   np.random.RandomState]:
    """The set-up every train/test metric shares: resolve the space, then draw the train points and
    then the test points from one ``RandomState``, in disentanglement_lib's order.

    Returns ``(train, test, random_state)``; ``train`` and ``test`` are ``(codes, factors)``, and
    the state (advanced past both draws) seeds the metric's estimators."""
    space = resolve_space(space)
    random_state = as_random_state(rng_or_seed)
    domain_name = check_domain(space, domain)
    encode = as_encode_fn(encoder)
    train = generate_batch_factor_code(space, encode, num_train, random_state, batch_size, domain_name,
                                       encode_batch_size, views)
    test = generate_batch_factor_code(space, encode, num_test, random_state, batch_size, domain_name,
                                      encode_batch_size, views)
    return train, test, random_state


# -- validation ------------------------------------------------------------------------------------
def check_finite(codes: np.ndarray) -> None:
    """Reject NaN / inf codes: every metric is undefined on them, and sklearn would fail obscurely."""
    bad = ~np.isfinite(codes)
    if bad.any():
        dims = sorted(set(np.nonzero(bad)[1].tolist()))
        raise ValueError(f"the representation has {int(np.isnan(codes).sum())} NaN and "
                         f"{int(np.isinf(codes).sum())} infinite values (code dimensions {dims}); metrics are "
                         "undefined on them. Check the encoder / checkpoint (a diverged training gives NaNs).")


def check_codes(codes: ArrayLike, name: str = "codes") -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n_points, n_codes], got shape {codes.shape}"
                         + ("; for a single code pass codes[:, None]" if codes.ndim == 1 else ""))
    if codes.shape[0] < 2 or codes.shape[1] < 1:
        raise ValueError(f"{name} need at least 2 points and 1 code dimension, got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {codes.dtype}")
    check_finite(codes)
    return codes


def check_factors(factors: ArrayLike, num_points: int, name: str = "factors", varying: bool = True) -> np.ndarray:
    """Integer factor indices ``[n, K]`` with as many rows as the codes; each must vary if ``varying``."""
    factors = np.asarray(factors)
    if factors.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n_points, n_factors], got shape {factors.shape}"
                         + ("; for a single factor pass factors[:, None]" if factors.ndim == 1 else ""))
    if factors.shape[0] != num_points:
        raise ValueError(f"codes have {num_points} points but {name} have {factors.shape[0]}; pass the codes "
                         "and factors of the same samples (row i of both describes the same frame)")
    if not np.issubdtype(factors.dtype, np.integer):
        if np.issubdtype(factors.dtype, np.floating) and np.all(np.isfinite(factors)) \
                and np.all(factors == np.round(factors)):
            factors = factors.astype(np.int64)
        else:
            raise TypeError(f"{name} must be integer grid indices (discretise continuous factors first), "
                            f"got dtype {factors.dtype}")
    if varying:
        for k in range(factors.shape[1]):
            if np.all(factors[:, k] == factors[0, k]):
                raise ValueError(f"factor column {k} of {name} takes the single value {factors[0, k]} in these "
                                 "samples, so this score is undefined for it; drop that column (a constant "
                                 "factor carries no information) or sample more points")
    return factors


def check_pair(codes: ArrayLike, factors: ArrayLike, name: str = "") -> tuple[np.ndarray, np.ndarray]:
    codes = check_codes(codes, f"codes{name}")
    return codes, check_factors(factors, len(codes), f"factors{name}")


def check_train_test(codes_train: ArrayLike, factors_train: ArrayLike, codes_test: ArrayLike,
                     factors_test: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a train/test split: same code dimensions and the same factor columns in both."""
    codes_train, factors_train = check_pair(codes_train, factors_train, "_train")
    codes_test = check_codes(codes_test, "codes_test")
    factors_test = check_factors(factors_test, len(codes_test), "factors_test", varying=False)
    if codes_train.shape[1] != codes_test.shape[1]:
        raise ValueError(f"train codes have {codes_train.shape[1]} dimensions but test codes have "
                         f"{codes_test.shape[1]}; both must come from the same encoder")
    if factors_train.shape[1] != factors_test.shape[1]:
        raise ValueError(f"train factors have {factors_train.shape[1]} columns but test factors have "
                         f"{factors_test.shape[1]}")
    return codes_train, factors_train, codes_test, factors_test


# -- discretisation and information ----------------------------------------------------------------
def histogram_discretize(target: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Per column, the index (1..num_bins) of the equal-width bin over that column's own range.

    Exactly the reference's ``np.digitize(x, np.histogram(x, num_bins)[1][:-1])``, applied to the
    *scored* sample, column-wise (codes are ``[n, D]`` here). A constant column lands in one bin.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be at least 1, got {num_bins}")
    target = np.asarray(target)
    out = np.zeros(target.shape, dtype=np.int64)
    for i in range(target.shape[1]):
        edges = np.histogram_bin_edges(target[:, i], num_bins)
        out[:, i] = np.digitize(target[:, i], edges[:-1])
    return out


def _labels(x: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inverse = np.unique(x, return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def mutual_info(x: np.ndarray, y: np.ndarray) -> float:
    """Mutual information (nats) of two label vectors from their contingency table.

    The same plug-in estimate as ``sklearn.metrics.mutual_info_score`` (clipped at 0), computed with
    one ``bincount`` so the 10×5-pair matrices of MIG/modularity stay cheap.
    """
    a, na = _labels(x)
    b, nb = _labels(y)
    joint = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb)
    rows, cols = np.nonzero(joint)
    nz = joint[rows, cols].astype(np.float64)
    total = nz.sum()
    pi = joint.sum(axis=1)
    pj = joint.sum(axis=0)
    p_nz = nz / total
    outer = pi[rows].astype(np.int64) * pj[cols].astype(np.int64)
    log_outer = -np.log(outer) + np.log(pi.sum()) + np.log(pj.sum())
    terms = p_nz * (np.log(nz) - np.log(total)) + p_nz * log_outer
    terms = np.where(np.abs(terms) < np.finfo(terms.dtype).eps, 0.0, terms)  # as sklearn does
    return float(max(terms.sum(), 0.0))


def discrete_mutual_info(codes_discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``[n_codes, n_factors]`` matrix of mutual information between discretised codes and factors."""
    m = np.zeros((codes_discrete.shape[1], factors.shape[1]))
    for i in range(codes_discrete.shape[1]):
        for j in range(factors.shape[1]):
            m[i, j] = mutual_info(factors[:, j], codes_discrete[:, i])
    return m


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each factor column: its mutual information with itself."""
    return np.array([mutual_info(factors[:, j], factors[:, j]) for j in range(factors.shape[1])])


#: A code is constant when its range is below this fraction of its magnitude: a code that should be
#: constant still varies by a few float32 ulps (about 1e-7 relative) when it was computed in float32.
CONSTANT_RTOL = 1e-6


def varying_codes(codes: np.ndarray, rtol: float = CONSTANT_RTOL) -> np.ndarray:
    """Mask of the code columns whose range exceeds ``rtol`` times their largest absolute value.

    ``var > 0`` counts a constant code carrying floating-point rounding noise as active; measuring
    the range against the code's own scale does not, whatever the code's units.
    """
    codes = np.asarray(codes, dtype=np.float64)
    return np.ptp(codes, axis=0) > rtol * np.max(np.abs(codes), axis=0)


def normalize_data(data: np.ndarray, mean: np.ndarray | None = None,
                   stddev: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise each code column; a constant column (std 0) is centred, not divided by zero.

    The reference divides by 0 there and feeds NaNs to its classifier; for non-constant codes the
    two agree exactly.
    """
    if mean is None:
        mean = np.mean(data, axis=0)
    if stddev is None:
        stddev = np.std(data, axis=0)
    safe = np.where(stddev > 0, stddev, 1.0)
    return (data - mean) / safe, mean, stddev


def as_float(value: SupportsFloat) -> float | int:
    """A plain Python number for JSON (numpy scalars are not JSON-serialisable)."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return float(value)


def to_plain(scores: dict) -> dict:
    """The same scores as plain Python numbers / lists, so results serialise to JSON as they are."""
    out: dict[str, Any] = {}
    for key, value in scores.items():
        if isinstance(value, dict):
            out[key] = to_plain(value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            out[key] = np.asarray(value).tolist()
        elif isinstance(value, str):
            out[key] = value
        else:
            out[key] = as_float(value)
    return out
