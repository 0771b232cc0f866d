"""Reach's experiment plumbing: success rates from ``info["is_success"]`` through evaluation, the
transfer summary and its table; the disentanglement metrics and the transfer probe on Reach's
factors (whose ``source`` domain fixes one of them); the bad-input errors of the MuJoCo loader."""

import os
import sys

import gymnasium
import numpy as np
import pytest

import envs
from envs import reach
from eval import transfer
from eval.metrics import utils

from test_reach import needs_mujoco  # one render probe per session, in test_reach

ENV_ID = "darla/Reach-v0"


# -- success rates ----------------------------------------------------------------------------------
class _Counter(gymnasium.Env):
    """Three steps an episode; the return is 3 × the action; success when the action is positive
    (reported on the last step only, as SB3's convention and Reach do), unless ``report`` is off."""

    observation_space = gymnasium.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gymnasium.spaces.Box(-1, 1, (1,), np.float32)

    def __init__(self, report: bool = True):
        self.report, self.t = report, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t == 3
        info = {"is_success": bool(action[0] > 0)} if done and self.report else {}
        return np.zeros(1, np.float32), float(action[0]), False, done, info


def _venv(report: bool = True):
    from stable_baselines3.common.vec_env import DummyVecEnv

    return DummyVecEnv([lambda: _Counter(report), lambda: _Counter(report)])


def test_run_episodes_pairs_each_return_with_its_success_flag():
    def predict(obs, deterministic):  # env 0 succeeds (action 1), env 1 fails (action -0.5)
        return np.array([[1.0], [-0.5]], np.float32)

    flags: list[bool] = []
    returns = transfer.run_episodes(_venv(), predict, episodes=5, successes=flags)
    assert returns == [3.0, 3.0, -1.5, -1.5, -1.5]  # env 0 runs 2 episodes, env 1 runs 3
    assert flags == [True, True, False, False, False]
    silent: list[bool] = []
    assert transfer.run_episodes(_venv(report=False), predict, episodes=4, successes=silent) == [3.0, 3.0, -1.5, -1.5]
    assert silent == []  # an env that reports no success gets no flags, not False


