"""The experiment pipeline: stage caching and resume, config handling, and a tiny end-to-end run."""

import csv
import json
import re

import numpy as np
import pytest

from darla import config as config_module
from darla.cli import main
from darla.pipeline import run, vision_plan
from darla.stages import Stages

# -- stages ---------------------------------------------------------------------------------------


def counting_work(calls, key):
    def work(folder):
        calls.append(key)
        (folder / "out.txt").write_text(key)
    return work


def test_finished_stages_are_skipped_and_rerun_after_a_change(tmp_path):
    calls = []
    stages = Stages(tmp_path, log=lambda line: None)
    stages.run("a", {"x": 1}, counting_work(calls, "a"))
    stages.run("b", {"y": 1}, counting_work(calls, "b"), inputs=["a"])
    again = Stages(tmp_path, log=lambda line: None)
    again.run("a", {"x": 1}, counting_work(calls, "a"))
    again.run("b", {"y": 1}, counting_work(calls, "b"), inputs=["a"])
    assert calls == ["a", "b"] and again.skipped == ["a", "b"]
    changed = Stages(tmp_path, log=lambda line: None)
    changed.run("a", {"x": 2}, counting_work(calls, "a"))
    changed.run("b", {"y": 1}, counting_work(calls, "b"), inputs=["a"])
    assert calls == ["a", "b", "a", "b"], "a changed setting re-runs the stage and what reads it"
    assert (tmp_path / "a.old-1" / "out.txt").exists(), "previous results are moved aside, not deleted"


def test_force_redoes_a_stage_prefix_and_its_dependents(tmp_path):
    calls = []
    first = Stages(tmp_path, log=lambda line: None)
    for key in ("vision/dae", "vision/vae"):
        first.run(key, {}, counting_work(calls, key))
    first.run("agent", {}, counting_work(calls, "agent"), inputs=["vision/vae"])
    forced = Stages(tmp_path, force=["vision"], log=lambda line: None)
    for key in ("vision/dae", "vision/vae"):
        forced.run(key, {}, counting_work(calls, key))
    forced.run("agent", {}, counting_work(calls, "agent"), inputs=["vision/vae"])
    assert calls == ["vision/dae", "vision/vae", "agent"] * 2


def test_an_interrupted_stage_resumes_in_place_and_finished_ones_are_kept(tmp_path):
    lines = []
    stages = Stages(tmp_path, log=lines.append)
    stages.run("done", {}, counting_work([], "done"))

    def crash(folder):
        (folder / "partial.ckpt").write_text("step 500")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stages.run("train", {"steps": 1000}, crash)
    seen = []
    resumed = Stages(tmp_path, log=lines.append)
    resumed.run("done", {}, counting_work([], "done"))
    resumed.run("train", {"steps": 1000}, lambda folder: seen.append((folder / "partial.ckpt").read_text()))
    assert seen == ["step 500"], "the unfinished stage finds its own partial work"
    assert resumed.skipped == ["done"] and any(line.startswith("[resume] train") for line in lines)


# -- config ---------------------------------------------------------------------------------------


def test_presets_load_and_unknown_ones_are_listed():
    assert {"quickstart", "room"} <= set(config_module.preset_names())
    room = config_module.load("room").validate()
    assert {"darla", "darla_ent", "darla_dae", "darla_ft", "pixels"} <= set(room.variants) and len(room.seeds) >= 3
    with pytest.raises(KeyError, match="no preset or config file 'quickstrat'.*quickstart.*room"):
        config_module.load("quickstrat")


def test_overrides_are_typed_and_checked():
    data = config_module.load("quickstart").to_dict()
    data = config_module.apply_overrides(data, ["agent.steps=5000", "seeds=0,1,2", "vision.methods.vae.z_dim=8",
                                                "agent.hyperparams.learning_rate=1e-4", "env_kwargs.size=48"])
    cfg = config_module.RunConfig.from_dict(data).validate()
    assert cfg.agent.steps == 5000 and cfg.seeds == [0, 1, 2] and cfg.env_kwargs == {"size": 48}
    assert cfg.vision.methods["vae"] == {"z_dim": 8} and cfg.agent.hyperparams == {"learning_rate": 1e-4}
    with pytest.raises(ValueError, match="unknown config key 'agent.stepz'.*steps"):
        config_module.apply_overrides(data, ["agent.stepz=1"])
    with pytest.raises(ValueError, match="agent.steps: expected a number"):
        config_module.apply_overrides(data, ["agent.steps=many"])
    with pytest.raises(ValueError, match="unknown variant.*'darla_xl'.*darla_ent"):
        config_module.RunConfig.from_dict({**data, "variants": ["darla_xl"]}).validate()
    with pytest.raises(ValueError, match="unknown RL algorithm 'trpo'"):
        config_module.RunConfig.from_dict(config_module.apply_overrides(data, ["agent.algo=trpo"])).validate()


