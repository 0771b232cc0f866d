"""SCAN as an optional stage of `darla run`: config checked before any stage, the stage on the run's
frozen vision model, its accuracy in the report, resume; and the domain-aware concept sampling and
the accuracy measurements it relies on."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import envs
from darla import config as config_module
from darla.pipeline import plan, run, vision_plan
from envs.symbols import OPERATORS, Vocabulary, combine, has_states, sample_concepts, sample_recombinations

torch.set_num_threads(1)

TINY = ["collect.frames=64", "agent.steps=64", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
        "transfer.episodes=1", "threads=1", "metrics.names=[]", "vision.method=beta_vae",
        "vision.methods.beta_vae.steps=3", "vision.methods.beta_vae.batch_size=16"]
SCAN = {"factors": ["wall_colour", "floor_colour", "object_colour"], "concepts": 6, "examples": 2, "recombinations": 4, "heldout": 2,
        "probe_frames": 60, "samples": 2, "settings": {"steps": 5, "operator_steps": 5, "hidden": 8}}


def tiny(scan=None, **changes):
    data = config_module.apply_overrides(config_module.load("room").to_dict(), TINY)
    data["vision"]["seeds"] = []
    data.update({"name": "tiny_scan", "seeds": [0], "variants": ["oracle"], "scan": scan if scan is not None else SCAN,
                 **changes})
    return config_module.RunConfig.from_dict(data)


# -- the stage ---------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_scan_stage_runs_on_the_runs_vision_reports_and_resumes(tmp_path):
    lines = []
    run_dir = run(tiny(), tmp_path, log=lines.append)
    assert "[run] scan" in lines and vision_plan(tiny()) == ["beta_vae"], "SCAN's vision is trained though no variant reads it"
    out = run_dir / "scan"
    for name in ("scan.pt", "sym2img.png", "recombined.png", "sym2img.md", "img2sym.md", "accuracy.json",
                 "summary.json", "stage.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "stage.json").read_text())
    assert record["inputs"] == ["vision/beta_vae"] and record["settings"]["domain"] == "source"
    accuracy = json.loads((out / "accuracy.json").read_text())
    assert set(accuracy["probe_ceiling"]) == {"wall_colour", "floor_colour", "object_colour"}
    assert {f"scan_{op}" for op in OPERATORS} <= set(accuracy["c_recombination_heldout"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["vision"].endswith("vision/beta_vae/checkpoint.pt") and len(summary["heldout"]) == 2
    report = (run_dir / "report.md").read_text()
    assert "## SCAN: symbols grounded in the vision" in report and "| held out, in common |" in report

    lines.clear()
    run(tiny(), tmp_path, log=lines.append)
    assert "[skip] scan (finished, same settings)" in lines and not [ln for ln in lines if ln.startswith("[run]")]

    lines.clear()
    run(tiny({**SCAN, "samples": 3}), tmp_path, log=lines.append)
    assert [ln.split()[1] for ln in lines if ln.startswith("[run]")] == ["scan"], "only the changed stage re-runs"
    assert (run_dir / "scan.old-1" / "scan.pt").exists()


def test_scan_task_waits_for_the_selected_model():
    cfg = tiny(vision={"method": "beta_vae", "seeds": [0, 1], "methods": {"beta_vae": {"steps": 3}}})
    tasks = {t.key: t for t in plan(cfg)}
    assert tasks["scan"].needs == ("select/beta_vae",) and tasks["scan"].method == "beta_vae"
    assert "scan" not in {t.key for t in plan(tiny(scan={}))}


def test_bad_scan_config_fails_before_any_stage_listing_the_valid_choices(tmp_path):
    cases = [
        ({**SCAN, "factors": ["wall_color"]}, r"scan.factors: unknown factor 'wall_color'.*'wall_colour', 'floor_colour'"),
        ({**SCAN, "operators": ["and", "or"]}, r"unknown recombination operator 'or'; known: and, in_common, ignore"),
        ({**SCAN, "show": ["floor_colour=pink"]}, r"no value 'pink'; valid: hue30, hue90"),
        ({**SCAN, "show": [""]}, r"empty symbol names nothing"),
        ({**SCAN, "settings": {"stepz": 3}}, r"unknown hyperparameter 'stepz'.*valid keys: hidden, beta"),
        ({**SCAN, "method": "dae"}, r"'dae' has a deterministic code, no posterior variance"),
        ({**SCAN, "method": "bvae"}, r"unknown vision method 'bvae'; known: .*beta_vae"),
        ({**SCAN, "concepts": 500}, r"could draw only \d+ of 500 distinct concepts .* in domain 'source'"),
        ({"concepts": 5}, r"scan.concepts given but scan.factors is empty"),
    ]
    for scan, message in cases:
        with pytest.raises(ValueError, match=message):
            run(tiny(scan), tmp_path, log=lambda line: None)
    assert not (tmp_path / "tiny_scan" / "config.json").exists(), "nothing is written before the config is valid"


# -- concepts of a domain and the accuracy measurements ---------------------------------------------
def test_concepts_and_operands_stay_within_the_domain():
    """The Room's source lacks two colours of each factor and the (wall + floor) % 3 == 0 pairs:
    concepts naming them have no source frames, so `within` never draws them."""
    space = envs.make_factor_space("darla/Room-v1")
    vocab = Vocabulary(space, ["wall_colour", "floor_colour", "object_colour"])
    assert has_states(space, vocab, {"wall_colour": 0, "floor_colour": 1})
    assert not has_states(space, vocab, {"wall_colour": 0, "floor_colour": 3})  # a held-out conjunction
    assert not has_states(space, vocab, {"object_colour": 7})                   # an out-of-distribution colour
    assert has_states(space, vocab, {"object_colour": 7}, domain="ood")
    rng = np.random.default_rng(0)
    for concept in sample_concepts(vocab, 60, rng, (1, 2), within="source"):
        assert has_states(space, vocab, concept) and max(concept.values()) < 6
    for op in OPERATORS:
        for a, b, result in sample_recombinations(vocab, 40, rng, op, (1, 3), within="source"):
            assert combine(a, b, op) == result
            assert all(has_states(space, vocab, c) for c in (a, b, result))
    with pytest.raises(KeyError, match="unknown domain 'sauce'; known domains"):
        sample_concepts(vocab, 2, rng, within="sauce")


def test_scores_count_named_hits_and_normalise_unnamed_entropy():
    """score() with a stand-in reader: named accuracy is the fraction of samples read as the named
    value; the unnamed entropy is 1 for reads spread evenly over a factor's values, 0 for one value."""
    from eval import scan_accuracy

    class Reader:
        def __init__(self, values):
            self.values = values

        def predict(self, codes):
            return self.values[:len(codes)]

    class Vision(torch.nn.Module):  # encode_posterior's contract: uint8 [n, 2, 2, 1] -> (mu, logvar)
        input_shape, name = (2, 2, 1), "stand-in"

        def encode(self, x):
            return x.flatten(1), torch.zeros_like(x.flatten(1))

    space = envs.make_factor_space("darla/Room-v1")
    vocab = Vocabulary(space, ["wall_colour", "floor_colour"])
    frames = [np.zeros((8, 2, 2, 1), np.uint8)]
    forests = [Reader(np.array([2, 2, 2, 2, 2, 2, 0, 1])), Reader(np.arange(8))]
    result = scan_accuracy.score([{"wall_colour": 2}], frames, forests, Vision(), vocab)
    assert result["named_accuracy"] == pytest.approx(6 / 8) and result["per_factor"] == {"wall_colour": 0.75}
    assert result["entropy_per_factor"]["floor_colour"] == pytest.approx(1.0)
    forests[1] = Reader(np.full(8, 5))
    assert scan_accuracy.score([{"wall_colour": 2}], frames, forests, Vision(), vocab)["unnamed_entropy"] == 0.0
