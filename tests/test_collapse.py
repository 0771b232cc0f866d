"""A collapsed vision model (no active latent, or a reconstruction no better than the mean image) is
flagged in its summary.json, by `darla run` at the end of stage 1 (an error with vision.strict) and
in report.md, so that an agent on constant codes is not read as perfect transfer."""

import json

import numpy as np
import pytest

import vision
from darla import config as config_module
from darla.pipeline import CollapsedVisionError, run


def test_collapse_reasons_name_each_criterion():
    assert vision.collapse_reasons({"active_latents": 3, "mse_ratio": 0.4}) == []
    assert vision.collapse_reasons({"mse_ratio": 0.4}) == []                       # deterministic codes: no KL
    both = vision.collapse_reasons({"active_latents": 0, "mse_ratio": 1.2, "pixel_mse": 0.06, "mean_image_mse": 0.05})
    assert len(both) == 2 and "0 active latents" in both[0] and "no better than the mean image" in both[1]


def test_an_untrained_model_is_flagged_in_summary_run_and_report(tmp_path):
    # a learning rate of 1e-12 leaves the networks at their initial weights: a near-constant output, which
    # the mean image (the best input-independent prediction) always beats, so the model is collapsed
    frozen = [f"vision.methods.{m}.{k}" for m in ("dae", "beta_vae_dae") for k in ("steps=2", "batch_size=16", "lr=1e-12")]
    tiny = ["collect.frames=64", "collect.sampling=factors", "agent.steps=32", "agent.hyperparams.n_steps=8",
            "agent.hyperparams.batch_size=32", "agent.hyperparams.n_envs=4", "transfer.episodes=1", "threads=1",
            "jobs=1", "variants=darla", "name=flat", "vision.strict=true"] + frozen
    data = config_module.apply_overrides(config_module.load("quickstart").to_dict(), tiny)
    with pytest.raises(CollapsedVisionError, match=r"vision model dae is collapsed: .*no better than the mean image.*"
                                                   r"vision.strict=true stops the run"):
        run(config_module.RunConfig.from_dict(data), tmp_path, log=lambda line: None)
    summary = json.loads((tmp_path / "flat" / "vision" / "dae" / "summary.json").read_text())
    assert summary["collapsed"] is True and summary["mse_ratio"] >= 1.0 and summary["collapse_reasons"]
    assert not (tmp_path / "flat" / "agent").exists(), "stopped before any agent read the codes"

    data["vision"]["strict"] = False
    lines: list[str] = []
    run_dir = run(config_module.RunConfig.from_dict(data), tmp_path, log=lines.append)
    warnings = [line for line in lines if line.startswith("[warning] vision model")]
    assert any("beta_vae_dae is collapsed" in line for line in warnings), lines
    report = (run_dir / "report.md").read_text()
    assert "## Collapsed vision models" in report and "**beta_vae_dae: collapsed**" in report
    assert np.isfinite(json.loads((run_dir / "transfer.json").read_text())["summary"][0]["mean"])
