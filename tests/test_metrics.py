"""Known answers, invariances, hand-checked cases and bad input for eval.metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics

import eval.metrics as M
from eval.metrics import utils
from eval.metrics.dci import completeness, disentanglement
from eval.metrics.factor_vae import votes_from_batches
from eval.metrics.irs import scalable_disentanglement_score
from eval.metrics.modularity import modularity
from eval.metrics.sap import avg_diff_top_two
from eval.metrics.synthetic import FactorGrid, LinearFactorEncoder, permuted_scaled_identity, random_rotation
from eval.metrics.udr import relative_strength_disentanglement
from envs.factors import Domain

SIZES = (3, 6, 10, 8)
K = len(SIZES)
SMALL = {  # small but not degenerate settings, so the whole file runs in well under a minute
    "beta_vae": dict(num_train=300, num_eval=200, batch_size=16),
    "factor_vae": dict(num_train=300, num_eval=200, batch_size=16, num_variance_estimate=1000),
    "mig": dict(num_train=2000),
    "dci": dict(num_train=1000, num_test=500, importance="forest"),
    "sap": dict(num_train=1000, num_test=500),
    "modularity": dict(num_train=1000, num_test=500),
    "irs": dict(num_train=2000),
    "unsupervised": dict(num_train=2000),
}


@pytest.fixture(scope="module")
def space():
    return FactorGrid(SIZES)


def encoder(matrix, noise_dims=0, seed=0, noise_scale=1.0):
    return LinearFactorEncoder(SIZES, matrix, noise_dims=noise_dims, noise_scale=noise_scale, seed=seed)


def run(name, space, enc, seed=0, **extra):
    return M.get(name)(space, enc, seed, **{**SMALL[name], **extra})


@pytest.fixture(scope="module")
def copy_scores(space):
    enc = encoder(permuted_scaled_identity(K, seed=3), noise_dims=2)
    return {name: run(name, space, enc) for name in SMALL}


@pytest.fixture(scope="module")
def rotated_scores(space):
    enc = encoder(random_rotation(K, seed=1) @ np.diag([1.0, 1.5, 0.7, 2.0]), noise_dims=2)
    return {name: run(name, space, enc) for name in ("mig", "dci", "sap")}


# -- known answers ------------------------------------------------------------------------------------
def test_copy_of_factors_scores_near_one(copy_scores):
    assert copy_scores["mig"]["discrete_mig"] > 0.95
    assert copy_scores["dci"]["disentanglement"] > 0.95
    assert copy_scores["dci"]["completeness"] > 0.95
    assert copy_scores["dci"]["informativeness_test"] > 0.98
    assert copy_scores["factor_vae"]["eval_accuracy"] == 1.0
    assert copy_scores["factor_vae"]["num_active_dims"] == K + 2
    assert copy_scores["beta_vae"]["eval_accuracy"] > 0.97
    assert copy_scores["modularity"]["explicitness_score_test"] > 0.95


def test_rotation_scores_clearly_lower(copy_scores, rotated_scores):
    assert rotated_scores["mig"]["discrete_mig"] < copy_scores["mig"]["discrete_mig"] - 0.4
    assert rotated_scores["dci"]["disentanglement"] < copy_scores["dci"]["disentanglement"] - 0.4
    assert rotated_scores["dci"]["completeness"] < copy_scores["dci"]["completeness"] - 0.4
    assert rotated_scores["sap"]["SAP_score"] < copy_scores["sap"]["SAP_score"] - 0.1
    # the information is still there: prediction stays far above chance (mean chance ~0.2 here)
    assert rotated_scores["dci"]["informativeness_test"] > 0.5


def test_duplicated_factors_zero_mig_and_lower_completeness(space, copy_scores):
    enc = encoder(np.concatenate([np.eye(K), np.diag([2.0, 0.5, 1.5, 3.0])], axis=1))
    assert run("mig", space, enc)["discrete_mig"] == pytest.approx(0.0, abs=1e-12)
    dup = run("dci", space, enc)
    assert dup["completeness"] < copy_scores["dci"]["completeness"] - 0.2
    assert dup["disentanglement"] > 0.9  # each code still explains one factor


def test_gbt_reference_importance_on_copy(space):
    enc = encoder(permuted_scaled_identity(K, seed=2), noise_dims=1)
    scores = run("dci", space, enc, num_train=400, num_test=200, importance="gbt")
    assert scores["disentanglement"] > 0.9 and scores["completeness"] > 0.9


@pytest.mark.parametrize("name", sorted(SMALL))
def test_constant_codes_give_finite_numbers(space, name):
    matrix = np.concatenate([permuted_scaled_identity(K), np.zeros((K, 2))], axis=1)  # 2 constant codes
    scores = run(name, space, encoder(matrix))
    assert all(np.isfinite(v) for v in scores.values()), scores


@pytest.mark.parametrize("name", sorted(SMALL))
def test_all_constant_representation_is_finite(space, name):
    scores = run(name, space, lambda frames: np.zeros((len(frames), 3), np.float32))
    assert all(np.isfinite(v) for v in scores.values()), scores


def test_constant_codes_documented_results(space):
    constant = lambda frames: np.zeros((len(frames), 3), np.float32)  # noqa: E731
    assert run("factor_vae", space, constant) == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    assert run("irs", space, constant) == {"IRS": 0.0, "num_active_dims": 0}
    assert run("mig", space, constant)["discrete_mig"] == 0.0
    mod = run("modularity", space, constant)
    assert mod["modularity_score"] == 0.0 and mod["num_informative_codes"] == 0


def _with_noisy_constant(enc, value):
    """``enc``'s codes plus a code that is ``value`` up to rounding: (value * t) / t in float32."""
    def encode(frames):
        codes = enc.encode(frames)
        t = (1.1 + codes[:, :1] + 0.37 * codes[:, 1:2]).astype(np.float32)
        return np.concatenate([codes, (np.float32(value) * t) / t], axis=1)
    return encode