def test_vision_plan_trains_the_dae_before_the_models_that_use_it():
    cfg = config_module.RunConfig(variants=["pixels", "darla", "darla_ent"])
    plan = vision_plan(cfg)
    assert sorted(plan) == ["beta_vae_dae", "dae", "vae"] and plan.index("dae") < plan.index("beta_vae_dae")
    assert vision_plan(config_module.RunConfig(variants=["pixels"])) == []


def test_one_config_line_swaps_darlas_backbone(tmp_path):
    swapped = config_module.RunConfig.from_dict({"variants": ["darla", "darla_dae"], "vision": {"method": "beta_tcvae"}})
    assert sorted(vision_plan(swapped)) == ["beta_tcvae", "dae"]
    with pytest.raises(Exception, match="unknown vision method 'beta_tcvea'.*beta_tcvae"):
        config_module.RunConfig.from_dict({"vision": {"method": "beta_tcvea"}}).validate()
    cfg = tiny_config(variants=["darla"], vision={"method": "beta_tcvae", "seed": 0, "device": "cpu",
                                                  "methods": {"beta_tcvae": {"steps": 3, "batch_size": 16}}})
    run_dir = run(cfg, tmp_path, log=lambda line: None)
    assert json.loads((run_dir / "agent" / "darla" / "seed0" / "agent.json").read_text())["variant"] == "darla"
    assert (run_dir / "vision" / "beta_tcvae" / "checkpoint.pt").exists()
    assert not (run_dir / "vision" / "beta_vae_dae").exists()


# -- end to end -----------------------------------------------------------------------------------

TINY = ["collect.frames=128", "agent.steps=128", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=64",
        "transfer.episodes=2", "threads=1", "metrics.names=[]"] + [f"vision.methods.{m}.{k}" for m in ("dae", "vae", "beta_vae_dae")
                                               for k in ("steps=3", "batch_size=16")]


def tiny_config(**changes):
    data = config_module.apply_overrides(config_module.load("room").to_dict(), TINY)
    data["vision"]["seeds"] = []  # one vision model (several seeds and selection: tests/test_vision_for_policy.py)
    data.update({"name": "tiny", "seeds": [0], **changes})
    return config_module.RunConfig.from_dict(data)


@pytest.mark.timeout(600)
def test_every_variant_runs_end_to_end_and_a_rerun_reuses_everything(tmp_path):
    lines = []
    run_dir = run(tiny_config(), tmp_path, log=lines.append)
    with open(run_dir / "transfer.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["variant"] for r in rows} == {"darla", "darla_ent", "darla_dae", "darla_ft", "pixels", "oracle"}
    shifts = set(config_module.load("room").transfer.shifts)  # the preset's visual shifts, evaluated like domains
    assert len(shifts) == 7 and len(rows) == 6 * 10 * 2
    assert {r["domain"] for r in rows} == {"source", "target", "ood"} | shifts
    summary = json.loads((run_dir / "transfer.json").read_text())["summary"]
    assert len(summary) == 60
    report = (run_dir / "report.md").read_text()
    assert "| darla_ft | target |" in report and (run_dir / "transfer.png").stat().st_size > 1000
    assert json.loads((run_dir / "config.json").read_text())["agent"]["steps"] == 128
    for method in ("dae", "vae", "beta_vae_dae"):
        assert (run_dir / "vision" / method / "checkpoint.pt").exists()

    lines.clear()
    run(tiny_config(), tmp_path, log=lines.append)
    assert not [line for line in lines if line.startswith("[run]")], "nothing re-runs"

    lines.clear()
    run(tiny_config(transfer={"domains": ["source", "target"], "episodes": 2, "seed": 3}), tmp_path, log=lines.append)
    ran = [line.split()[1] for line in lines if line.startswith("[run]")]
    assert ran and all(key.startswith("transfer/") for key in ran), "only the changed stage re-runs"


def test_cli_run_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["run", "nope", "--runs-dir", str(tmp_path)]) == 1
    assert re.search(r"no preset or config file 'nope'; presets: \[.*'quickstart'.*'room'.*\]", capsys.readouterr().err)
    assert main(["run", "quickstart", "variants=darla,oracles", "--runs-dir", str(tmp_path)]) == 1
    assert "unknown variant(s) ['oracles']" in capsys.readouterr().err
    # overrides may also follow options; they still reach (and are checked against) the config
    assert main(["run", "quickstart", "--runs-dir", str(tmp_path), "variants=darla,oracles"]) == 1
    assert "unknown variant(s) ['oracles']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "quickstart", "--runs-dir", str(tmp_path), "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [], "bad input creates no run directory"


