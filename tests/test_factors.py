"""The factor-space contract on a tiny hand-made space whose answers are known."""

import numpy as np
import pytest

from envs.factors import Domain, Factor, FactorSpace


class Squares(FactorSpace):
    """A 4x4 image with one lit pixel at (row, col): two factors of 4 values each."""

    def __init__(self):
        super().__init__([Factor("row", 4), Factor("col", 4)], (4, 4, 1),
                         [Domain("diagonal", lambda f: f[:, 0] == f[:, 1], "row == col"),
                          Domain("upper", lambda f: f[:, 0] < f[:, 1], "row < col")])

    def render(self, factors):
        factors = self.check_factors(np.atleast_2d(factors))
        frames = np.zeros((len(factors), 4, 4, 1), np.uint8)
        frames[np.arange(len(factors)), factors[:, 0], factors[:, 1], 0] = 255
        return frames


def test_shape_of_the_grid():
    space = Squares()
    assert space.names == ("row", "col") and space.sizes == (4, 4)
    assert space.num_combinations == 16 and space.index("col") == 1
    assert list(space.domains) == ["all", "diagonal", "upper"]
    with pytest.raises(KeyError, match="unknown factor 'x'.*row.*col"):
        space.index("x")


def test_domain_sampling_is_uniform_over_members():
    space = Squares()
    sample = space.sample(4000, np.random.default_rng(0), domain="upper")
    assert space.domain("upper").contains(sample).all()
    pairs, counts = np.unique(sample, axis=0, return_counts=True)
    assert len(pairs) == 6 and counts.min() > 0.8 * 4000 / 6
    assert space.domain("diagonal").contains(np.array([2, 2])) is True


def test_domain_labels_pick_the_first_domain_holding_each_row():
    space = Squares()
    labels = space.domain_labels(np.array([[1, 1], [0, 3], [3, 0]]))
    np.testing.assert_array_equal(labels, [0, 1, -1])


def test_sampling_is_seeded():
    space = Squares()
    a = space.sample(50, np.random.default_rng(3), domain="diagonal")
    b = space.sample(50, np.random.default_rng(3), domain="diagonal")
    np.testing.assert_array_equal(a, b)


def test_invalid_definitions_and_inputs_fail_clearly():
    with pytest.raises(ValueError, match="at least one value"):
        Factor("x", 0)
    with pytest.raises(ValueError, match="2 labels for 3 values"):
        Factor("x", 3, ("a", "b"))
    space = Squares()
    with pytest.raises(TypeError, match="must be integers"):
        space.check_factors(np.zeros((1, 2), dtype=float))
    empty = Domain("empty", lambda f: np.zeros(len(f), bool))
    empty.space = space
    with pytest.raises(RuntimeError, match="nearly\\) empty"):
        empty.sample(5, np.random.default_rng(0))
