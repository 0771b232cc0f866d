"""Loading never runs code from a file: pickle payloads in every artifact the toolkit reads are
refused (a marker file they would create never appears), and a legitimate agent of every variant ×
algorithm round-trips through its data-only files, acting identically."""

import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import agents
import vision
from agents import storage
from agents.storage import AgentFileError
from darla.stages import Stages
from envs.collect import collect
from envs.dataset import FrameDataset
from vision.errors import CheckpointError

SMALL = {"size": 16}          # the Room's smallest frames: every vision model reads them
PIXELS = {"size": 48}         # SB3's NatureCNN needs at least 36 pixels
HYPERPARAMS = {
    "ppo": {"n_envs": 2, "n_steps": 8, "batch_size": 16, "n_epochs": 1, "policy_kwargs": {"net_arch": [16]}},
    "a2c": {"n_envs": 2, "n_steps": 4, "policy_kwargs": {"net_arch": [16]}},
    "dqn": {"buffer_size": 64, "learning_starts": 8, "batch_size": 8, "train_freq": 4,
            "target_update_interval": 8, "policy_kwargs": {"net_arch": [16]}},
}
VISION = {"darla": "beta_vae_dae", "darla_ent": "vae", "darla_dae": "dae", "darla_ft": "beta_vae_dae"}


class Payload:
    """Unpickling it creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def payload_bytes(marker) -> bytes:
    return pickle.dumps(Payload(marker))


def test_the_payload_is_live(tmp_path):
    """The check below can fail: unpickling the payload does create its marker."""
    pickle.loads(payload_bytes(tmp_path / "ran")).close()
    assert (tmp_path / "ran").exists()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vision")
    collect("darla/Room-v1", folder / "frames.h5", 32, progress=False, **SMALL)
    with FrameDataset(folder / "frames.h5") as ds:
        frames = ds.frames[:]
    fit = dict(steps=2, batch_size=8, progress=False, tensorboard=False, device="cpu", threads=1)
    out = {m: vision.fit(frames, method=m, out_dir=folder / m, **fit) for m in ("dae", "vae")}
    out["beta_vae_dae"] = vision.fit(frames, method="beta_vae_dae", out_dir=folder / "bvd",
                                     dae_checkpoint=str(out["dae"]), **fit)
    return out


class Keep(BaseCallback):
    """Keeps the trained model, to compare it with what loading the saved folder gives."""

    def _on_step(self):
        return True


def train_tiny(variant, algo, out, checkpoints, steps=32):
    keep = Keep()
    method = VISION.get(variant)
    path = agents.train(variant, "darla/Room-v1", out, steps=steps, seed=1, algo=algo,
                        encoder_path=checkpoints[method] if method else None, hyperparams=HYPERPARAMS[algo],
                        env_kwargs=PIXELS if variant == "pixels" else SMALL, callbacks=[keep])
    return path, keep.model


@pytest.mark.timeout(300)
@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
@pytest.mark.parametrize("variant", ["darla", "darla_ent", "darla_dae", "darla_ft", "pixels", "oracle"])
def test_every_variant_and_algorithm_round_trips_as_data(tmp_path, checkpoints, variant, algo):
    path, trained = train_tiny(variant, algo, tmp_path / "agent", checkpoints)
    assert not (path / "model.zip").exists() and {"policy.safetensors", "policy.json", "agent.json"} <= {
        p.name for p in path.iterdir()}
    assert not list(path.glob(".saving.*")), "no temporary files left"
    loaded = agents.load(path)
    assert type(loaded.model) is type(trained)
    before, after = trained.policy.state_dict(), loaded.model.policy.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k].cpu(), after[k]) for k in before)
    assert getattr(loaded.model, "exploration_rate", None) == getattr(trained, "exploration_rate", None)
    venv = loaded.make_env("target", n_envs=2, seed=7)
    loaded.check_env(venv)
    obs, rng = venv.reset(), np.random.default_rng(0)
    for _ in range(12):
        np.testing.assert_array_equal(trained.predict(obs, deterministic=True)[0], loaded.predict(obs))
        obs = venv.step(rng.integers(3, size=2))[0]
    if variant == "darla_ft":  # the fine-tuned encoder comes back, not the folder's stage-1 copy
        def encoder(model):  # DQN's extractor sits in its Q-network
            return getattr(model.policy, "q_net", model.policy).features_extractor.model.state_dict()

        tuned, stage1 = encoder(loaded.model), vision.load_model(path / "encoder.pt").state_dict()
        assert all(torch.equal(v, tuned[k]) for k, v in encoder(trained).items())
        assert algo == "dqn" or any(not torch.equal(v, tuned[k]) for k, v in stage1.items()), "it was fine-tuned"


def test_sac_round_trips_through_the_storage_layer(tmp_path):
    """No darla env has continuous actions, so SAC's data-only save is checked on an untrained model."""
    import gymnasium
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", gymnasium.make("Pendulum-v1"), buffer_size=16, policy_kwargs={"net_arch": [8]},
                seed=0, device="cpu")
    with torch.no_grad():
        model.log_ent_coef.fill_(-0.5)
    storage.save(tmp_path, model, "sac", {"buffer_size": 16, "learning_rate": 3e-4})
    loaded = storage.load(tmp_path, SAC, "sac")
    obs = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert loaded.log_ent_coef.item() == pytest.approx(-0.5) and loaded.action_space == model.action_space