@pytest.mark.timeout(600)
def test_parallel_jobs_give_the_same_results_as_sequential(tmp_path):
    changes = {"variants": ["darla_ent", "pixels"], "seeds": [0, 1]}
    sequential = run(tiny_config(**changes), tmp_path / "seq", log=lambda line: None)
    parallel = run(tiny_config(jobs=2, **changes), tmp_path / "par", log=lambda line: None)
    a = json.loads((sequential / "transfer.json").read_text())["episodes"]
    b = json.loads((parallel / "transfer.json").read_text())["episodes"]
    assert a == b and len(a) == 2 * 2 * 10 * 2  # 3 domains and the room preset's 7 visual shifts


@pytest.mark.timeout(600)
def test_vision_models_are_scored_next_to_their_transfer_results(tmp_path):
    cfg = tiny_config(variants=["darla_ent"], metrics={"names": ["mig", "sap", "probe"], "domain": "source", "seed": 0,
                                                         "settings": {"num_train": 200, "num_test": 100}})
    run_dir = run(cfg, tmp_path, log=lambda line: None)
    scores = json.loads((run_dir / "metrics" / "vae" / "scores.json").read_text())
    assert set(scores) == {"mig", "sap", "probe"} and 0 <= scores["mig"]["discrete_mig"] <= 1
    probe = scores["probe"]
    assert {"target.hat_cell", "ood.hat_cell"} <= set(probe)  # every other Room domain
    assert {"accuracy.hat_bearing", "target.lolly_distance"} <= set(probe)  # the Room's views are probed too
    factors = [k for k in probe if k.startswith("accuracy.") and not k.endswith(("_bearing", "_distance"))]
    assert probe["mean_accuracy"] == pytest.approx(np.mean([probe[k] for k in factors]))  # views not averaged
    report = (run_dir / "report.md").read_text()
    assert "## Disentanglement of the vision models" in report and "| vae |" in report
    assert "accuracy.hat_cell" not in report  # the probe gets its own table, one row per factor
    assert "| factor | chance | vae source | vae ood | vae target |" in report and "| hat_cell |" in report
    assert list((run_dir / "tb" / "metrics").rglob("events.out.tfevents*"))