@pytest.mark.parametrize("value", [0.7, 1e8])
def test_irs_does_not_count_a_constant_code_with_rounding_noise(space, value):
    enc = encoder(permuted_scaled_identity(K, seed=3))
    noisy = _with_noisy_constant(enc, value)
    codes, factors = utils.generate_batch_factor_code(space, noisy, 2000, np.random.RandomState(0))
    assert codes[:, -1].var() > 0  # the old criterion (variance > 0) counted it
    with_noise = M.irs_from_codes(codes, factors)
    without = M.irs_from_codes(codes[:, :-1], factors)
    assert with_noise["num_active_dims"] == K
    assert with_noise["IRS"] == without["IRS"]
    # a genuinely varying code far from 0 still counts (range 1e-5 of its magnitude)
    shifted = codes.astype(np.float64)
    shifted[:, -1] = 1e3 + 1e-2 * factors[:, 0]
    assert M.irs_from_codes(shifted, factors)["num_active_dims"] == K + 1


def test_factor_vae_prunes_a_large_constant_code_with_rounding_noise(space):
    enc = encoder(permuted_scaled_identity(K, seed=3))
    noisy = _with_noisy_constant(enc, 1e8)
    assert np.std(noisy(space.render(space.sample(500, np.random.default_rng(0))))[:, -1]) > 0.05  # not pruned by std
    a, b = run("factor_vae", space, noisy), run("factor_vae", space, enc)
    assert a["num_active_dims"] == b["num_active_dims"] == K


def test_varying_codes_is_relative_to_each_code():
    x = np.linspace(0, 1, 50)
    codes = np.stack([x, 1e9 + 1e4 * x, np.full(50, 3.0), 1e-12 * x, (0.7 + 13 * x) - 13 * x], axis=1)
    np.testing.assert_array_equal(utils.varying_codes(codes), [True, True, False, True, False])