@pytest.fixture(scope="module")
def saved(tmp_path_factory, checkpoints):
    """A legitimate darla_ent agent: the folder every tampering test copies."""
    return train_tiny("darla_ent", "ppo", tmp_path_factory.mktemp("saved") / "agent", checkpoints, steps=16)[0]


def tampered(saved, tmp_path, name, content: bytes):
    folder = tmp_path / "agent"
    shutil.copytree(saved, folder)
    (folder / name).write_bytes(content)
    return folder


def torch_payload(marker) -> bytes:
    """A torch.save file whose unpickling (without weights_only) would run the payload."""
    import io

    buffer = io.BytesIO()
    torch.save({"format": "darla.vision/1", "model": Payload(marker)}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name, make, message", [
    ("agent.json", payload_bytes, "agent.json is not valid JSON"),
    ("policy.json", payload_bytes, "policy.json is not valid JSON"),
    ("policy.safetensors", payload_bytes, "does not match the sha256"),
    ("policy.safetensors", torch_payload, "does not match the sha256"),
    ("encoder.pt", torch_payload, "is not a readable vision checkpoint"),
])
def test_payloads_in_agent_files_never_run(saved, tmp_path, name, make, message):
    marker = tmp_path / "marker"
    folder = tampered(saved, tmp_path, name, make(marker))
    with pytest.raises((AgentFileError, CheckpointError), match=message):
        agents.load(folder)
    assert not marker.exists()


@pytest.mark.parametrize("make", [payload_bytes, torch_payload])
def test_payload_weights_with_a_matching_digest_are_still_only_parsed(saved, tmp_path, make):
    marker = tmp_path / "marker"
    folder = tampered(saved, tmp_path, "policy.safetensors", make(marker))
    description = json.loads((folder / "policy.json").read_text())
    description["weights_sha256"] = storage.sha256(folder / "policy.safetensors")
    (folder / "policy.json").write_text(json.dumps(description))
    with pytest.raises(AgentFileError, match="policy.safetensors does not hold this policy's weights"):
        agents.load(folder)
    assert not marker.exists()


def legacy_zip(path, marker):
    """An agent archive as darla < 0.2 wrote it (SB3's model.zip), with payloads in its pickled entries."""
    import base64
    import io

    buffer = io.BytesIO()
    torch.save(Payload(marker), buffer)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data", json.dumps({"policy_class": {":type:": "<class 'abc.ABCMeta'>",
                                                        ":serialized:": base64.b64encode(payload_bytes(marker)).decode()}}))
        z.writestr("policy.pth", buffer.getvalue())
        z.writestr("_stable_baselines3_version", "2.3.0")


def test_an_agent_saved_by_an_older_version_is_refused_unread(saved, tmp_path, capsys):
    marker = tmp_path / "marker"
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(saved / "agent.json", folder / "agent.json")
    shutil.copy(saved / "encoder.pt", folder / "encoder.pt")
    legacy_zip(folder / "model.zip", marker)
    with pytest.raises(AgentFileError, match="saved by an older darla version.*model.zip.*Retrain"):
        agents.load(folder)
    from darla.cli import main

    assert main(["transfer", str(folder), "--episodes", "1", "--out", str(tmp_path / "t")]) == 1
    assert "saved by an older darla version" in capsys.readouterr().err
    assert not marker.exists()


def test_a_vision_checkpoint_with_a_payload_is_refused(tmp_path):
    marker = tmp_path / "marker"
    (tmp_path / "checkpoint.pt").write_bytes(torch_payload(marker))
    with pytest.raises(CheckpointError, match="not a readable vision checkpoint"):
        vision.load_encoder(tmp_path / "checkpoint.pt")
    assert not marker.exists()


