"""Visual shifts: a trained agent evaluated on its training domain seen through envs.wrappers, as a
run's `transfer.shifts`, `darla transfer --shifts`, or `eval.transfer.evaluate(shifts=...)`."""

import json

import pytest

import agents
from darla import config as config_module
from darla.cli import main
from darla.pipeline import run
from eval import transfer

HUE = [{"name": "hue_rotate", "degrees": 90}]
NOTHING = [{"name": "blur", "sigma": 0}]  # the identity: returns must equal the source's, episode for episode
TINY = {"name": "tiny", "env": "darla/Room-v1", "variants": ["oracle", "pixels"],
        "seeds": [0], "threads": 1, "collect": {"frames": 32},
        "agent": {"algo": "ppo", "steps": 64, "hyperparams": {"n_steps": 8, "batch_size": 32}},
        "transfer": {"episodes": 3, "shifts": {"hue90": HUE, "nothing": NOTHING}}, "metrics": {"names": []}}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("shifts")
    return run(config_module.RunConfig.from_dict(json.loads(json.dumps(TINY))), root / "runs", log=lambda line: None)


def returns_of(run_dir, variant):
    return json.loads((run_dir / "transfer" / variant / "seed0" / "returns.json").read_text())


def test_a_run_reports_each_shift_as_a_row_and_the_identity_shift_changes_nothing(finished):
    for variant in ("oracle", "pixels"):
        returns = returns_of(finished, variant)
        assert list(returns) == ["source", "target", "ood", "hue90", "nothing"]
        assert returns["nothing"] == returns["source"]
    # the oracle reads ground-truth factors, which no visual shift touches
    oracle = returns_of(finished, "oracle")
    assert oracle["hue90"] == oracle["source"]
    table = (finished / "transfer.md").read_text()
    assert "| pixels | hue90 | 1 |" in table and "| oracle | nothing | 1 |" in table


def test_the_pixel_agent_sees_the_shifted_frames(finished):
    agent = agents.load(finished / "agent" / "pixels" / "seed0")
    assert agent.training_domain == "source" and agent.spec["domain"] == "source"
    plain = agent.make_env("source", seed=5).reset()
    shifted = agent.make_env("source", seed=5, wrappers=HUE).reset()
    assert plain.shape == shifted.shape and (plain != shifted).any()
    assert (agent.make_env("source", seed=5, wrappers=NOTHING).reset() == plain).all()


def test_cli_transfer_takes_shifts_as_json_or_a_file_and_agrees_with_the_run(finished, tmp_path, capsys):
    agent = finished / "agent" / "pixels" / "seed0"
    assert main(["transfer", str(agent), "--episodes", "3", "--domains", "source", "--shifts",
                 json.dumps({"hue90": HUE}), "--out", str(tmp_path / "a")]) == 0
    shifts_file = tmp_path / "shifts.json"
    shifts_file.write_text(json.dumps({"hue90": HUE}))
    assert main(["transfer", str(agent), "--episodes", "3", "--domains", "source", "--shifts", str(shifts_file),
                 "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    by_file = json.loads((tmp_path / "b" / "transfer.json").read_text())["episodes"]
    assert json.loads((tmp_path / "a" / "transfer.json").read_text())["episodes"] == by_file
    assert [r["return"] for r in by_file if r["domain"] == "hue90"] == returns_of(finished, "pixels")["hue90"]


def test_an_agent_saved_before_agents_recorded_their_domain_shifts_the_envs_first(finished, tmp_path):
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(finished / "agent" / "oracle" / "seed0", copy)
    record = json.loads((copy / "agent.json").read_text())
    del record["domain"]
    (copy / "agent.json").write_text(json.dumps(record))
    assert agents.load(copy).training_domain == "source"


@pytest.mark.parametrize("shifts, message", [
    ({"x": [{"name": "hue_rotat"}]}, "transfer.shifts.x: unknown wrapper 'hue_rotat'"),
    ({"x": [{"name": "colour_jitter", "hue": 200}]}, "transfer.shifts.x: wrapper 'colour_jitter': parameter 'hue'"),
    ({"grey": ["grayscale"]}, "transfer.shifts.grey: turns darla/Room-v1's (64, 64, 3) frames into (64, 64, 1)"),
    ({"target": HUE}, "transfer.shifts: 'target' is not a name of its own"),
    ({"x": []}, "transfer.shifts.x: a non-empty list of wrappers"),
    ([HUE], "transfer.shifts must map a shift's name to a list of wrappers"),
])
def test_bad_shifts_are_refused_before_any_stage_runs(tmp_path, shifts, message):
    data = json.loads(json.dumps(TINY))
    data["transfer"]["shifts"] = shifts
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        run(config_module.RunConfig.from_dict(data), tmp_path / "runs", log=lambda line: None)
    assert not (tmp_path / "runs" / "tiny").exists()


def test_cli_transfer_refuses_bad_shifts_before_any_episode(finished, tmp_path, capsys):
    agent = finished / "agent" / "oracle" / "seed0"
    assert main(["transfer", str(agent), "--shifts", "{not json", "--out", str(tmp_path / "t")]) == 1
    assert "--shifts '{not json' is neither JSON nor a .json file" in capsys.readouterr().err
    assert main(["transfer", str(agent), "--shifts", '{"x": [{"name": "blurr"}]}', "--out", str(tmp_path / "t")]) == 1
    assert "transfer.shifts.x: unknown wrapper 'blurr'" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_a_shift_named_like_a_domain_is_refused_by_evaluate(finished):
    with pytest.raises(ValueError, match=r"shift name\(s\) \['source'\] are also domain names"):
        transfer.evaluate(agents.load(finished / "agent" / "oracle" / "seed0"), ["source"], episodes=1,
                          shifts={"source": HUE})


def test_a_run_without_shifts_keeps_the_transfer_settings_it_had_before_shifts_existed(tmp_path):
    """Adding the `shifts` setting must not re-run every finished run's evaluations on resume."""
    data = json.loads(json.dumps(TINY))
    del data["transfer"]["shifts"]
    data["variants"] = ["oracle"]
    run_dir = run(config_module.RunConfig.from_dict(data), tmp_path / "runs", log=lambda line: None)
    settings = json.loads((run_dir / "transfer" / "oracle" / "seed0" / "stage.json").read_text())["settings"]
    assert "shifts" not in settings and settings["episodes"] == 3
