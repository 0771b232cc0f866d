"""User code reaches every darla process without a launcher: a config's ``imports``, ``--import``,
gymnasium's ``module:EnvId`` and installed entry points (``darla.envs``, ``darla.methods``, ``darla.metrics``)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from darla import cli, plugins

USER_MODULE = '''
"""A user's package: an env with ground truth and a vision method, registered on import."""
from dataclasses import dataclass

import gymnasium
import numpy as np
from gymnasium import spaces

import envs
from vision.methods.registry import register
from vision.methods.vae import BetaVAE


class DotSpace(envs.FactorSpace):
    def __init__(self):
        super().__init__([envs.Factor("x", 4), envs.Factor("shade", 4)], (16, 16, 3),
                         [envs.Domain("dim", lambda f: f[:, 1] < 2), envs.Domain("bright", lambda f: f[:, 1] >= 2)])

    def render(self, factors):
        frames = np.zeros((len(factors), 16, 16, 3), np.uint8)
        for frame, (x, shade) in zip(frames, factors):
            frame[6:10, 4 * x:4 * x + 4] = 60 * (shade + 1)
        return frames


class DotEnv(gymnasium.Env):
    def __init__(self, domain="dim"):
        self.factor_space = DotSpace()
        self.domain = self.factor_space.domain(domain).name
        self.observation_space = spaces.Box(0, 255, (16, 16, 3), np.uint8)
        self.action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.factor_space.sample(1, self.np_random, self.domain)[0].copy()
        self.state[0], self.t = 0, 0
        return self.factor_space.render(self.state[None])[0], {"factors": self.state.copy()}

    def step(self, action):
        self.state[0] = int(np.clip(self.state[0] + (1 if action else -1), 0, 3))
        self.t += 1
        done = bool(self.state[0] == 3)
        return self.factor_space.render(self.state[None])[0], float(done), done, self.t >= 8, {"factors": self.state.copy()}


envs.register_env("user/Dot-v0", DotEnv, "a dot to walk right, dim or bright")


@register
class UserVAE(BetaVAE):
    name = "user_vae"
    paper = "a user's method"
    summary = "beta-VAE registered by a user's module"

    @dataclass
    class Config(BetaVAE.Config):
        pass
'''


def test_a_user_module_in_imports_reaches_darla_run_and_its_workers(tmp_path):
    package = tmp_path / "code"
    package.mkdir()
    (package / "user_dot.py").write_text(USER_MODULE)
    config = {"name": "dot", "env": "user/Dot-v0", "imports": ["user_dot"], "variants": ["darla"], "seeds": [0],
              "jobs": 2, "threads": 1,
              "collect": {"frames": 64, "sampling": "factors"},
              "vision": {"method": "user_vae", "methods": {"user_vae": {"steps": 2, "batch_size": 16}}},
              "agent": {"steps": 32, "hyperparams": {"n_steps": 8, "batch_size": 32, "n_envs": 4}},
              "transfer": {"episodes": 2}}
    path = tmp_path / "dot.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "darla.cli", "run", str(path), "--runs-dir", str(tmp_path / "runs")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "runs" / "dot"
    assert (run_dir / "vision" / "user_vae" / "checkpoint.pt").exists()
    assert (run_dir / "agent" / "darla" / "seed0" / "agent.json").exists()   # trained in a spawned worker
    resolved = json.loads((run_dir / "config.json").read_text())
    assert resolved["transfer"]["domains"] == ["dim", "bright"] and resolved["imports"] == ["user_dot"]

    # without the import, the command cannot know the env; with --import it does
    listed = subprocess.run([sys.executable, "-m", "darla.cli", "envs", "--import", "user_dot"], env=env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert listed.returncode == 0 and "user/Dot-v0" in listed.stdout, listed.stderr


def test_a_failing_import_names_the_module_and_the_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_user_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["envs", "--import", "broken_user_mod"]) == 1
    err = capsys.readouterr().err
    assert "broken_user_mod" in err and "RuntimeError: boom at import" in err
    assert cli.main(["envs", "--import", "no_such_module_here"]) == 1
    assert "ModuleNotFoundError" in capsys.readouterr().err


def test_a_failing_entry_point_names_its_package_and_the_error(tmp_path, monkeypatch, capsys):
    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[darla.methods]\nmine = broken_plugin_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(plugins.PluginError, match=r"package 'broken-plugin' failed to import: ModuleNotFoundError"):
        plugins.load_entry_points()
    assert cli.main(["envs"]) == 1
    assert "broken-plugin" in capsys.readouterr().err


def test_an_entry_point_is_loaded_at_cli_start(tmp_path, monkeypatch):
    (tmp_path / "plugin_marker_mod.py").write_text("import builtins\nbuiltins._darla_plugin_seen = True\n")
    info = tmp_path / "marker_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: marker-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[darla.envs]\nmarker = plugin_marker_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["envs", "--json"]) == 0
    import builtins

    assert getattr(builtins, "_darla_plugin_seen", False)
    del builtins._darla_plugin_seen


def test_gymnasium_module_colon_id_is_accepted_and_joins_imports(tmp_path, monkeypatch):
    (tmp_path / "user_dot2.py").write_text(textwrap.dedent(USER_MODULE).replace("user/Dot-v0", "user/Dot2-v0")
                                           .replace('"user_vae"', '"user_vae2"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    from darla.config import RunConfig

    config = RunConfig.from_dict({"env": "user_dot2:user/Dot2-v0", "variants": ["pixels"],
                                  "collect": {"sampling": "factors"}}).validate()
    assert config.env == "user/Dot2-v0" and config.imports == ["user_dot2"]
    assert config.transfer.domains == ["dim", "bright"]
    assert Path(sys.modules["user_dot2"].__file__).parent == tmp_path
