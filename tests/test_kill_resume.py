"""``kill -9`` during each stage, then a re-run; and two ``darla run`` on one directory.

A driver process runs ``darla run`` on a tiny config with one hook: in the chosen stage, right
after it has written something (the first frames of the dataset, a vision checkpoint, an agent's
weights in its scratch folder, or when the evaluation starts), it signals and waits, so that the
kill lands inside the stage at a known point instead of at a random time. After the re-run, the
finished stages were reused, no temporary file is left, and the run directory holds what an
uninterrupted run writes (same data, models, returns and report).

About 10 s of CPU each (a driver process and a re-run); the collect and transfer kills, the
simplest, run with the slow tests (``make test-slow``)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import envs.dataset
import vision.checkpoint
from darla import config as config_module
from darla.pipeline import run

TINY = {"name": "tiny", "env": "darla/Room-v1", "env_kwargs": {"size": 16}, "variants": ["darla_dae"], "seeds": [0],
        "threads": 1, "collect": {"frames": 64, "sampling": "factors"},
        "vision": {"device": "cpu", "methods": {"dae": {"steps": 6, "checkpoint_every": 2, "batch_size": 16}}},
        "agent": {"algo": "ppo", "steps": 32, "hyperparams": {"n_envs": 2, "n_steps": 8, "batch_size": 16}},
        "transfer": {"episodes": 1}, "metrics": {"names": []}}
STAGES = ["collect", "vision/dae", "agent/darla_dae/seed0", "transfer/darla_dae/seed0"]

DRIVER = r'''
import pathlib, sys, time
stage, ready = sys.argv[1], pathlib.Path(sys.argv[2])

def pause():
    """Signal, then wait: for the kill, or (concurrency test) until the test says go."""
    ready.touch()
    go = ready.with_suffix(".go")
    while not go.exists():
        time.sleep(0.05)

def after(module, name):
    original = getattr(module, name)
    def hooked(*args, **kwargs):
        result = original(*args, **kwargs)
        pause()
        return result
    setattr(module, name, hooked)

if stage == "collect":
    import envs.dataset
    after(envs.dataset.DatasetWriter, "write")       # the dataset's temporary file is half written
elif stage == "vision":
    import vision.checkpoint
    after(vision.checkpoint, "save")                 # after the first intermediate checkpoint
elif stage == "agent":
    import agents.storage
    after(agents.storage, "save")                    # weights written in the agent's scratch folder
elif stage == "transfer":
    import eval.transfer
    def evaluate(*args, **kwargs):
        pause()
    eval.transfer.evaluate = evaluate

from darla.cli import main
sys.exit(main(["run", *sys.argv[3:]]))
'''


def start(stage, ready, config_file, runs, log):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-u", "-c", DRIVER, stage, str(ready), str(config_file), "--runs-dir",
                             str(runs)], stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_for(condition, proc, what, timeout=180):
    end = time.time() + timeout
    while not condition():
        if proc.poll() is not None or time.time() > end:
            raise AssertionError(f"the driver never reached {what} (exit code {proc.poll()})")
        time.sleep(0.05)


def leftovers(run_dir):
    """Temporary files, scratch folders and unfinished stage swaps below ``run_dir``."""
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.name.endswith((".tmp", ".pending")) or p.name.startswith(".saving.")
                  or p.name == ".darla.lock.holder.json")


def contents(run_dir):
    """What a finished run directory holds, less what differs between any two runs (timings, the
    random stage digests and the fingerprints made from them, TensorBoard event file names, the
    report's timing sentence)."""
    out = {}
    for path in sorted(run_dir.rglob("*")):
        rel = str(path.relative_to(run_dir))
        if not path.is_file() or "/tb/" in f"/{rel}":
            continue
        if path.name == "stage.json":
            record = json.loads(path.read_text())
            out[rel] = (record["settings"], record["inputs"], record["artifacts"])
        elif path.name == "source.h5":
            out[rel] = envs.dataset.recorded_digest(path)
        elif path.suffix == ".pt":
            out[rel] = vision.checkpoint.recorded_digest(path)
        elif path.name == "summary.json":  # less where the checkpoint is and how long this session took
            out[rel] = {k: v for k, v in json.loads(path.read_text()).items()
                        if k not in ("checkpoint", "steps_this_session", "seconds_this_session", "images_per_s")}
        elif path.name == "report.md":
            out[rel] = [line for line in path.read_text().splitlines() if "This invocation took" not in line]
        elif path.name in ("agent.json", "policy.json", ".started.json", ".darla.lock") or path.suffix in (".png", ".safetensors"):
            out[rel] = None  # present; their bytes hold versions, timings or floating-point noise of plotting
        else:
            out[rel] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, config_file):
    """What an uninterrupted run writes."""
    return contents(run(config_module.load(str(config_file)), tmp_path_factory.mktemp("reference"),
                        log=lambda line: None))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stage", [pytest.param("collect", marks=pytest.mark.slow), "vision", "agent",
                                   pytest.param("transfer", marks=pytest.mark.slow)])
