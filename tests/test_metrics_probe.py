"""The transfer probe: known answers for encoded, ignored, and entangled-then-shifted factors."""

import numpy as np
import pytest

import eval.metrics as M
from envs.factors import Domain
from eval.metrics.synthetic import FactorGrid, LinearFactorEncoder

SIZES = (4, 4)


def held_out_pairs(f):
    return (f[:, 0] + f[:, 1]) % 4 == 0


def grid_with_domains():
    return FactorGrid(SIZES, [Domain("source", lambda f: ~held_out_pairs(f), "seen pairs"),
                              Domain("target", held_out_pairs, "held-out pairs")])


class PairHashEncoder:
    """Entangled on purpose: every (f0, f1) pair gets its own random code, so the reading of a pair
    never seen in training is arbitrary, as a conjunction-coding encoder's would be."""

    def __init__(self, seed=0):
        self.table = np.random.RandomState(seed).normal(size=(SIZES[0], SIZES[1], 6))

    def encode(self, frames):
        f = np.asarray(frames)[:, 0, :, 0].astype(int)
        return self.table[f[:, 0], f[:, 1]].astype(np.float32)


def test_an_encoded_factor_is_read_exactly_and_an_ignored_one_at_chance():
    space = FactorGrid(SIZES)
    encoder = LinearFactorEncoder(SIZES, np.array([[1.0], [0.0]]), noise_dims=2)
    scores = M.get("probe")(space, encoder, 0, num_train=2000, num_test=1000)
    assert not any(key.startswith("mean_") and key != "mean_accuracy" for key in scores)  # no other domains
    assert scores["accuracy.f0"] == 1.0
    assert scores["accuracy.f1"] < scores["chance.f1"] + 0.08  # 4 balanced classes: chance is ~0.25
    assert scores["mean_accuracy"] == pytest.approx((scores["accuracy.f0"] + scores["accuracy.f1"]) / 2)


def test_a_disentangled_code_transfers_to_held_out_pairs_and_an_entangled_one_does_not():
    space = grid_with_domains()
    settings = dict(num_train=2000, num_test=1000, domain="source")  # target: every other domain
    disentangled = M.get("probe")(space, LinearFactorEncoder(SIZES, np.eye(2)), 0, **settings)
    entangled = M.get("probe")(space, PairHashEncoder(), 0, **settings)
    # both read every factor on the domain they were fit on...
    assert disentangled["mean_accuracy"] == 1.0 and entangled["mean_accuracy"] == 1.0
    # ...but only the factorised code still does on unseen combinations of seen values
    assert disentangled["mean_target"] == 1.0
    assert entangled["mean_target"] < 0.6


def test_core_rejects_a_shifted_set_from_another_encoder():
    rng = np.random.default_rng(0)
    codes, factors = rng.normal(size=(50, 3)), rng.integers(0, 2, (50, 1))
    with pytest.raises(ValueError, match="same encoder"):
        M.probe_from_codes(codes, factors, codes, factors, {"target": (codes[:, :2], factors)})
    with pytest.raises(ValueError, match="2 names for 1 factor"):
        M.probe_from_codes(codes, factors, codes, factors, names=["a", "b"])


def test_unknown_transfer_domain_lists_the_known_ones():
    with pytest.raises(KeyError, match="source"):
        M.get("probe")(grid_with_domains(), LinearFactorEncoder(SIZES, np.eye(2)), 0, transfer_domains=("tgt",),
                       num_train=100, num_test=100)
