"""Sweeps (darla.sweep) on every back-end, their resume and bad input; the study's statistics (eval.study)."""

import json
import shutil
import sys

import numpy as np
import pytest
from scipy import stats

from darla import study, sweep
from darla.cli import main
from darla.stages import RunLockedError, locked
from eval import study as stats_study

TINY = ["collect.frames=128", "agent.steps=128", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=64",
        "transfer.episodes=2", "threads=1", "metrics.names=[]", "variants=[darla]", "vision.seeds=[]"] + [
    f"vision.methods.{m}.{k}" for m in ("dae", "beta_vae_dae") for k in ("steps=3", "batch_size=16")]


def tiny_spec(**axes):
    return {"base": "room", "overrides": list(TINY),
            "axes": axes or {"vision.methods.beta_vae_dae.beta": [1, 4], "seeds": [0, 1]}}


def returns(sweep_dir):
    """Every point's transfer returns, by point and stage."""
    return {str(p.relative_to(sweep_dir)): json.loads(p.read_text())
            for p in sorted((sweep_dir / "points").glob("*/transfer/*/*/returns.json"))}


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serial") / "sweep"
    outcome = sweep.run(tiny_spec(), folder, backend="serial", log=lambda line: None, progress=False)
    return folder, outcome


@pytest.mark.timeout(1200)
def test_a_four_point_sweep_shares_stage_one_and_matches_on_processes(serial_sweep, tmp_path):
    folder, outcome = serial_sweep
    assert len(outcome.points) == 4 and len(returns(folder)) == 4
    ran = [key.split("/", 1)[1] for key in outcome.ran]
    assert ran.count("collect") == 1 and ran.count("vision/dae") == 1, "one dataset, one DAE for every point"
    assert ran.count("vision/beta_vae_dae") == 2, "one β-VAE-DAE per β, shared by both agent seeds"
    assert sum(key.endswith("/collect") for key in outcome.shared) == 3
    for point in outcome.points:  # each point is an ordinary, complete run directory
        assert (folder / "points" / point.name / "report.md").exists()
    assert "beta-1__seeds-0" in {p.name for p in outcome.points}

    parallel = sweep.run(tiny_spec(), tmp_path / "par", backend="processes", workers=2, log=lambda line: None,
                         progress=False)
    assert returns(tmp_path / "par") == returns(folder), "the same numbers on both back-ends"
    assert len(parallel.ran) == len(outcome.ran)