def test_a_run_killed_during_a_stage_resumes_reusing_what_finished(stage, tmp_path, config_file, reference):
    ready = tmp_path / "ready"
    with open(tmp_path / "driver.log", "w") as log:
        proc = start(stage, ready, config_file, tmp_path / "runs", log)
        try:
            wait_for(ready.exists, proc, f"the {stage} stage")
        finally:
            proc.send_signal(signal.SIGKILL)  # kill -9
            proc.wait()
    run_dir = tmp_path / "runs" / "tiny"
    if stage == "collect":  # killed mid-write: the dataset's temporary file is left
        assert [p.name for p in (run_dir / "collect").iterdir() if p.name.endswith(".tmp")]
    if stage == "agent":  # and the agent's scratch folder
        assert [p.name for p in (run_dir / STAGES[2]).iterdir() if p.name.startswith(".saving.")]

    lines = []
    run(config_module.load(str(config_file)), tmp_path / "runs", log=lines.append)
    killed = STAGES.index(next(key for key in STAGES if key.startswith(stage)))
    assert [line for line in lines if line.startswith("[skip]")] == \
        [f"[skip] {key} (finished, same settings)" for key in STAGES[:killed]]
    assert f"[resume] {STAGES[killed]} (interrupted run with the same settings)" in lines
    assert [line.split()[1] for line in lines if line.startswith("[run]")] == STAGES[killed:]
    assert leftovers(run_dir) == []
    assert contents(run_dir) == reference


@pytest.mark.timeout(300)
def test_two_runs_on_one_directory_one_runs_the_other_fails_at_once(tmp_path, config_file, reference):
    runs = tmp_path / "runs"
    (runs / "tiny").mkdir(parents=True)  # both find the directory; whichever takes the lock first runs
    logs = [open(tmp_path / f"driver{i}.log", "w") for i in range(2)]
    readies = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [start("collect", readies[i], config_file, runs, logs[i]) for i in range(2)]
    try:
        wait_for(lambda: any(p.poll() is not None for p in procs), procs[0], "a decision on the lock")
        loser = next(i for i, p in enumerate(procs) if p.poll() is not None)
        winner = 1 - loser
        assert procs[loser].returncode == 1
        message = (tmp_path / f"driver{loser}.log").read_text()
        assert "darla run: error:" in message and "is in use by another darla process" in message
        assert "Traceback" not in message and not readies[loser].exists()
        wait_for(readies[winner].exists, procs[winner], "the collect stage")  # the winner holds the lock meanwhile
        readies[winner].with_suffix(".go").touch()
        assert procs[winner].wait(timeout=240) == 0, (tmp_path / f"driver{winner}.log").read_text()
    finally:
        for proc, log in zip(procs, logs):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    assert leftovers(runs / "tiny") == []
    assert contents(runs / "tiny") == reference


def worker_processes(parent: int) -> list[int]:
    """The stage workers (multiprocessing spawn children) of ``parent``, from /proc."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker processes from Linux's /proc")
@pytest.mark.timeout(300)
def test_a_killed_parallel_run_takes_its_stage_workers_with_it(tmp_path):
    """With jobs > 1 the stages run in worker processes; killing ``darla run`` must not leave them
    finishing stages nobody waits for, while a new run may already hold the directory."""
    config = {**TINY, "variants": ["oracle"], "seeds": [0, 1], "jobs": 2, "agent": {**TINY["agent"], "steps": 10_000_000}}
    (tmp_path / "long.json").write_text(json.dumps(config))
    with open(tmp_path / "run.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-u", "-m", "darla.cli", "run", str(tmp_path / "long.json"),
                                 "--runs-dir", str(tmp_path / "runs")], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        try:
            events = tmp_path / "runs" / "tiny" / "tb" / "agents" / "oracle_seed0"
            wait_for(lambda: any(events.glob("events*")), proc, "the agent training in its worker")
            workers: list[int] = []
            wait_for(lambda: bool(workers.extend(worker_processes(proc.pid)) or workers), proc, "a worker")
        finally:
            proc.kill()
            proc.wait()
    end = time.time() + 30
    while any(alive(pid) for pid in workers) and time.time() < end:
        time.sleep(0.2)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # leave nothing running, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "stage workers outlived their darla run"