def test_modularity_ignores_constant_codes(space):
    base = permuted_scaled_identity(K)
    with_constant = np.concatenate([base, np.zeros((K, 3))], axis=1)
    a = run("modularity", space, encoder(base))
    b = run("modularity", space, encoder(with_constant))
    assert a["modularity_score"] == pytest.approx(b["modularity_score"], abs=1e-12)
    assert b["num_informative_codes"] == K


# -- invariances (array-level, same samples) -----------------------------------------------------------
@pytest.fixture(scope="module")
def arrays(space):
    rs = np.random.RandomState(0)
    enc = encoder(random_rotation(K, 4)[:, :3] @ np.diag([1.0, 2.0, 0.5]) + 0.3 * np.eye(K)[:, :3], noise_dims=2)
    train = utils.generate_batch_factor_code(space, enc.encode, 1500, rs)
    test = utils.generate_batch_factor_code(space, enc.encode, 600, rs)
    return train, test


def _transform(codes, scales, perm):
    return (codes * scales)[:, perm]


SCALES = np.array([2.0, 0.3, 5.0, 1.7, 0.9])
PERM = np.array([3, 0, 4, 2, 1])


@pytest.mark.parametrize("scales,perm", [(SCALES, np.arange(5)), (np.ones(5), PERM), (SCALES, PERM)])
def test_mig_modularity_unsupervised_mi_invariant_to_rescaling_and_permutation(arrays, scales, perm):
    (c, f), (ct, ft) = arrays
    t, tt = _transform(c, scales, perm), _transform(ct, scales, perm)
    assert M.mig_from_codes(t, f) == pytest.approx(M.mig_from_codes(c, f), abs=1e-12)
    a, b = M.modularity_explicitness_from_codes(c, f, ct, ft), M.modularity_explicitness_from_codes(t, f, tt, ft)
    assert b["modularity_score"] == pytest.approx(a["modularity_score"], abs=1e-12)
    assert b["explicitness_score_test"] == pytest.approx(a["explicitness_score_test"], abs=2e-3)
    ua, ub = M.unsupervised_from_codes(c), M.unsupervised_from_codes(t)
    assert ub["mutual_info_score"] == pytest.approx(ua["mutual_info_score"], abs=1e-12)
    assert ub["gaussian_total_correlation"] == pytest.approx(ua["gaussian_total_correlation"], rel=1e-9)


def test_wasserstein_correlation_is_not_scale_invariant(arrays):
    (c, _), _ = arrays
    a, b = M.unsupervised_from_codes(c), M.unsupervised_from_codes(c * SCALES)
    assert abs(a["gaussian_wasserstein_correlation"] - b["gaussian_wasserstein_correlation"]) > 1e-3


def test_sap_invariant_to_permutation(arrays):
    (c, f), (ct, ft) = arrays
    assert M.sap_from_codes(c[:, PERM], f, ct[:, PERM], ft)["SAP_score"] == pytest.approx(
        M.sap_from_codes(c, f, ct, ft)["SAP_score"], abs=1e-12)


def test_irs_invariant_to_permutation_and_uniform_scale(arrays):
    (c, f), _ = arrays
    ref = M.irs_from_codes(c, f)["IRS"]
    assert M.irs_from_codes(c[:, PERM] * 3.0, f)["IRS"] == pytest.approx(ref, rel=1e-6)  # float32 codes


@pytest.mark.parametrize("importance", ["forest", "gbt"])
def test_dci_invariant_to_rescaling_and_close_under_permutation(arrays, importance):
    (c, f), (ct, ft) = arrays
    n, nt = (500, 200) if importance == "gbt" else (len(c), len(ct))
    c, f, ct, ft = c[:n], f[:n], ct[:nt], ft[:nt]
    ref = M.dci_from_codes(c, f, ct, ft, importance=importance)
    scaled = M.dci_from_codes(c * SCALES, f, ct * SCALES, ft, importance=importance)
    for key in ref:
        assert scaled[key] == pytest.approx(ref[key], abs=1e-9), key
    permuted = M.dci_from_codes(c[:, PERM], f, ct[:, PERM], ft, importance=importance)
    for key in ("disentanglement", "completeness"):  # tie-breaking between features may differ slightly
        assert permuted[key] == pytest.approx(ref[key], abs=0.03), key


