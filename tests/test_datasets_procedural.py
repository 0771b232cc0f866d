"""Procedural dSprites and 3D-shapes look-alike: factor grids, determinism, rendering, registration."""

from __future__ import annotations

import time

import numpy as np
import pytest

import envs
from envs.datasets.dsprites import DSprites
from envs.datasets.shapes3d import Shapes3D


@pytest.fixture(scope="module")
def dsprites():
    return DSprites()


@pytest.fixture(scope="module")
def shapes3d():
    return Shapes3D()


def test_registered_with_the_factor_space_interface():
    assert {"dsprites", "shapes3d"} <= set(envs.available())
    assert envs.make_factor_space("dsprites").sizes == (3, 6, 40, 32, 32)
    assert envs.make_factor_space("shapes3d").sizes == (10, 10, 10, 8, 4, 15)


def test_dsprites_grid_is_matthey_et_al(dsprites):
    assert dsprites.names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert dsprites.num_combinations == 737280
    assert dsprites.observation_shape == (64, 64, 1)
    np.testing.assert_allclose(dsprites.values["scale"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert dsprites.values["orientation"][1] == pytest.approx(0.16110732)  # 2*pi/39, as in the released file
    assert dsprites.values["orientation"][-1] == pytest.approx(2 * np.pi)
    np.testing.assert_allclose(dsprites.values["pos_x"][[0, 1, -1]], [0, 1 / 31, 1])
    assert dsprites.factors[0].labels == ("square", "ellipse", "heart")


def test_dsprites_frames_are_binary_deterministic_and_in_frame(dsprites):
    rng = np.random.default_rng(0)
    factors = dsprites.sample(500, rng)
    a, b = dsprites.render(factors), dsprites.render(factors)
    assert a.dtype == np.uint8 and a.shape == (500, 64, 64, 1)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0, 255}
    assert (a.reshape(500, -1) > 0).any(axis=1).all()  # every frame shows a sprite
    # extreme positions and the largest scale still fit: nothing is cut at the border
    corner = dsprites.render(np.array([[2, 5, 7, 0, 0], [2, 5, 7, 31, 31], [2, 5, 7, 16, 16]]))
    areas = (corner > 0).reshape(3, -1).sum(axis=1)
    assert areas[0] == areas[1] == areas[2]


def test_dsprites_each_factor_acts_as_named(dsprites):
    def centroid(frame):
        ys, xs = np.nonzero(frame[..., 0])
        return xs.mean(), ys.mean()

    base = np.array([0, 3, 0, 10, 10])
    frames = dsprites.render(np.stack([base, base + [0, 0, 0, 10, 0], base + [0, 0, 0, 0, 10]]))
    (x0, y0), (x1, y1), (x2, y2) = (centroid(f) for f in frames)
    assert x1 - x0 == pytest.approx(10 * 42 / 31, abs=1.0) and abs(y1 - y0) < 0.5  # pos_x moves right
    assert y2 - y0 == pytest.approx(10 * 42 / 31, abs=1.0) and abs(x2 - x0) < 0.5  # pos_y moves down
    scales = dsprites.render(np.array([[s, k, 0, 16, 16] for s in range(3) for k in range(6)]))
    areas = (scales > 0).reshape(3, 6, -1).sum(axis=2)
    assert np.all(np.diff(areas, axis=1) > 0)  # bigger scale, bigger sprite, for every shape
    shapes = dsprites.render(np.array([[s, 5, 0, 16, 16] for s in range(3)]))
    assert len({f.tobytes() for f in shapes}) == 3
    turned = dsprites.render(np.array([[1, 5, o, 16, 16] for o in (0, 5, 39)]))
    assert not np.array_equal(turned[0], turned[1])
    np.testing.assert_array_equal(turned[0], turned[2])  # 0 and 2*pi: the same image, as in dSprites


def test_dsprites_render_is_fast(dsprites):
    factors = dsprites.sample(20000, np.random.default_rng(1))
    start = time.perf_counter()
    dsprites.render(factors)
    assert time.perf_counter() - start < 2.0  # ~0.1 s here; generous for a loaded machine


def test_dsprites_rejects_bad_factors(dsprites):
    with pytest.raises(ValueError, match="orientation"):
        dsprites.render(np.array([[0, 0, 40, 0, 0]]))
    with pytest.raises(ValueError, match="shape"):
        dsprites.render(np.zeros((2, 4), dtype=int))


def test_shapes3d_frames(shapes3d):
    assert shapes3d.names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    assert shapes3d.observation_shape == (64, 64, 3)
    factors = shapes3d.sample(300, np.random.default_rng(0))
    frames = shapes3d.render(factors)
    assert frames.dtype == np.uint8 and frames.shape == (300, 64, 64, 3)
    np.testing.assert_array_equal(frames, shapes3d.render(factors))


def test_shapes3d_each_factor_changes_the_frame(shapes3d):
    base = np.array([1, 4, 7, 3, 0, 7])
    reference = shapes3d.render(base[None])[0]
    for k, size in enumerate(shapes3d.sizes):
        other = base.copy()
        other[k] = (base[k] + size // 2) % size
        assert not np.array_equal(shapes3d.render(other[None])[0], reference), shapes3d.names[k]
    # hues land where they should: top-left is wall, bottom row floor, centre-bottom the object
    red_wall = shapes3d.render(np.array([[3, 0, 6, 3, 0, 7]]))[0]
    assert red_wall[2, 2, 0] > 150 and red_wall[2, 2, 1] < 60 and red_wall[2, 2, 2] < 60


def test_metrics_run_on_datasets(dsprites, shapes3d):
    import eval.metrics as M

    def moments(frames):  # an encoder of image statistics: centroid and brightness
        x = frames.astype(np.float64).mean(axis=3)
        total = x.sum(axis=(1, 2)) + 1e-9
        ys, xs = np.mgrid[0:64, 0:64]
        return np.stack([(x * xs).sum((1, 2)) / total, (x * ys).sum((1, 2)) / total, total / 4096], 1)

    d = M.evaluate(dsprites, moments, ["mig"], seed=0, num_train=1000)["mig"]["discrete_mig"]
    assert d > 0.2  # centroid codes pos_x and pos_y almost alone
    s = M.evaluate(shapes3d, moments, ["mig"], seed=0, num_train=500)
    assert np.isfinite(s["mig"]["discrete_mig"])
