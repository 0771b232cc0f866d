"""Integrity of datasets and checkpoints: each records a digest of its arrays, computed as written,
and its origin; readers refuse a file whose arrays changed (flipped bytes, NaN or flipped weights)
or that is of another env, naming the file and what differs; a replaced input re-runs the stages
that read it; files from before digests are refused until `darla digest` checks them, and a run
directory from before digests is reused as it is. Also: the one I/O home (``artifacts``)."""

import json
import shutil

import h5py
import numpy as np
import pytest
import torch

import agents
import vision
from artifacts import ArrayDigest, digest_arrays, file_sha256, write_json_atomic, write_png
from darla import config as config_module
from darla.cli import main
from darla.pipeline import run
from envs.collect import collect
from envs.dataset import DatasetError, FrameDataset, recorded_digest
from vision.errors import CheckpointError

SMALL = {"size": 16}
FIT = dict(steps=2, batch_size=8, progress=False, tensorboard=False, device="cpu", threads=1)
TINY = {"name": "tiny", "env": "darla/Room-v1", "env_kwargs": SMALL, "variants": ["darla_dae"], "seeds": [0],
        "threads": 1, "collect": {"frames": 64, "sampling": "factors"},
        "vision": {"device": "cpu", "methods": {"dae": {"steps": 3, "batch_size": 16}}},
        "agent": {"algo": "ppo", "steps": 32, "hyperparams": {"n_envs": 2, "n_steps": 8, "batch_size": 16}},
        "transfer": {"episodes": 1}, "metrics": {"names": []}}


def tiny(**changes):
    return config_module.RunConfig.from_dict({**TINY, **changes})


def ran(lines):
    return [line.split()[1] for line in lines if line.startswith("[run]")]