def test_factor_vae_invariant_to_rescaling_and_permutation(space):
    base = np.concatenate([permuted_scaled_identity(K), random_rotation(K, 5)[:, :2]], axis=1)
    ref = run("factor_vae", space, encoder(base))
    transformed = run("factor_vae", space, encoder((base * np.array([3, 0.5, 2, 1.5, 4, 0.7]))[:, [5, 2, 0, 4, 1, 3]]))
    assert transformed == ref


# -- tiny cases by hand ----------------------------------------------------------------------------------
def test_mutual_info_matches_sklearn():
    rs = np.random.RandomState(0)
    for _ in range(5):
        x, y = rs.randint(0, 7, 300), rs.randint(0, 4, 300)
        y[:100] = x[:100] % 4
        assert utils.mutual_info(x, y) == pytest.approx(sklearn.metrics.mutual_info_score(x, y), abs=1e-14)
    assert utils.mutual_info(np.zeros(10), np.arange(10)) == 0.0


def test_histogram_discretize_matches_reference_expression():
    rs = np.random.RandomState(1)
    codes = np.concatenate([rs.normal(size=(500, 3)), np.full((500, 1), 2.5)], axis=1).astype(np.float32)
    ours = utils.histogram_discretize(codes, 20)
    for i in range(codes.shape[1]):
        ref = np.digitize(codes[:, i], np.histogram(codes[:, i], 20)[1][:-1])
        np.testing.assert_array_equal(ours[:, i], ref)
    assert ours[:, 3].min() == ours[:, 3].max()  # a constant code falls into a single bin
    assert ours[:, 0].min() == 1 and ours[:, 0].max() == 20


def test_mig_by_hand():
    # Code 0 copies the binary factor, code 1 is half informative (3 of 4 points), code 2 constant.
    factors = np.array([[0], [0], [1], [1]])
    codes = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    h = np.log(2)
    i1 = 0.75 * np.log(0.75 / 0.5 / 0.75) * 0 + (0.25 * np.log(0.25 / (0.5 * 0.25)) + 0.25 * np.log(0.25 / (0.5 * 0.75))
                                                  + 0.5 * np.log(0.5 / (0.5 * 0.75)))
    assert M.mig_from_codes(codes, factors, num_bins=2)["discrete_mig"] == pytest.approx((h - i1) / h, abs=1e-12)


def test_dci_by_hand():
    assert disentanglement(np.eye(3)) == pytest.approx(1.0, abs=1e-6)
    assert completeness(np.eye(3)) == pytest.approx(1.0, abs=1e-6)
    assert disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-6)
    assert completeness(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-6)
    # two codes share factor 0 equally, one code has factor 1: D = 1, C = (1/2 weight) * (1 - log_3 2) + 1/2 * 1
    r = np.array([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]])
    assert disentanglement(r) == pytest.approx(1.0, abs=1e-6)
    assert completeness(r) == pytest.approx(0.5 * (1 - np.log(2) / np.log(3)) + 0.5, abs=1e-6)
    assert M.dci_from_importance(np.zeros((2, 2))) == pytest.approx({"disentanglement": 0.0, "completeness": 0.0},
                                                                    abs=1e-6)
    assert M.dci_from_importance(np.array([[1.0], [0.0]]))["disentanglement"] == 1.0  # one factor


def test_modularity_by_hand():
    # code 0 informs factor 0 only; code 1 equally about both (delta = 1 -> 0); code 2 nothing (left out)
    mi = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
    assert modularity(mi) == (pytest.approx(0.5), 2)
    # with K = 3: delta = (0.25 + 0.25) / (1 * 2) for code [1, .5, .5]
    assert modularity(np.array([[1.0, 0.5, 0.5]]))[0] == pytest.approx(0.75)


