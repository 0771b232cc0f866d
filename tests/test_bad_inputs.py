"""Bad input is refused before any stage runs, with a message naming the problem, and a finished
run directory is byte-identical afterwards; a second writer is locked out; a failed run never moves
a finished stage aside."""

import hashlib
import json
import subprocess
import sys
import time

import pytest

from darla import config as config_module
from darla.cli import main
from darla.pipeline import run
from darla.stages import RunLockedError, Stages, locked

TINY = {"name": "tiny", "env": "darla/Room-v1", "variants": ["oracle"], "seeds": [0], "threads": 1,
        "collect": {"frames": 32}, "agent": {"algo": "ppo", "steps": 64, "hyperparams": {"n_steps": 8, "batch_size": 32}},
        "transfer": {"episodes": 1}, "metrics": {"names": []}}


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run (oracle only: no vision stage) and the config file it ran from."""
    root = tmp_path_factory.mktemp("bad")
    config_file = root / "tiny.json"
    config_file.write_text(json.dumps(TINY))
    run_dir = run(config_module.load(str(config_file)), root / "runs", log=lambda line: None)
    return config_file, run_dir


# -- the CLI on a finished run: refused, nothing changes ----------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["vision.methods.beta_vae_dae.betta=4"], "unknown hyperparameter 'betta'"),
    (["vision.methods.beta_vae_dae.beta=high"], "beta='high' has the wrong type"),
    (["vision.methods.nope.beta=4"], "unknown vision method 'nope'"),
    (["agent.hyperparams.learning_rat=1e-4"], "ppo has no setting(s) ['learning_rat']"),
    (["metrics.names=[mig]", "metrics.settings.num_trian=5"], "no selected metric (mig) has a setting 'num_trian'"),
    (["metrics.names=[nope]"], "unknown metric 'nope'"),
    (["collect.frames=1.5"], "collect.frames must be a whole number, got 1.5"),
    (["collect.frames=0"], "collect.frames must be positive"),
    (["collect.frames=1000000000000"], "collect.frames=1,000,000,000,000 is more than 10,000,000"),
    (["seeds=[a]"], "seeds[0] must be a whole number, got 'a'"),
    (["seeds=[]"], "seeds must be a non-empty list"),
    (["seeds=[1,1]"], "distinct integers"),
    (["agent.steps=-5"], "agent.steps must be positive, got -5"),
    (["agent.steps=1.5"], "agent.steps must be a whole number"),
    (["transfer.episodes=0"], "transfer.episodes must be positive"),
    (["transfer.domains=[target]"], "must include the source domain 'source'"),
    (["threads=0"], "threads must be positive"),
    (["jobs=0"], "jobs must be positive"),
    (["agent.eval_every=-1"], "agent.eval_every must be >= 0"),
    (["vision.seeds=[3]"], "vision.seeds must be empty"),
    (["variants=[oracles]"], "unknown variant(s) ['oracles']"),
    (["agent.algo=nope"], "unknown RL algorithm 'nope'"),
    (["agent.stepz=5"], "unknown config key 'agent.stepz'"),
    (["collect.frames=1.5", "agent.steps=0"], "collect.frames must be a whole number, got 1.5; agent.steps must be positive"),
    (["--force", "nonsense"], "--force 'nonsense' names no stage"),
])
def test_bad_run_input_is_refused_and_the_finished_run_is_untouched(finished, capsys, args, message):
    config_file, run_dir = finished
    before = snapshot(run_dir)
    code = main(["run", str(config_file), "--runs-dir", str(run_dir.parent), *args])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("name", ["../escape", "/tmp/escape-abs", "", ".", "..", "a/b", "a\\b", " "])
def test_run_names_are_one_folder_inside_the_runs_dir(tmp_path, capsys, name):
    runs = tmp_path / "runs"
    runs.mkdir()
    with pytest.raises(ValueError, match="must be one plain folder name"):
        run(config_module.RunConfig.from_dict({**TINY, "name": name}), runs, log=lambda line: None)
    assert main(["run", "quickstart", f"name={name}", "--runs-dir", str(runs)]) == 1
    assert "must be one plain folder name" in capsys.readouterr().err
    assert list(runs.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_the_readmes_bracket_lists_are_accepted():
    data = config_module.apply_overrides(config_module.load("quickstart").to_dict(),
                                         ["variants=[oracle]", "seeds=[0, 1]", "metrics.names=[mig,sap]"])
    cfg = config_module.RunConfig.from_dict(data).validate()
    assert cfg.variants == ["oracle"] and cfg.seeds == [0, 1] and cfg.metrics.names == ["mig", "sap"]


# -- other commands ----------------------------------------------------------------------------------
@pytest.mark.parametrize("frames, message", [(10**12, "--frames 1,000,000,000,000 is out of range"),
                                             (0, "--frames 0 is out of range")])
def test_collect_refuses_absurd_frame_counts_before_writing(tmp_path, capsys, frames, message):
    assert main(["collect", "darla/Room-v1", "--frames", str(frames), "--out", str(tmp_path / "x.h5")]) == 1
    assert message in capsys.readouterr().err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [(["--episodes", "0"], "--episodes 0 is out of range"),
                                           (["--episodes", "-3"], "--episodes -3 is out of range"),
                                           (["--domains", ","], "names no domain")])
def test_transfer_refuses_bad_counts_and_domains(finished, tmp_path, capsys, args, message):
    agent = finished[1] / "agent" / "oracle" / "seed0"
    assert main(["transfer", str(agent), "--out", str(tmp_path / "t"), *args]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "t").exists()


def test_transfer_names_a_damaged_agent_record(finished, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished[1], copy)
    (copy / "agent" / "oracle" / "seed0" / "agent.json").write_text("{truncated")
    assert main(["transfer", str(copy / "agent" / "oracle" / "seed0"), "--out", str(tmp_path / "t")]) == 1
    assert "agent.json is not valid JSON" in capsys.readouterr().err


# -- locking -----------------------------------------------------------------------------------------
def test_a_second_lock_on_a_run_directory_fails_at_once_naming_the_holder(tmp_path):
    with locked(tmp_path):
        begin = time.monotonic()
        with pytest.raises(RunLockedError, match=rf"\.darla\.lock is held \(held by pid {__import__('os').getpid()}"):
            with locked(tmp_path):
                pass
        assert time.monotonic() - begin < 2
    with locked(tmp_path):  # released: the next writer gets it
        pass


def test_a_second_darla_run_on_a_locked_directory_fails_fast(finished, capsys):
    """Another process holds the run directory: `darla run` fails before touching anything."""
    config_file, run_dir = finished
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom darla.stages import locked\n"
                               "with locked(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)",
                               str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(run_dir)
        begin = time.monotonic()
        assert main(["run", str(config_file), "--runs-dir", str(run_dir.parent), "--force", "transfer"]) == 1
        assert time.monotonic() - begin < 30, "fails at once, without waiting for the lock"
        err = capsys.readouterr().err
        assert ".darla.lock is held" in err and f"pid {holder.pid}" in err
        assert snapshot(run_dir) == before
    finally:
        holder.kill()
        holder.wait()


# -- a failed run never moves a finished stage aside ----------------------------------------------------
def test_a_failing_stage_with_new_settings_leaves_the_finished_one_in_place(tmp_path):
    stages = Stages(tmp_path, log=lambda line: None)
    stages.run("vision/dae", {"steps": 3}, lambda folder: (folder / "checkpoint.pt").write_text("v1"))
    before = snapshot(tmp_path / "vision" / "dae")

    def crash(folder):
        (folder / "checkpoint.pt").write_text("half of v2")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        Stages(tmp_path, log=lambda line: None).run("vision/dae", {"steps": 4}, crash)
    assert snapshot(tmp_path / "vision" / "dae") == before, "the finished stage stays where it was"
    assert not list((tmp_path / "vision").glob("dae.old-*"))
    again = Stages(tmp_path, log=lambda line: None)
    again.run("vision/dae", {"steps": 3}, lambda folder: pytest.fail("must be reused"))
    assert again.skipped == ["vision/dae"]
    seen = []
    lines = []
    resumed = Stages(tmp_path, log=lines.append)
    resumed.run("vision/dae", {"steps": 4}, lambda folder: seen.append((folder / "checkpoint.pt").read_text()))
    assert seen == ["half of v2"], "the new settings resume their own unfinished work"
    assert (tmp_path / "vision" / "dae.old-1" / "checkpoint.pt").read_text() == "v1", "replaced only once finished"
    assert not (tmp_path / "vision" / "dae.pending").exists() and any("[replace]" in line for line in lines)


def test_a_swap_cut_short_by_a_kill_is_completed(tmp_path):
    stages = Stages(tmp_path, log=lambda line: None)
    stages.run("a", {"x": 1}, lambda folder: (folder / "out").write_text("1"))
    stages.run("a", {"x": 2}, lambda folder: (folder / "out").write_text("2"))
    (tmp_path / "a").rename(tmp_path / "a.pending")  # killed between moving the old aside and renaming
    again = Stages(tmp_path, log=lambda line: None)
    again.run("a", {"x": 2}, lambda folder: pytest.fail("finished work must be reused"))
    assert (tmp_path / "a" / "out").read_text() == "2" and again.skipped == ["a"]


def test_a_failing_pipeline_stage_keeps_the_finished_one(finished, tmp_path, monkeypatch):
    import shutil

    import darla.pipeline

    config_file, run_dir = finished
    copy = tmp_path / "runs" / "tiny"
    shutil.copytree(run_dir, copy)
    before = snapshot(copy / "transfer")

    def broken(*args):
        raise RuntimeError("evaluation crashed")

    monkeypatch.setattr(darla.pipeline, "_evaluate", broken)
    with pytest.raises(RuntimeError, match="evaluation crashed"):
        run(config_module.RunConfig.from_dict({**TINY, "transfer": {"episodes": 2}}), tmp_path / "runs",
            log=lambda line: None)
    transfer = copy / "transfer" / "oracle"
    assert sorted(p.name for p in transfer.iterdir()) == ["seed0", "seed0.pending"]
    assert {k: v for k, v in snapshot(copy / "transfer").items() if not k.startswith("oracle/seed0.pending")} == before


def test_act_see_and_transfer_lock_their_output_folder(tmp_path, capsys):
    from darla.cli import main

    agent, data = tmp_path / "agent", tmp_path / "frames.h5"
    assert main(["act", "--variant", "oracle", "--steps", "64", "--out", str(agent), "n_steps=8",
                 "batch_size=64"]) == 0
    assert main(["collect", "darla/Room-v1", "--frames", "32", "--out", str(data)]) == 0
    capsys.readouterr()
    out = tmp_path / "busy"
    out.mkdir()
    with locked(out):
        for command in (["act", "--variant", "oracle", "--steps", "64", "--out", str(out)],
                        ["transfer", str(agent), "--episodes", "1", "--domains", "source", "--out", str(out)],
                        ["see", "--data", str(data), "--method", "ae", "--out", str(out), "steps=1"]):
            assert main(command) == 1, command[0]
            assert "in use by another darla process" in capsys.readouterr().err, command[0]
    assert sorted(p.name for p in out.iterdir()) == [".darla.lock"], "nothing was written while it was locked"


@pytest.mark.parametrize("command, kind", [
    (["act", "--variant", "oracle", "--steps", "64"], "file"),
    (["see", "--data", "x.h5"], "file"),
    (["transfer", "agent"], "file"),
    (["collect", "darla/Room-v1", "--frames", "10"], "folder"),
    (["preview", "darla/Room-v1"], "folder"),
    (["metrics", "a.pt", "--env", "dsprites"], "folder"),
])
def test_an_output_path_of_the_wrong_kind_fails_before_any_work(tmp_path, capsys, command, kind):
    from darla.cli import main

    target = tmp_path / "existing"
    if kind == "file":
        target.write_text("keep me")
    else:
        target.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main([*command, "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"--out {target} is " in err and ("a folder" in err)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    if kind == "file":
        assert target.read_text() == "keep me"