def strip_digest(path):
    """Make ``path`` look as darla wrote it before digests: no digest, digests or origin."""
    if path.suffix == ".h5":
        with h5py.File(path, "r+") as f:
            for key in ("digest", "digests", "origin", "env_version"):
                if key in f.attrs:
                    del f.attrs[key]
    else:
        payload = torch.load(path, weights_only=True)
        for key in ("digest", "digests", "origin"):
            payload.pop(key)
        torch.save(payload, path)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return collect("darla/Room-v1", tmp_path_factory.mktemp("data") / "frames.h5", 300, progress=False,
                   sampling="factors", **SMALL)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, dataset):
    with FrameDataset(dataset) as ds:
        return vision.fit(ds.frames[:], method="vae", out_dir=tmp_path_factory.mktemp("vae"),
                          origin=ds.provenance(), **FIT)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run (darla_dae: collect, vision/dae, agent, transfer)."""
    return run(tiny(), tmp_path_factory.mktemp("runs"), log=lambda line: None)


# -- artifacts: the one home of file helpers -------------------------------------------------------
def test_array_digest_is_independent_of_chunking_and_names_the_part_that_differs():
    rng = np.random.default_rng(0)
    frames, factors = rng.integers(0, 255, (50, 4, 4, 3), dtype=np.uint8), rng.integers(0, 5, (50, 2))
    whole = digest_arrays({"frames": frames, "factors": factors})
    chunked = ArrayDigest(["factors", "frames"])
    for start in range(0, 50, 7):
        chunked.update("factors", factors[start:start + 7])
        chunked.update("frames", frames[start:start + 7])
    assert chunked.hexdigest() == whole.hexdigest()
    flipped = frames.copy()
    flipped[3, 1, 1, 0] ^= 1
    other = digest_arrays({"frames": flipped, "factors": factors}).parts()
    assert [k for k in other if other[k] != whole.parts()[k]] == ["frames"]


def test_atomic_writers_leave_only_the_finished_file(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    write_png(tmp_path / "a.png", np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_png(tmp_path / "missing" / "a.png", np.zeros((4, 5, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.png"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}


# -- datasets ----------------------------------------------------------------------------------------
def test_a_dataset_records_its_digest_and_origin(dataset):
    with FrameDataset(dataset) as ds:
        assert ds.digest == recorded_digest(dataset) and len(ds.digest) == 64
        assert ds.origin == {**ds.origin, "env_id": "darla/Room-v1", "env_version": 1, "env_kwargs": SMALL,
                             "domain": "source", "sampling": "factors", "seed": 0}
        assert ds.provenance()["digest"] == ds.digest


def test_changed_frames_are_refused_naming_the_file_and_the_array(dataset, tmp_path):
    copy = tmp_path / "changed.h5"
    shutil.copy(dataset, copy)
    with h5py.File(copy, "r+") as f:  # what a bit flip inside a chunk decodes to
        frames = f["frames"][:10]
        frames[4, 2, 2, 1] ^= 0x10
        f["frames"][:10] = frames
    with pytest.raises(DatasetError, match=rf"{copy}.*frames differ"):
        FrameDataset(copy)


def test_flipped_bytes_in_the_stored_frames_are_refused(dataset, tmp_path):
    copy = tmp_path / "flipped.h5"
    shutil.copy(dataset, copy)
    with h5py.File(copy, "r") as f:
        chunk = f["frames"].id.get_chunk_info(0)
    data = bytearray(copy.read_bytes())
    for i in range(chunk.byte_offset + chunk.size // 2, chunk.byte_offset + chunk.size // 2 + 40):
        data[i] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=rf"{copy}.*(frames differ|damaged)"):
        FrameDataset(copy)


def test_a_dataset_of_another_origin_is_refused_naming_what_differs(dataset):
    with pytest.raises(DatasetError, match="domain 'source' \\(expected 'target'\\)"):
        FrameDataset(dataset, expect_origin={"env_id": "darla/Room-v1", "domain": "target"})


def test_a_dataset_from_before_digests_is_refused_until_darla_digest_checks_it(dataset, tmp_path, capsys):
    old = tmp_path / "old.h5"
    shutil.copy(dataset, old)
    strip_digest(old)
    with pytest.raises(DatasetError, match=f"before datasets recorded.*darla digest {old}"):
        FrameDataset(old)
    assert main(["digest", str(old)]) == 0 and "digest recorded" in capsys.readouterr().out
    assert recorded_digest(old) == recorded_digest(dataset)
    with FrameDataset(old) as ds:
        assert ds.origin["env_id"] == "darla/Room-v1" and ds.origin["domain"] == "source"
    assert main(["digest", str(old)]) == 0 and "verified" in capsys.readouterr().out


# -- checkpoints -------------------------------------------------------------------------------------
def test_a_checkpoint_records_its_digest_and_what_it_was_trained_on(checkpoint, dataset):
    payload = vision.checkpoint.read(checkpoint)
    assert payload["origin"]["method"] == "vae" and payload["origin"]["data"]["digest"] == recorded_digest(dataset)
    assert payload["origin"]["data"]["env_id"] == "darla/Room-v1"
    assert vision.checkpoint.recorded_digest(checkpoint) == payload["digest"]


def edited(checkpoint, tmp_path, edit):
    payload = torch.load(checkpoint, weights_only=True)
    name = next(k for k, v in payload["model"].items() if v.is_floating_point() and v.numel() > 4)
    edit(payload["model"][name])
    path = tmp_path / "edited.pt"
    torch.save(payload, path)
    return path, name


def test_nan_weights_are_refused_naming_the_tensor(checkpoint, tmp_path):
    path, name = edited(checkpoint, tmp_path, lambda t: t.__setitem__((0,) * t.ndim, float("nan")))
    with pytest.raises(CheckpointError, match=rf"{path} has NaN or infinite weights.*{name}"):
        vision.load_encoder(path)


def test_a_flipped_weight_bit_is_refused_naming_the_tensor(checkpoint, tmp_path):
    def flip(tensor):  # one bit of one weight (saved tensors may be channels-last: edit a copy)
        bits = tensor.contiguous().view(torch.int32).clone()
        bits.view(-1)[1] ^= 1 << 3
        tensor.copy_(bits.view(torch.float32))

    path, name = edited(checkpoint, tmp_path, flip)
    with pytest.raises(CheckpointError, match=rf"{path} does not match the digest.*{name}"):
        vision.load_encoder(path)
    assert main(["digest", str(path)]) == 1  # darla digest verifies; it never blesses a changed file


def test_an_old_agents_encoder_is_refused_then_accepted_once_digested(checkpoint, tmp_path, capsys):
    """An agent saved before digests identified its encoder by the file's sha256: `darla digest`
    rewrites the file, and the agent still accepts it through the sha256 it records."""
    folder = agents.train("darla_ent", "darla/Room-v1", tmp_path / "agent", steps=16, seed=0, encoder_path=checkpoint,
                          hyperparams={"n_envs": 2, "n_steps": 8, "batch_size": 16}, env_kwargs=SMALL,
                          standardize=True)
    strip_digest(folder / "encoder.pt")
    record = json.loads((folder / "agent.json").read_text())
    record["standardization"]["encoder_sha256"] = file_sha256(folder / "encoder.pt")
    (folder / "agent.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="before checkpoints recorded a content digest.*darla digest"):
        agents.load(folder)
    assert main(["digest", str(folder / "encoder.pt")]) == 0
    assert agents.load(folder).standardizer is not None


# -- the pipeline ------------------------------------------------------------------------------------
def test_a_dataset_from_another_env_in_a_run_is_refused(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "tiny")
    collect("dsprites", run_dir / "collect" / "source.h5", 64, progress=False)
    with pytest.raises(DatasetError, match="source.h5 is not the dataset expected here.*env_id 'dsprites'.*"
                                           "--force collect"):
        run(tiny(), tmp_path, log=lambda line: None)


def test_a_replaced_input_re_runs_the_stages_that_read_it(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "tiny")
    lines = []
    run(tiny(), tmp_path, log=lines.append)
    assert ran(lines) == []
    # the same kind of data (env, domain, sampling), other frames: accepted, and everything after it redone
    collect("darla/Room-v1", run_dir / "collect" / "source.h5", 64, seed=5, progress=False, sampling="factors",
            **SMALL)
    lines.clear()
    run(tiny(), tmp_path, log=lines.append)
    assert any(line.startswith("[changed] collect: source.h5") for line in lines)
    assert ran(lines) == ["vision/dae", "agent/darla_dae/seed0", "transfer/darla_dae/seed0"]
    # a checkpoint put back from the previous model: the agent reading it is trained again
    shutil.copy(run_dir / "vision" / "dae.old-1" / "checkpoint.pt", run_dir / "vision" / "dae" / "checkpoint.pt")
    lines.clear()
    run(tiny(), tmp_path, log=lines.append)
    assert ran(lines) == ["agent/darla_dae/seed0", "transfer/darla_dae/seed0"]


def test_a_run_directory_from_before_digests_is_reused_as_it_is(finished, tmp_path):
    """What an earlier version wrote (no digests, stage records without artifacts) is reused, not
    redone; a stage that reads such a file gives it its digest first, and says so."""
    run_dir = shutil.copytree(finished, tmp_path / "tiny")
    strip_digest(run_dir / "collect" / "source.h5")
    strip_digest(run_dir / "vision" / "dae" / "checkpoint.pt")
    for record_file in run_dir.rglob("stage.json"):
        record = json.loads(record_file.read_text())
        record.pop("artifacts")
        record_file.write_text(json.dumps(record))
    lines = []
    run(tiny(), tmp_path, log=lines.append)
    assert ran(lines) == []
    lines.clear()
    run(tiny(), tmp_path, force=["agent"], log=lines.append)
    assert "[digest] dae/checkpoint.pt: written before digests; it loads, its digest is now recorded" in lines
    assert ran(lines) == ["agent/darla_dae/seed0", "transfer/darla_dae/seed0"]
    vision.load_encoder(run_dir / "vision" / "dae" / "checkpoint.pt")