def test_sap_gap_by_hand():
    matrix = np.array([[0.9, 0.1], [0.5, 0.8], [0.2, 0.6]])
    assert avg_diff_top_two(matrix) == pytest.approx(((0.9 - 0.5) + (0.8 - 0.6)) / 2)
    assert avg_diff_top_two(np.array([[0.7, 0.4]])) == pytest.approx(0.55)  # one code: runner-up is 0


def test_factor_vae_votes_by_hand():
    g = np.array([1.0, 1.0, 4.0])
    batches = np.zeros((3, 4, 3))
    batches[0] = [[0, 1, 0], [0, 2, 4], [0, 3, 8], [0, 4, 0]]  # code 0 constant: vote (label 1, code 0)
    batches[1] = [[1, 0, 0], [2, 0, 2], [3, 0, 4], [5, 0, 0]]  # code 1 constant: vote (label 0, code 1)
    batches[2] = [[1, 0, 0], [2, 1, 0], [3, 0, 0], [5, 1, 0]]  # code 2 constant: vote (label 0, code 2)
    votes = votes_from_batches(batches, np.array([1, 0, 0]), g, np.array([True, True, True]), 2)
    np.testing.assert_array_equal(votes, [[0, 1, 1], [1, 0, 0]])
    assert M.factor_vae_from_votes(votes, votes)["eval_accuracy"] == 1.0
    assert M.factor_vae_from_votes([[2, 0], [1, 3]], [[1, 1], [1, 1]]) == {"train_accuracy": 5 / 6,
                                                                             "eval_accuracy": 0.5}


def test_irs_by_hand():
    # code 0 = factor exactly (no within-group deviation), code 1 independent of it
    factors = np.array([[0], [0], [1], [1]])
    latents = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    out = scalable_disentanglement_score(factors, latents, diff_quantile=1.0)
    np.testing.assert_allclose(out["IRS_matrix"][:, 0], [1.0, 0.0])
    assert out["avg_score"] == pytest.approx(0.5)


def test_udr_relative_strength_by_hand():
    assert relative_strength_disentanglement(np.eye(3)) == pytest.approx(1.0)
    assert relative_strength_disentanglement(np.ones((2, 2))) == pytest.approx(0.5)
    assert relative_strength_disentanglement(np.zeros((0, 0))) == 0.0


def test_udr_ranks_consistent_models_higher(space):
    good = [encoder(permuted_scaled_identity(K, seed=s), seed=s) for s in range(3)]
    bad = encoder(random_rotation(K, seed=9))
    scores = M.get("udr")(space, good + [bad], 0, num_data_points=500)
    assert len(scores["model_scores"]) == 4
    assert min(scores["model_scores"][:3]) > scores["model_scores"][3] + 0.1
    assert scores["kl_source"] == ["variance_of_means"] * 4


def test_udr_uses_posterior_kl_when_available(space):
    class WithPosterior(LinearFactorEncoder):
        def encode_distribution(self, frames):
            mean = self.encode(frames)
            logvar = np.zeros_like(mean)
            logvar[:, -1] = 0.0  # last code: posterior = prior and mean ~ 0 -> KL ~ 0 -> filtered
            mean[:, -1] = 0.0
            return mean, logvar

    encs = [WithPosterior(SIZES, np.concatenate([permuted_scaled_identity(K, s), np.zeros((K, 1))], 1), seed=s)
            for s in range(2)]
    scores = M.get("udr")(space, encs, 0, num_data_points=200, correlation_matrix="spearman")
    assert scores["kl_source"] == ["gaussian_kl", "gaussian_kl"]
    assert min(scores["model_scores"]) > 0.8
    # the zero-KL code is what the filter removes: keeping it (a row of NaN -> 0) lowers the score
    unfiltered = M.get("udr")(space, encs, 0, num_data_points=200, correlation_matrix="spearman",
                              filter_low_kl=False)
    assert max(unfiltered["model_scores"]) < min(scores["model_scores"]) - 0.1


