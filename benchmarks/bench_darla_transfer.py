"""The DARLA result: does `darla` keep its source return on `target`, and beat `pixels` and `darla_ent` there?

    .venv/bin/python benchmarks/bench_darla_transfer.py [key=value overrides of the room preset]
    .venv/bin/python benchmarks/bench_darla_transfer.py agent.steps=100000 jobs=2   # a smaller budget

Runs (or resumes) the `room` preset through the pipeline, then checks the three criteria of the
stages-2-3 issue on the aggregated transfer table: darla's target/source ratio ≥ 0.8, and darla's
mean target return above pixels' and darla_ent's. Prints the table, the criteria and the wall time.
"""

import json
import sys
import time

from darla import config as config_module
from darla.pipeline import run


def main(overrides):
    start = time.time()
    data = config_module.apply_overrides(config_module.load("room").to_dict(), overrides)
    run_dir = run(config_module.RunConfig.from_dict(data), "runs")
    summary = json.loads((run_dir / "transfer.json").read_text())["summary"]
    mean = {(s["variant"], s["domain"]): s["mean"] for s in summary}
    ratio = {s["variant"]: s["vs_source"] for s in summary if s["domain"] == "target"}
    checks = {"darla keeps >= 80% of its source return on target": (ratio.get("darla") or 0) >= 0.8}
    for other in ("pixels", "darla_ent"):
        if (other, "target") in mean:
            checks[f"darla beats {other} on target"] = mean[("darla", "target")] > mean[(other, "target")]
    print((run_dir / "transfer.md").read_text())
    for name, ok in checks.items():
        print(f"  [{'pass' if ok else 'FAIL'}] {name}")
    print(f"wall time {time.time() - start:.0f} s; report in {run_dir / 'report.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