@pytest.mark.parametrize("record", ["stage.json", ".started.json"])
def test_stage_records_with_a_payload_are_refused_by_name(tmp_path, record):
    marker = tmp_path / "marker"
    stages = Stages(tmp_path / "run", log=lambda line: None)
    stages.run("collect", {"x": 1}, lambda folder: None)
    (tmp_path / "run" / "collect" / record).write_bytes(payload_bytes(marker))
    if record == "stage.json":
        with pytest.raises(ValueError, match=r"collect/stage.json is not a readable stage record"):
            Stages(tmp_path / "run", log=lambda line: None).run("collect", {"x": 1}, lambda folder: None)
    else:  # the finished record decides; a damaged start record of a finished stage is ignored
        Stages(tmp_path / "run", log=lambda line: None).run("collect", {"x": 1}, lambda folder: None)
    assert not marker.exists()


# -- path safety of agent folders ------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["../encoder.pt", "/etc/passwd", "sub/encoder.pt", "..", ".", "",
                                     "..\\encoder.pt", 3])
def test_agent_json_encoder_must_be_a_file_name_inside_the_folder(saved, tmp_path, encoder):
    folder = tmp_path / "agent"
    shutil.copytree(saved, folder)
    spec = json.loads((folder / "agent.json").read_text())
    (folder / "agent.json").write_text(json.dumps({**spec, "encoder": encoder}))
    with pytest.raises(AgentFileError, match="must be the name of a file inside the agent folder"):
        agents.load(folder)


def test_agent_json_encoder_may_not_be_a_link_out_of_the_folder(saved, tmp_path):
    folder = tmp_path / "agent"
    shutil.copytree(saved, folder)
    os.replace(folder / "encoder.pt", tmp_path / "elsewhere.pt")
    (folder / "encoder.pt").symlink_to(tmp_path / "elsewhere.pt")
    with pytest.raises(AgentFileError, match="not a path or link"):
        agents.load(folder)


def test_an_encoder_swapped_for_another_of_the_same_shape_is_refused(saved, tmp_path, checkpoints):
    folder = tmp_path / "agent"
    shutil.copytree(saved, folder)
    with FrameDataset(Path(checkpoints["vae"]).parent.parent / "frames.h5") as ds:
        frames = ds.frames[:]
    other = vision.fit(frames, method="vae", out_dir=tmp_path / "other", steps=2, batch_size=8, seed=7,
                       progress=False, tensorboard=False, device="cpu", threads=1)
    shutil.copyfile(other, folder / "encoder.pt")
    with pytest.raises(AgentFileError, match="is not the encoder the agent .* was trained on"):
        agents.load(folder)
    assert agents.load(saved).spec["encoder_sha256"]  # its own encoder still loads


def test_a_policy_of_another_algorithm_in_the_folder_is_refused(saved, tmp_path):
    folder = tmp_path / "agent"
    shutil.copytree(saved, folder)
    spec = json.loads((folder / "agent.json").read_text())
    (folder / "agent.json").write_text(json.dumps({**spec, "algo": "a2c", "extra_field": [1, 2]}))
    with pytest.raises(AgentFileError, match="describes a 'ppo' model but the agent record says 'a2c'"):
        agents.load(folder)
    (folder / "agent.json").write_text(json.dumps({**spec, "algo": "nope"}))
    with pytest.raises(AgentFileError, match="agent.json names variant 'darla_ent' and algorithm 'nope'"):
        agents.load(folder)


def test_unknown_agent_json_keys_ride_along(saved, tmp_path):
    folder = tmp_path / "agent"
    shutil.copytree(saved, folder)
    spec = json.loads((folder / "agent.json").read_text())
    (folder / "agent.json").write_text(json.dumps({**spec, "future": {"mean": [0.0]}}))
    assert agents.load(folder).spec["future"] == {"mean": [0.0]}


def test_dataset_attributes_with_a_payload_are_never_unpickled(tmp_path):
    """HDF5 attributes are read as strings, numbers or JSON: pickled bytes stay bytes."""
    import h5py

    marker = tmp_path / "marker"
    collect("darla/Room-v1", tmp_path / "d.h5", 8, progress=False, **SMALL)
    with h5py.File(tmp_path / "d.h5", "a") as f:
        f.attrs["payload"] = np.void(payload_bytes(marker))
        f.attrs["pickled_array"] = np.frombuffer(payload_bytes(marker), dtype=np.uint8)
    with FrameDataset(tmp_path / "d.h5") as ds:
        assert len(ds) == 8 and "payload" in ds.meta
    assert not marker.exists()