def _reference_udr_spearman(codes, kl, threshold=0.01):
    """disentanglement_lib's compute_udr_sklearn with correlation_matrix="spearman", transcribed."""
    import scipy.stats
    from sklearn import preprocessing
    reps = [preprocessing.StandardScaler().fit_transform(c) * np.greater(k, 0.01) for c, k in zip(codes, kl)]
    masks = [k > threshold for k in kl]
    pairwise = np.zeros((len(reps), len(reps)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.stats.ConstantInputWarning)
        for i, j in [(i, j) for i in range(len(reps)) for j in range(len(reps)) if i != j]:
            d = reps[i].shape[1]
            corr = np.abs(np.array([[scipy.stats.spearmanr(reps[i][:, a], reps[j][:, b], nan_policy="omit")[0]
                                     for b in range(d)] for a in range(d)]))
            pairwise[i, j] = relative_strength_disentanglement(corr[masks[i]][:, masks[j]])
    return [float(np.median(np.delete(pairwise[:, i], i))) for i in range(len(reps))], pairwise


def test_udr_spearman_with_inactive_codes_in_every_position():
    # Each model has other codes collapsed (KL 0, so zeroed before the correlation), together every
    # position; scipy's stacked spearmanr used to return one NaN for such inputs and UDR crashed.
    rng = np.random.RandomState(0)
    factors = rng.uniform(size=(300, 5))
    codes, kl = [], []
    for inactive in ([0], [1, 2], [3, 4]):
        c = factors[:, rng.permutation(5)] * rng.uniform(0.5, 2, 5) + 0.1 * rng.normal(size=(300, 5))
        c[:, inactive] = 1e-3 * rng.normal(size=(300, len(inactive)))  # tiny, uninformative
        k = np.full(5, 1.0)
        k[inactive] = 0.0
        codes.append(c)
        kl.append(k)
    out = M.udr_from_codes(codes, kl, correlation_matrix="spearman", include_raw_correlations=True)
    assert np.all(np.isfinite(out["model_scores"])) and np.all(np.isfinite(out["pairwise_disentanglement_scores"]))
    ref_scores, ref_pairwise = _reference_udr_spearman(codes, kl)
    np.testing.assert_allclose(out["model_scores"], ref_scores, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["pairwise_disentanglement_scores"], ref_pairwise, rtol=0, atol=1e-12)
    assert min(out["model_scores"]) > 0.5  # shared factors, permuted: clearly consistent
    raw = np.array(out["raw_correlations"])[0, 1]
    assert np.isnan(raw[0]).all() and np.isnan(raw[:, [1, 2]]).all()  # zeroed codes: NaN rows / columns
    assert np.isfinite(raw[1:][:, [0, 3, 4]]).all()


def test_spearman_matrix_is_pairwise_spearmanr():
    import scipy.stats
    rng = np.random.RandomState(1)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    a[:, 1] = 2.0
    b[:, 2] = np.round(b[:, 2])  # ties
    from eval.metrics.udr import spearman_correlation_conv
    got = spearman_correlation_conv(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.stats.ConstantInputWarning)
        want = np.abs([[scipy.stats.spearmanr(a[:, i], b[:, j])[0] for j in range(3)] for i in range(4)])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


# -- agreement with disentanglement_lib's procedure --------------------------------------------------------
def _reference_batch_factor_code(space, fn, num_points, random_state, batch_size):
    """disentanglement_lib's generate_batch_factor_code + GroundTruthData.sample, transcribed."""
    reps, factors, i = [], [], 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        f = np.zeros((n, len(space.sizes)), dtype=np.int64)
        for k, size in enumerate(space.sizes):
            f[:, k] = random_state.randint(size, size=n)
        factors.append(f)
        reps.append(fn(space.render(f)))
        i += n
    return np.vstack(reps), np.vstack(factors)


def test_sampling_matches_reference_order(space):
    enc = encoder(random_rotation(K, 2))
    ours = utils.generate_batch_factor_code(space, enc.encode, 1000, np.random.RandomState(7), 16,
                                            encode_batch_size=300)
    ref = _reference_batch_factor_code(space, enc.encode, 1000, np.random.RandomState(7), 16)
    np.testing.assert_array_equal(ours[1], ref[1])
    np.testing.assert_array_equal(ours[0], ref[0])


def test_mig_matches_reference_transcription(space):
    enc = encoder(random_rotation(K, 2), noise_dims=1)
    codes, factors = _reference_batch_factor_code(space, enc.encode, 2000, np.random.RandomState(0), 16)
    mus, ys = codes.T, factors.T
    disc = np.zeros_like(mus)
    for i in range(mus.shape[0]):
        disc[i, :] = np.digitize(mus[i, :], np.histogram(mus[i, :], 20)[1][:-1])
    m = np.array([[sklearn.metrics.mutual_info_score(ys[j], disc[i]) for j in range(ys.shape[0])]
                  for i in range(mus.shape[0])])
    h = np.array([sklearn.metrics.mutual_info_score(ys[j], ys[j]) for j in range(ys.shape[0])])
    s = np.sort(m, axis=0)[::-1]
    expected = np.mean((s[0] - s[1]) / h)
    assert M.mig_from_codes(codes, factors)["discrete_mig"] == pytest.approx(expected, abs=1e-12)
    enc2 = encoder(random_rotation(K, 2), noise_dims=1)  # same noise stream as enc
    assert M.get("mig")(space, enc2, 0, num_train=2000)["discrete_mig"] == pytest.approx(expected, abs=1e-12)


def test_seed_reproducibility_and_independence_of_metrics(space):
    a = M.evaluate(space, encoder(random_rotation(K, 3)), ["mig", "irs"], seed=5, mig={"num_train": 500},
                   irs={"num_train": 500})
    b = M.evaluate(space, encoder(random_rotation(K, 3)), ["irs"], seed=5, num_train=500)
    assert a["irs"] == b["irs"]  # each metric has its own RandomState(seed)


# -- domains ----------------------------------------------------------------------------------------------
def test_domain_restricts_every_sample_including_interventions():
    low = Domain("low", lambda f: f[:, 0] + f[:, 1] < 6, "f0 + f1 < 6")
    space = FactorGrid(SIZES, domains=[low])
    seen = []

    def spy(frames):
        seen.append(frames[:, 0, :, 0].astype(np.int64))
        return encoder(permuted_scaled_identity(K)).encode(frames)

    for name in ("beta_vae", "factor_vae", "mig"):
        seen.clear()
        scores = run(name, space, spy, domain="low")
        allf = np.concatenate(seen)
        assert np.all(allf[:, 0] + allf[:, 1] < 6), name
        assert all(np.isfinite(v) for v in scores.values())
    with pytest.raises(KeyError, match="known domains"):
        run("mig", space, spy, domain="nope")


def test_sample_with_fixed_keeps_value_and_domain():
    low = Domain("low", lambda f: f[:, 0] + f[:, 1] < 6, "")
    space = FactorGrid(SIZES, domains=[low])
    values = np.array([0, 1, 2, 3, 4, 5] * 10)
    out = utils.sample_with_fixed(space, 60, np.random.RandomState(0), "low", 1, values)
    np.testing.assert_array_equal(out[:, 1], values)
    assert low.contains(out).all()


# -- registry and bad input -------------------------------------------------------------------------------
def test_registry_lists_every_metric():
    assert M.names() == ["beta_vae", "factor_vae", "mig", "dci", "sap", "modularity", "irs", "unsupervised",
                         "probe", "udr"]
    assert "udr" not in M.names(include_multi_encoder=False)
    assert M.get("mig").defaults["num_train"] == 10000 and M.get("mig").defaults["num_bins"] == 20
    assert M.get("factor_vae").defaults["prune_threshold"] == 0.05
    assert M.get("beta_vae").defaults == {"batch_size": 64, "num_train": 10000, "num_eval": 5000, "domain": None,
                                          "encode_batch_size": 512}
    for name in M.names():
        assert M.get(name).core is not None and M.get(name).paper and M.get(name).description


def test_unknown_metric_name_lists_known_ones(space):
    with pytest.raises(KeyError, match="unknown metric .migg.; known: beta_vae, factor_vae, mig"):
        M.get("migg")
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        M.evaluate(space, encoder(np.eye(K)), ["mig", "nope"])


def test_unknown_setting_is_rejected(space):
    with pytest.raises(TypeError, match="has no setting"):
        M.get("mig")(space, encoder(np.eye(K)), 0, num_test=5)
    with pytest.raises(ValueError, match="no selected metric"):
        M.evaluate(space, encoder(np.eye(K)), ["mig"], num_eval=5)


def test_nan_codes_are_rejected(space):
    def nan_encoder(frames):
        out = np.zeros((len(frames), 3))
        out[::7, 1] = np.nan
        return out

    for name in ("mig", "beta_vae", "factor_vae"):
        with pytest.raises(ValueError, match=r"NaN.*code dimensions \[1\]"):
            run(name, space, nan_encoder)
    with pytest.raises(ValueError, match="NaN"):
        M.mig_from_codes(np.array([[np.nan], [1.0]]), np.array([[0], [1]]))


def test_length_mismatch_and_shape_errors():
    codes, factors = np.random.rand(10, 2), np.random.randint(0, 3, (9, 1))
    with pytest.raises(ValueError, match="codes have 10 points but factors have 9"):
        M.mig_from_codes(codes, factors)
    with pytest.raises(ValueError, match=r"codes\[:, None\]"):
        M.mig_from_codes(codes[:, 0], factors)
    with pytest.raises(ValueError, match="same encoder"):
        M.sap_from_codes(codes, np.arange(10)[:, None] % 2, codes[:, :1], np.arange(10)[:, None] % 2)
    with pytest.raises(TypeError, match="integer grid indices"):
        M.mig_from_codes(codes, np.random.rand(10, 1))


def test_single_valued_factor_in_arrays_is_a_clear_error():
    codes = np.random.rand(20, 2)
    factors = np.stack([np.arange(20) % 3, np.zeros(20, int)], axis=1)
    with pytest.raises(ValueError, match="factor column 1 .* single value 0"):
        M.mig_from_codes(codes, factors)


def test_single_valued_factor_in_a_space_is_ignored():
    space = FactorGrid((3, 1, 10))
    enc = LinearFactorEncoder((3, 1, 10), np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    scores = M.evaluate(space, enc, ["mig", "factor_vae", "beta_vae"], seed=0, num_train=300,
                        factor_vae={"num_eval": 100, "num_variance_estimate": 500}, beta_vae={"num_eval": 100})
    assert scores["mig"]["discrete_mig"] > 0.95
    assert scores["factor_vae"]["eval_accuracy"] == 1.0
    assert utils.scored_factors(space) == [0, 2]
    with pytest.raises(ValueError, match="every factor of this space has a single value"):
        M.get("mig")(FactorGrid((1, 1)), lambda frames: np.zeros((len(frames), 2)), 0)


def test_encoder_contract_errors(space):
    with pytest.raises(TypeError, match="encode"):
        M.get("mig")(space, object(), 0, num_train=10)
    with pytest.raises(ValueError, match="returned shape"):
        M.get("mig")(space, lambda frames: np.zeros(len(frames)), 0, num_train=10)
    with pytest.raises(TypeError, match="at least 2 encoders"):
        M.get("udr")(space, encoder(np.eye(K)), 0)


def test_seed_types():
    assert utils.as_random_state(3).randint(1000) == np.random.RandomState(3).randint(1000)
    rs = np.random.RandomState(1)
    assert utils.as_random_state(rs) is rs
    assert isinstance(utils.as_random_state(np.random.default_rng(0)), np.random.RandomState)
    with pytest.raises(TypeError, match="int seed"):
        utils.as_random_state("0")
