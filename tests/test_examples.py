"""The example configs in examples/ (CarRacing, MiniWorld, MuJoCo Reacher from pixels) as a user runs them:
`darla run examples/NAME.json` end to end at a tiny budget, in a subprocess. Each needs a simulator from an
optional extra, so each is skipped, with the extra to install, where that extra is absent (`make test`
installs all three). Each end-to-end run takes 10-16 s on 2 cores, mostly a fresh interpreter's imports
and the simulator's start."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darla import config as config_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# example -> (the extra that installs its simulator, the modules that extra provides)
EXTRAS = {
    "carracing": ("box2d", ("Box2D", "pygame")),
    "miniworld": ("miniworld", ("miniworld", "pyglet")),
    "reacher": ("mujoco", ("mujoco", "imageio")),
}
# off-screen rendering on a machine without a display (docs/your_env.md says the same to users)
HEADLESS = {"MUJOCO_GL": "egl", "PYGLET_HEADLESS": "1"}
TINY = ["threads=1", "jobs=1", "collect.frames=48", "transfer.episodes=1", "env_kwargs.max_episode_steps=12",
        "agent.steps=32", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=32", "agent.hyperparams.n_envs=4",
        *(f"vision.methods.{m}.{k}={v}" for m in ("dae", "beta_vae_dae") for k, v in (("steps", 2), ("batch_size", 16)))]


def missing_extra(name: str) -> str | None:
    """Why the example cannot run here (its extra is not installed), or None."""
    extra, modules = EXTRAS[name]
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        return f"the [{extra}] extra is not installed (no {', '.join(absent)}): pip install -e '.[{extra}]'"
    return None


def needs_extra(name: str):
    reason = missing_extra(name)
    return pytest.param(name, marks=pytest.mark.skipif(reason is not None, reason=reason or ""), id=name)


def test_every_example_has_an_extra_that_pyproject_declares():
    names = sorted(p.stem for p in EXAMPLES.glob("*.json"))
    assert names == sorted(EXTRAS)
    text = (ROOT / "pyproject.toml").read_text()
    extras = re.search(r"\[project\.optional-dependencies\]\n(.*?)\n\[", text, re.S).group(1)
    for name, (extra, _) in EXTRAS.items():
        line = re.search(rf"^{extra} = \[(.*)\]", extras, re.M)
        assert line, f"examples/{name}.json needs the [{extra}] extra, which pyproject.toml does not declare"
    assert "imageio" in re.search(r"^mujoco = \[(.*)\]", extras, re.M).group(1), \
        "gymnasium's MuJoCo envs import imageio to render"


@pytest.mark.parametrize("name", sorted(EXTRAS))
def test_examples_load_as_level1_configs_with_the_source_first(name):
    """No simulator needed: the file parses into a RunConfig, declares its domains (the source first, a
    target), and every override the end-to-end test shrinks it with names a real key."""
    config = config_module.load(str(EXAMPLES / f"{name}.json"))
    assert config.name == name and not config.ground_truth
    assert list(config.domains)[:2] == ["source", "target"] and config.domains["source"] != config.domains["target"]
    assert set(config.variants) == {"darla", "pixels"}
    shrunk = config_module.RunConfig.from_dict(config_module.apply_overrides(config.to_dict(), TINY))
    assert shrunk.agent.steps == 32 and shrunk.vision.methods["beta_vae_dae"]["steps"] == 2
    assert shrunk.vision.methods["beta_vae_dae"]["network"] == "darla"   # overrides keep the file's other settings


def test_the_carracing_config_in_the_docs_is_the_example_file():
    text = (ROOT / "docs" / "your_env.md").read_text()
    block = re.search(r"```json\n(\{\n  \"name\": \"carracing\".*?)```", text, re.S)
    assert block, "docs/your_env.md shows examples/carracing.json inline"
    assert json.loads(block.group(1)) == json.loads((EXAMPLES / "carracing.json").read_text())


def _first_frame(config, domain: str) -> np.ndarray:
    import envs

    env = envs.registry.make_env(config.env, domain=domain, **config.env_kwargs)
    try:
        return env.reset(seed=0)[0]
    finally:
        env.close()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", [needs_extra(n) for n in sorted(EXTRAS)])
def test_darla_run_example_end_to_end_at_a_tiny_budget(name, tmp_path, monkeypatch):
    env = {**os.environ, **{k: os.environ.get(k, v) for k, v in HEADLESS.items()}, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "darla.cli", "run", f"examples/{name}.json", "--runs-dir",
                           str(tmp_path / "runs"), *TINY], env=env, capture_output=True, text=True, timeout=880,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "runs" / name
    resolved = json.loads((run_dir / "config.json").read_text())
    domains = list(json.loads((EXAMPLES / f"{name}.json").read_text())["domains"])
    assert resolved["transfer"]["domains"] == domains and resolved["collect"]["domain"] == "source"
    summary = json.loads((run_dir / "transfer.json").read_text())["summary"]
    assert {(s["variant"], s["domain"]) for s in summary} == {(v, d) for v in ("darla", "pixels") for d in domains}
    assert "has no ground truth" in (run_dir / "report.md").read_text()

    # the target really looks different from the source: same reset seed, other pixels
    for key, value in HEADLESS.items():
        monkeypatch.setenv(key, os.environ.get(key, value))
    config = config_module.load(str(EXAMPLES / f"{name}.json")).validate()
    source, target = _first_frame(config, "source"), _first_frame(config, "target")
    assert source.shape == target.shape and source.shape[0] % 16 == 0 and source.shape[1] % 16 == 0
    assert np.abs(source.astype(int) - target.astype(int)).mean() > 5
