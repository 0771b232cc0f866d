"""The shipped presets as a user runs them (slow: `make test-slow`; the default suite uses tiny budgets).

These check that a preset's real budget runs end to end and writes every result file; they never
assert a learning outcome (that is what `benchmarks/` measures)."""

import csv
import json

import pytest

from darla import config as config_module
from darla.pipeline import run

pytestmark = pytest.mark.slow


@pytest.mark.timeout(1800)
def test_quickstart_preset_runs_end_to_end_with_its_own_vision_budget(tmp_path):
    config = config_module.load("quickstart")
    config.agent.steps = 2048  # the vision stages run at the preset's budget; the agents only smoke-test
    run_dir = run(config, tmp_path, log=lambda line: None)
    with open(run_dir / "transfer.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["variant"] for r in rows} == {"darla", "pixels"}
    assert len(rows) == 2 * 3 * config.transfer.episodes
    summary = json.loads((run_dir / "vision" / "beta_vae_dae" / "summary.json").read_text())
    assert summary["steps"] == config.vision.methods["beta_vae_dae"]["steps"]
    assert summary["mse_ratio"] < 1.0, "the preset's vision trains past the mean image"
    spec = json.loads((run_dir / "agent" / "darla" / "seed0" / "agent.json").read_text())
    assert spec["standardize"] is True
    assert (run_dir / "report.md").exists() and (run_dir / "vision" / "beta_vae_dae" / "traversal.png").exists()