@pytest.mark.timeout(600)
def test_a_resumed_sweep_reruns_nothing_finished(serial_sweep, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(serial_sweep[0], folder)
    again = sweep.run(tiny_spec(), folder, backend="serial", log=lambda line: None, progress=False)
    assert again.ran == [] and again.shared == [] and len(again.kept) == 4 * 5
    # a sweep killed before one agent's evaluation: only that stage runs
    shutil.rmtree(folder / "points" / "beta-4__seeds-1" / "transfer")
    resumed = sweep.run(tiny_spec(), folder, backend="serial", log=lambda line: None, progress=False)
    assert resumed.ran == ["beta-4__seeds-1/transfer/darla/seed1"]
    assert returns(folder) == returns(serial_sweep[0])


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_ray_backend_runs_the_same_sweep(serial_sweep, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray back-end needs the [ray] extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        sweep.run(tiny_spec(), tmp_path / "ray", backend="ray", log=lambda line: None, progress=False)
    finally:
        ray.shutdown()
    assert returns(tmp_path / "ray") == returns(serial_sweep[0])


def test_ray_resources_follow_the_stage():
    from darla.config import RunConfig
    from darla.pipeline import Task

    config = RunConfig(vision=RunConfig().vision.__class__(device="cuda"))
    config.agent.device = "cuda"
    assert sweep.resources_for(Task("vision", "vision/dae"), config, gpus=True) == {"num_cpus": 1, "num_gpus": 1}
    assert sweep.resources_for(Task("agent", "a", variant="pixels"), config, gpus=True)["num_gpus"] == 1
    assert sweep.resources_for(Task("agent", "a", variant="darla"), config, gpus=True) == {"num_cpus": 1,
                                                                                          "num_gpus": 0}
    assert sweep.resources_for(Task("vision", "vision/dae"), config, gpus=False)["num_gpus"] == 0


@pytest.mark.timeout(600)
def test_the_study_of_a_finished_sweep_writes_its_report(serial_sweep, capsys):
    folder = serial_sweep[0]
    assert main(["study", str(folder), "--boot", "200"]) == 0
    out = folder / "study"
    report = (out / "study.md").read_text()
    assert "free:udr" in report and "free:reconstruction" in report and "Which label-free score" in report
    assert (out / "target_return.png").stat().st_size > 1000 and (out / "correlations.csv").exists()
    models = json.loads((out / "study.json").read_text())["models"]
    assert len(models) == 4 and all(np.isfinite(m["target_return"]) for m in models)


# -- bad input ----------------------------------------------------------------------------------------
def test_an_unknown_axis_path_names_the_valid_keys_before_anything_runs(tmp_path):
    with pytest.raises(sweep.SweepError, match=r"axis 'agent.stepz'.*'agent.stepz' does not exist; valid keys: "
                                               r"\[.*'agent.steps'"):
        sweep.run(tiny_spec(**{"agent.stepz": [1, 2]}), tmp_path / "s", backend="serial")
    with pytest.raises(sweep.SweepError, match=r"'visoin' does not exist; valid keys: \[.*'vision.'"):
        sweep.run(tiny_spec(**{"visoin.seed": [1, 2]}), tmp_path / "s", backend="serial")
    with pytest.raises(sweep.SweepError, match=r"point betta-1 .*unknown hyperparameter 'betta'.*valid keys: .*beta,"):
        sweep.expand(tiny_spec(**{"vision.methods.beta_vae_dae.betta": [1]}))
    assert not (tmp_path / "s").exists()


def test_an_empty_axis_and_a_malformed_spec_are_refused(tmp_path):
    with pytest.raises(sweep.SweepError, match="axis 'vision.seed' is empty"):
        sweep.load_spec(tiny_spec(**{"vision.seed": []}))
    with pytest.raises(sweep.SweepError, match="needs 'axes'"):
        sweep.load_spec({"base": "room", "axes": {}})
    with pytest.raises(sweep.SweepError, match=r"unknown sweep spec key\(s\) \['axis'\]"):
        sweep.load_spec({"base": "room", "axis": {"seeds": [0]}})
    with pytest.raises(sweep.SweepError, match="no sweep preset or spec file 'studdy'.*'study'"):
        sweep.load_spec("studdy")
    with pytest.raises(sweep.SweepError, match="repeats a value"):
        sweep.load_spec(tiny_spec(seeds=[0, 0]))


def test_axes_set_scalars_in_lists_and_one_value_on_several_paths():
    points = sweep.expand(tiny_spec(seeds=[3], beta={"paths": ["vision.methods.beta_vae_dae.beta",
                                                               "vision.methods.beta_vae.beta"], "values": [2, 8]}))
    assert [p.name for p in points] == ["seeds-3__beta-2", "seeds-3__beta-8"]
    assert points[1].config.seeds == [3] and points[1].config.vision.methods["beta_vae"]["beta"] == 8
    for name in sweep.preset_names():  # the shipped presets expand and validate
        assert len(sweep.expand(sweep.load_spec(name))) >= 12


def test_ray_without_ray_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(sweep.SweepError, match=r"pip install 'darla\[ray\]'"):
        sweep.run(tiny_spec(), tmp_path / "s", backend="ray")
    assert not (tmp_path / "s").exists()


def test_a_directory_of_another_spec_or_in_use_is_refused(serial_sweep, tmp_path, capsys):
    folder = serial_sweep[0]
    other = tiny_spec(**{"vision.methods.beta_vae_dae.beta": [1, 2], "seeds": [0, 1]})
    with pytest.raises(sweep.SweepError, match=r"holds another sweep.*axes.vision.methods.beta_vae_dae.beta: "
                                               r"\[1, 4\] here, \[1, 2\] given"):
        sweep.run(other, folder, backend="serial")
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(other))
    assert main(["sweep", str(spec_file), "--dir", str(folder), "--backend", "serial"]) == 1
    assert "holds another sweep" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    with locked(busy):
        with pytest.raises(RunLockedError, match="in use by another darla process"):
            sweep.run(tiny_spec(), busy, backend="serial")


def test_a_study_of_fewer_than_three_finished_points_says_what_is_missing(serial_sweep, tmp_path):
    folder = tmp_path / "partial"
    shutil.copytree(serial_sweep[0], folder)
    shutil.rmtree(folder / "points" / "beta-4__seeds-0" / "transfer")
    shutil.rmtree(folder / "points" / "beta-4__seeds-1")
    with pytest.raises(study.StudyError, match=r"at least 3 finished points.*2 finished\. Missing: "
                                               r"beta-4__seeds-0: unfinished transfer/darla/seed0; "
                                               r"beta-4__seeds-1: not started"):
        study.study(folder)
    with pytest.raises(study.StudyError, match="not a sweep directory"):
        study.study(tmp_path)


# -- the statistics -----------------------------------------------------------------------------------
def test_perfectly_monotone_scores_correlate_one():
    x = np.arange(12.0)
    result = stats_study.rank_correlations(x, np.exp(x), n_boot=500)
    assert result["spearman"] == pytest.approx(1) and result["kendall"] == pytest.approx(1)
    assert result["spearman_low"] == pytest.approx(1) and result["kendall_high"] == pytest.approx(1)
    assert stats_study.rank_correlations(x, -x**3, n_boot=200)["kendall"] == pytest.approx(-1)


def test_independent_scores_correlate_near_zero_with_a_ci_covering_zero():
    rng = np.random.default_rng(0)
    result = stats_study.rank_correlations(rng.normal(size=200), rng.normal(size=200), n_boot=1000)
    assert abs(result["spearman"]) < 0.15 and abs(result["kendall"]) < 0.1
    assert result["spearman_low"] < 0 < result["spearman_high"] and result["kendall_low"] < 0 < result["kendall_high"]


def test_the_vectorised_correlations_match_scipy_with_ties_and_skip_constant_resamples():
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, size=(5, 15)).astype(float), rng.integers(0, 3, size=(5, 15)).astype(float)
    for a, b, s, k in zip(x, y, stats_study.spearman_rows(x, y), stats_study.kendall_rows(x, y)):
        assert s == pytest.approx(stats.spearmanr(a, b).statistic) and k == pytest.approx(stats.kendalltau(a, b).statistic)
    assert np.isnan(stats_study.kendall_rows(np.ones((1, 5)), np.arange(5.0)[None]))[0]
    few = stats_study.rank_correlations([1, 2, float("nan")], [1, 2, 3])
    assert few["n"] == 2 and np.isnan(few["spearman"])
    table = stats_study.correlation_table([{"a": 1, "t": 1}, {"a": 2, "t": 3}, {"a": 3, "t": 2}, {"a": 4, "t": 4}],
                                          ["a"], ["t"], n_boot=100)
    assert stats_study.best_predictor(table, ["a"], "t")["spearman"] == pytest.approx(0.8)
