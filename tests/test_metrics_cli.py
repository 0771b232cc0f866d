"""The ``darla metrics`` command: settings parsing, the scoring document, and a real checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from darla.commands.metrics import parse_settings
from eval.metrics import score_models
from eval.metrics.synthetic import FactorGrid, LinearFactorEncoder, permuted_scaled_identity, random_rotation

SIZES = (3, 6, 10, 8)


def test_parse_settings():
    assert parse_settings(["num_train=100", "dci.importance=forest", "sap.continuous_factors=true",
                           "irs.diff_quantile=0.9"]) == {
        "num_train": 100, "dci": {"importance": "forest"}, "sap": {"continuous_factors": True},
        "irs": {"diff_quantile": 0.9}}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_settings(["num_train"])


def test_score_models_document_with_hand_made_encoders():
    space = FactorGrid(SIZES)
    good = LinearFactorEncoder(SIZES, permuted_scaled_identity(4), noise_dims=1)
    other = LinearFactorEncoder(SIZES, permuted_scaled_identity(4, seed=1), noise_dims=1, seed=1)
    bad = LinearFactorEncoder(SIZES, random_rotation(4), noise_dims=1)
    lines = []
    doc = score_models(space, {"good": good, "other": other, "bad": bad}, ["mig", "dci", "udr"], seed=0,
                       settings={"num_train": 600, "dci": {"importance": "forest", "num_test": 300},
                                 "udr": {"num_data_points": 300}}, log=lines.append)
    assert set(doc["scores"]) == {"good", "other", "bad"}
    assert doc["scores"]["good"]["mig"]["discrete_mig"] > doc["scores"]["bad"]["mig"]["discrete_mig"] + 0.3
    assert doc["scores"]["good"]["dci"]["disentanglement"] > 0.9
    assert doc["udr"]["models"] == ["good", "other", "bad"]
    assert doc["udr"]["model_scores"][0] > doc["udr"]["model_scores"][2]
    assert doc["seconds"]["good"]["mig"] >= 0 and "udr" in doc["seconds"]
    assert doc["meta"]["versions"]["scikit-learn"] and doc["meta"]["factors"] == ["f0", "f1", "f2", "f3"]
    json.dumps(doc)  # the document is plain JSON
    assert any("mig" in line for line in lines)


def test_score_models_errors():
    space = FactorGrid(SIZES)
    enc = LinearFactorEncoder(SIZES, np.eye(4))
    with pytest.raises(ValueError, match="at least 2 checkpoints"):
        score_models(space, {"a": enc}, ["udr"])
    with pytest.raises(ValueError, match="no selected metric \\(mig\\) has a setting 'num_trian'"):
        score_models(space, {"a": enc}, ["mig"], settings={"num_trian": 10})
    with pytest.raises(ValueError, match="metric 'mig' has no setting"):
        score_models(space, {"a": enc}, ["mig"], settings={"mig": {"num_test": 10}})
    with pytest.raises(KeyError, match="unknown metric .mgi.; known: "):
        score_models(space, {"a": enc}, ["mgi"])


def test_cli_unknown_metric_and_missing_checkpoint(tmp_path, capsys):
    from darla.cli import main

    assert main(["metrics", str(tmp_path / "missing.pt"), "--env", "dsprites", "--out", str(tmp_path / "o.json")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["metrics", "x.pt", "--env", "nope", "--out", str(tmp_path / "o.json")]) == 1
    assert "unknown environment or dataset" in capsys.readouterr().err


def test_cli_with_a_real_checkpoint(tmp_path):
    vision = pytest.importorskip("vision")
    if not (hasattr(vision, "load_encoder") and hasattr(vision, "fit")):
        pytest.skip("vision.load_encoder / vision.fit not available yet")
    import envs
    from darla.cli import main

    space = envs.make_factor_space("dsprites")
    frames = space.render(space.sample(64, np.random.default_rng(0)))
    paths = [vision.fit(frames, method="vae", out_dir=tmp_path / f"m{seed}", steps=2, progress=False,
                        tensorboard=False, seed=seed) for seed in (0, 1)]
    out = tmp_path / "scores.json"
    code = main(["metrics", *map(str, paths), "--env", "dsprites", "--metrics", "mig,factor_vae,udr",
                 "--set", "num_train=100", "--set", "factor_vae.num_eval=50",
                 "--set", "factor_vae.num_variance_estimate=200", "--set", "udr.num_data_points=100",
                 "--out", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    for path in map(str, paths):
        assert 0.0 <= doc["scores"][path]["mig"]["discrete_mig"] <= 1.0
        assert 0.0 <= doc["scores"][path]["factor_vae"]["eval_accuracy"] <= 1.0
    assert len(doc["udr"]["model_scores"]) == 2
    assert doc["meta"]["env"] == "dsprites" and doc["meta"]["checkpoints"] == list(map(str, paths))