def test_training_logs_source_returns_and_periodic_target_evaluation(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_config(variants=["darla_ent"], agent={"algo": "ppo", "steps": 1024, "eval_every": 512,
                                                     "eval_episodes": 2,
                                                     "hyperparams": {"n_steps": 16, "batch_size": 64}})
    run_dir = run(cfg, tmp_path, log=lambda line: None)
    events = EventAccumulator(str(run_dir / "tb" / "agents" / "darla_ent_seed0"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"transfer/source", "transfer/target", "transfer/ood", "rollout/ep_rew_mean"} <= tags
    assert len(events.Scalars("transfer/target")) >= 2, "evaluated periodically, not once"
    assert not [t for t in tags if t.endswith("/success")], "the Room reports no success: no success curve"


@pytest.mark.timeout(300)
def test_report_rebuilds_the_tables_from_finished_stages_and_names_missing_ones(tmp_path, capsys):
    """`darla report` is how stages run on two machines become one table: it runs nothing."""
    run_dir = run(tiny_config(variants=["oracle"], seeds=[0, 1], metrics={"names": []}), tmp_path, log=lambda line: None)
    table = (run_dir / "transfer.md").read_text()
    merged = run_dir.parent / "merged"  # seed 1 "ran elsewhere": copied in, next to seed 0's folders
    merged.mkdir()
    for item in ("config.json", "agent", "transfer"):
        (merged / item).symlink_to(run_dir / item)
    assert main(["report", str(merged)]) == 0
    assert (merged / "transfer.md").read_text() == table
    assert "Rebuilt by `darla report`" in (merged / "report.md").read_text()
    assert not (merged / "collect").exists() and not (merged / "vision").exists(), "nothing ran"
    capsys.readouterr()

    # a later invocation's config.json says otherwise: the report states what the rows ran
    assert main(["report", str(merged), "agent.steps=999999", "agent.hyperparams.gamma=0.5"]) == 0
    report = (merged / "report.md").read_text()
    steps = json.loads((run_dir / "agent" / "oracle" / "seed0" / "stage.json").read_text())["settings"]["steps"]
    assert "999,999" not in report and f"ppo for {steps:,} steps" in report and "gamma=0.5" not in report
    assert f"| oracle | 1 | ppo | {steps:,} |" in report
    capsys.readouterr()

    assert main(["report", str(merged), "variants=oracle,pixels"]) == 1
    assert "no finished transfer/pixels/seed0, transfer/pixels/seed1" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    assert "has no config.json" in capsys.readouterr().err


def test_the_plan_is_a_graph_each_task_after_what_it_reads():
    from darla.pipeline import plan

    cfg = tiny_config(variants=["darla", "darla_dae", "pixels"], seeds=[0, 1])
    cfg.vision.seeds, cfg.metrics.names = [0, 1], ["probe"]
    tasks = {t.key: t for t in plan(cfg)}
    order = list(tasks)
    assert tasks["vision/dae"].needs == () and tasks["agent/pixels/seed1"].needs == ()
    assert tasks["vision/beta_vae_dae-seed1"].needs == ("vision/dae",)
    assert tasks["metrics/beta_vae_dae-seed0"].needs == ("vision/beta_vae_dae-seed0",)
    assert tasks["select/beta_vae_dae"].needs == ("vision/beta_vae_dae-seed0", "vision/beta_vae_dae-seed1")
    assert tasks["agent/darla/seed0"].needs == ("select/beta_vae_dae",)
    assert tasks["agent/darla_dae/seed1"].needs == ("vision/dae",)
    for task in tasks.values():  # the serial order runs everything after what it needs
        assert all(order.index(n) < order.index(task.key) for n in task.needs), task


@pytest.mark.timeout(600)
def test_parallel_jobs_start_what_needs_no_vision_alongside_stage_one(tmp_path):
    lines = []
    run(tiny_config(variants=["darla_ent", "oracle"], jobs=2), tmp_path, log=lines.append)
    starts = [line.split()[1] for line in lines if line.startswith("[start]")]
    assert set(starts[:2]) == {"vision/vae", "agent/oracle/seed0"}, starts
    assert starts[2] == "agent/darla_ent/seed0"


def test_per_input_rl_settings_reach_only_the_variants_that_read_that_input():
    base = config_module.load("quickstart").to_dict()
    cfg = config_module.RunConfig.from_dict(config_module.apply_overrides(
        base, ["agent.hyperparams.gamma=0.9", "agent.per_input.latents.n_epochs=10",
               "agent.per_input.latents.learning_rate=1e-3"])).validate()
    assert cfg.agent_hyperparams("darla") == {"gamma": 0.9, "n_epochs": 10, "learning_rate": 1e-3}
    assert cfg.agent_hyperparams("pixels") == {"gamma": 0.9}
    for bad, message in ((["agent.per_input.pixels.n_epochs=3"], r"agent.per_input: keys are what a policy reads"),
                         (["agent.per_input.latents.n_epoch=3"], r"agent.per_input.latents: ppo has no setting\(s\) \['n_epoch'\]")):
        with pytest.raises(ValueError, match=message):
            config_module.RunConfig.from_dict(config_module.apply_overrides(base, bad)).validate()
