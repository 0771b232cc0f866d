"""Frame collection, the HDF5 dataset format and the foundation's command-line interface."""

import os

import h5py
import numpy as np
import pytest

import envs
from darla.cli import main
from envs.collect import collect
from envs.dataset import DatasetError, FrameDataset


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "room.h5"
    collect("darla/Room-v1", path, frames=600, domain="target", seed=7, progress=False)
    return path


def test_collected_frames_match_their_factors_and_metadata(dataset_path):
    with FrameDataset(dataset_path, expect_env="darla/Room-v1") as ds:
        frames, factors = ds.load()
        assert frames.dtype == np.uint8 and frames.shape == (600, 64, 64, 3) and len(ds) == 600
        space = envs.make_factor_space("darla/Room-v1")
        np.testing.assert_array_equal(space.render(factors), frames)
        assert ds.meta["domain"] == "target" and ds.meta["seed"] == 7
        assert ds.factor_names == list(space.names) and ds.meta["factor_sizes"] == list(space.sizes)
        assert ds.meta["domain_names"] == ["source", "target", "ood"]
        assert (ds.domain[:] == 1).all(), "every frame is labelled with the domain it came from"
        assert ds.meta["darla_version"]
        assert len({tuple(f) for f in factors}) > 200, "a random policy visits many states"


def test_collection_is_deterministic(tmp_path, dataset_path):
    again = tmp_path / "again.h5"
    collect("darla/Room-v1", again, frames=600, domain="target", seed=7, progress=False)
    with FrameDataset(dataset_path) as a, FrameDataset(again) as b:
        np.testing.assert_array_equal(a.factors[:], b.factors[:])
        np.testing.assert_array_equal(a.frames[:], b.frames[:])


def test_batches_visit_every_frame_once(dataset_path):
    with FrameDataset(dataset_path) as ds:
        _, factors = ds.load()
        for shuffle in (False, True):
            batches = list(ds.iter_batches(64, shuffle=shuffle, rng=np.random.default_rng(0)))
            assert all(len(f) <= 64 for f, _ in batches)
            seen = np.concatenate([b for _, b in batches])
            assert sorted(map(tuple, seen)) == sorted(map(tuple, factors))


def test_interrupted_collection_leaves_no_file(tmp_path):
    out = tmp_path / "broken.h5"
    calls = {"n": 0}

    def policy(obs, rng):
        calls["n"] += 1
        if calls["n"] == 700:
            raise KeyboardInterrupt
        return 0

    with pytest.raises(KeyboardInterrupt):
        collect("darla/Room-v1", out, frames=1000, policy=policy, progress=False)
    assert os.listdir(tmp_path) == [], "neither the file nor its temporary remains"


def test_bad_dataset_files_fail_clearly(tmp_path, dataset_path):
    with pytest.raises(FileNotFoundError, match="darla collect"):
        FrameDataset(tmp_path / "missing.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(dataset_path.read_bytes()[:50_000])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        FrameDataset(truncated)
    with pytest.raises(DatasetError, match="collected from 'darla/Room-v1', not 'dsprites'"):
        FrameDataset(dataset_path, expect_env="dsprites")
    unfinished = tmp_path / "unfinished.h5"
    with h5py.File(unfinished, "w") as f:
        f.create_dataset("frames", data=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DatasetError, match="incomplete"):
        FrameDataset(unfinished)


def test_bad_collection_requests_fail_before_writing(tmp_path):
    with pytest.raises(KeyError, match="known domains"):
        collect("darla/Room-v1", tmp_path / "x.h5", frames=10, domain="targte", progress=False)
    with pytest.raises(KeyError, match="unknown environment or dataset 'Room'.*darla/Room-v1"):
        collect("Room", tmp_path / "x.h5", frames=10, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect("darla/Room-v1", tmp_path / "no" / "such" / "x.h5", frames=10, progress=False)
    assert os.listdir(tmp_path) == []


def test_cli_collect_envs_and_preview(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    assert main(["collect", "darla/Room-v1", "--domain", "ood", "--frames", "50", "--out", str(out)]) == 0
    with FrameDataset(out) as ds:
        assert len(ds) == 50 and ds.meta["domain"] == "ood"
    assert main(["envs"]) == 0
    listing = capsys.readouterr().out
    assert "darla/Room-v1" in listing and "wall_colour(8)" in listing and "target" in listing
    png = tmp_path / "grid.png"
    assert main(["preview", "darla/Room-v1", "--out", str(png), "--per-domain", "3"]) == 0
    import cv2
    image = cv2.imread(str(png))
    assert image.shape[0] == 3 * (18 + 2 * 66) and image.shape[1] == 3 * 2 * 66
    # the env's keyword arguments follow as key=value: a smaller frame, and a wrong keyword named
    assert main(["preview", "darla/Room-v1", "--out", str(png), "--per-domain", "3", "--scale", "1", "size=32"]) == 0
    assert cv2.imread(str(png)).shape[1] == 3 * 34
    assert main(["preview", "darla/Room-v1", "--out", str(png), "colour=3"]) == 1
    assert "colour" in capsys.readouterr().err


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["collect", "darla/Room-v0", "--frames", "5", "--out", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err  # v0, the first Room, is gone: its id is unknown now
    assert "unknown environment or dataset 'darla/Room-v0'" in err and "darla/Room-v1" in err and "darla envs" in err
    assert main(["collect", "darla/Room-v1", "--domain", "x", "--frames", "5", "--out", str(tmp_path / "x.h5")]) == 1
    assert "known domains" in capsys.readouterr().err