def test_success_rate_is_aggregated_over_seeds_with_a_ci_and_tabled():
    rows = transfer.records("darla", 0, {"source": [1.0, 2.0], "target": [0.0, 1.0]},
                            {"source": [True, False], "target": [False, False]})
    rows += transfer.records("darla", 1, {"source": [3.0, 4.0], "target": [1.0, 1.0]},
                             {"source": [True, True], "target": [True, False]})
    summary = {(s["variant"], s["domain"]): s for s in transfer.summarize(rows, order=["source", "target"])}
    source, target = summary[("darla", "source")], summary[("darla", "target")]
    assert source["success"] == pytest.approx(0.75) and source["success_std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert target["success"] == pytest.approx(0.25)
    # resampling within each seed: seed 1's source flags are all True, so the pooled rate stays in [1/2, 1]
    assert 0.5 <= source["success_ci_low"] <= 0.75 <= source["success_ci_high"] <= 1.0
    table = transfer.markdown_table(list(summary.values()))
    assert "success %" in table.splitlines()[0]
    assert "| darla | source | 2 | 2.50 ± 1.41 |" in table and "| 75 ± 35 [" in table
    assert [r["success"] for r in rows[:2]] == [True, False]


def test_no_success_column_where_the_env_reports_none_and_flags_must_pair():
    rows = transfer.records("darla", 0, {"source": [1.0, 2.0]})
    assert "success" not in rows[0]
    summary = transfer.summarize(rows, order=["source"])
    assert "success" not in summary[0] and "success" not in transfer.markdown_table(summary)
    # one episode without a flag: no rate for that (variant, domain) rather than a rate of the rest
    mixed = rows + transfer.records("darla", 1, {"source": [1.0]}, {"source": [True]})
    assert "success" not in transfer.summarize(mixed, order=["source"])[0]
    with pytest.raises(ValueError, match="1 success flags on 'source' for 2 returns"):
        transfer.records("darla", 0, {"source": [1.0, 2.0]}, {"source": [True]})


def test_pipeline_report_reads_success_json(tmp_path):
    import json

    from darla.config import RunConfig
    from darla.pipeline import collect_rows

    config = RunConfig(env=ENV_ID, variants=["oracle"], seeds=[0])
    folder = tmp_path / "transfer" / "oracle" / "seed0"
    folder.mkdir(parents=True)
    (folder / "returns.json").write_text(json.dumps({"source": [5.0, 1.0]}))
    assert [r.get("success") for r in collect_rows(tmp_path, config)] == [None, None]  # a stage from before
    (folder / "success.json").write_text(json.dumps({"source": [True, False]}))
    assert [r["success"] for r in collect_rows(tmp_path, config)] == [True, False]


# -- metrics on Reach's factors ---------------------------------------------------------------------
def test_a_factor_fixed_by_the_domain_is_not_scored():
    space = envs.make_factor_space(ENV_ID)
    everywhere = utils.scored_factors(space)
    assert reach.STYLE in everywhere and len(everywhere) == space.num_factors
    for domain in ("source", "target", "ood", "render_shift"):  # each draws one render style only
        assert utils.scored_factors(space, domain) == [k for k in everywhere if k != reach.STYLE]
    assert utils.scored_factors(space, "source") == utils.scored_factors(space, "source")  # fixed generator


@needs_mujoco
def test_mig_dci_and_the_transfer_probe_run_on_reach():
    from eval import metrics

    space = envs.make_factor_space(ENV_ID)
    weights = np.random.default_rng(0).normal(size=(3 * 8 * 8, 6))

    def encode(frames):  # colour means of an 8 × 8 grid of patches, randomly projected: sees colours, not arms
        patches = frames.reshape(len(frames), 8, 8, 8, 8, 3).mean(axis=(2, 4)) / 255.0
        return patches.reshape(len(frames), -1) @ weights

    scores = metrics.evaluate(space, encode, ["mig", "dci", "probe"], seed=0, domain="source", num_train=300,
                              num_test=150, dci={"importance": "forest"})
    probe = scores["probe"]
    assert "accuracy.render_style" not in probe and "render_shift.object_x" in probe
    # the table and wall fill most of the frame: their colours are read far above chance on source,
    # and still above it on target's held-out colour pairs (less well: the code mixes the colours)
    for factor in ("table_colour", "background_colour"):
        assert probe[f"accuracy.{factor}"] > 3 * probe[f"chance.{factor}"]
        assert probe[f"accuracy.{factor}"] > probe[f"target.{factor}"] > 1.5 * probe[f"chance.{factor}"]
    assert 0.0 <= scores["mig"]["discrete_mig"] <= 1.0 and 0.0 <= scores["dci"]["disentanglement"] <= 1.0


@needs_mujoco
def test_the_metrics_document_names_the_factors_scored_in_its_domain():
    from eval.metrics import score_models

    space = envs.make_factor_space(ENV_ID)
    doc = score_models(space, {"colours": lambda frames: frames.reshape(len(frames), -1, 3).mean(axis=1)}, ["mig"],
                       seed=0, domain="source", settings={"num_train": 200})
    assert "render_style" not in doc["meta"]["factors"]  # fixed in source, so not scored there
    assert len(doc["meta"]["factors"]) == space.num_factors - 1


# -- bad input --------------------------------------------------------------------------------------
def test_mujoco_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco", None)  # `import mujoco` now raises ImportError
    monkeypatch.setenv("MUJOCO_GL", "egl")
    with pytest.raises(ImportError, match=r"darla/Reach-v0 needs MuJoCo: pip install 'darla\[mujoco\]'"):
        reach.import_mujoco()


def test_no_gl_back_end_names_mujoco_gl_and_its_values(monkeypatch):
    monkeypatch.delitem(sys.modules, "mujoco", raising=False)
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(reach, "_gl_works", lambda backend: (False, f"no {backend} here"))
    with pytest.raises(RuntimeError, match="MUJOCO_GL=egl: no egl here; MUJOCO_GL=osmesa: no osmesa here; "
                                           "MUJOCO_GL=glfw: no glfw here.*Set MUJOCO_GL.*egl, osmesa, glfw"):
        reach.import_mujoco()
    assert "MUJOCO_GL" not in os.environ  # a failed choice is not left behind for child processes


@needs_mujoco
def test_env_level_bad_input_fails_before_work():
    with pytest.raises(KeyError, match="unknown domain 'real'.*'render_shift'"):
        gymnasium.make(ENV_ID, domain="real")
    env = gymnasium.make(ENV_ID).unwrapped
    bad = np.zeros(10, np.int64)
    bad[reach.OBJECT_X] = 5  # a 5-cell grid: 0..4
    with pytest.raises(ValueError, match="factor 'object_x' takes values in \\[0, 5\\)"):
        env.reset(options={"factors": bad})


def test_a_run_asking_dqn_on_reach_is_refused_before_any_stage(tmp_path):
    from darla import config as config_module
    from darla.pipeline import run

    config = config_module.load("reach-tiny")
    config.agent.algo = "dqn"
    with pytest.raises(ValueError, match="dqn.*continuous.*a2c, ppo, sac"):
        run(config, tmp_path, log=lambda line: None)
    assert not (tmp_path / "reach-tiny" / "collect").exists()


@needs_mujoco
@pytest.mark.timeout(300)
def test_periodic_evaluation_logs_the_success_rate(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from darla import config as config_module
    from darla.pipeline import run

    data = config_module.load("reach-tiny").to_dict()
    data.update(variants=["oracle"], transfer={**data["transfer"], "domains": ["source", "target"], "episodes": 2})
    data["agent"].update(steps=300, eval_every=150, eval_episodes=2)
    run_dir = run(config_module.RunConfig.from_dict(data), tmp_path, log=lambda line: None)
    events = EventAccumulator(str(run_dir / "tb" / "agents" / "oracle_seed0"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"transfer/source/success", "transfer/target/success"} <= tags
    assert all(0 <= e.value <= 1 for e in events.Scalars("transfer/target/success"))
