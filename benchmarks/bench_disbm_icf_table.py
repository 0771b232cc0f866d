"""The Markdown tables of ``benchmarks/bench_disbm_icf.sh``'s output folder (docs/vision.md).

    .venv/bin/python benchmarks/bench_disbm_icf_table.py runs/bench_disbm_icf

One row per (dataset, method) that has a ``summary.json``; a score it has not computed yet is "—".
Train seconds come from the script's ``times.txt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

METHODS = ("beta_vae", "disbm", "icf")


def _scores(path: Path) -> dict:
    if not path.exists():
        return {}
    return next(iter(json.loads(path.read_text())["scores"].values()))


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "runs/bench_disbm_icf")
    times: dict[tuple[str, str], str] = {}
    if (out / "times.txt").exists():
        for line in (out / "times.txt").read_text().splitlines():
            tag, method, kind, value = line.split()
            if kind == "train_s":
                times[tag, method] = value
    print("| dataset | method | MIG | DCI D | DCI C | DCI I (test) | pixel MSE / mean-image MSE | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for method in METHODS:
        summary_path = out / "dsprites" / method / "summary.json"
        if not summary_path.exists():
            continue
        summary, s = json.loads(summary_path.read_text()), _scores(out / "dsprites" / f"{method}.scores.json")
        dci = s.get("dci", {})
        print(f"| dSprites | `{method}` | {_fmt(s.get('mig', {}).get('discrete_mig'))} | "
              f"{_fmt(dci.get('disentanglement'))} | {_fmt(dci.get('completeness'))} | "
              f"{_fmt(dci.get('informativeness_test'))} | {summary['mse_ratio']:.2f} | {times.get(('dsprites', method), '—')} |")
    print()
    rows = []
    for method in METHODS:
        summary_path = out / "room" / method / "summary.json"
        if summary_path.exists():
            rows.append((method, json.loads(summary_path.read_text()), _scores(out / "room" / f"{method}.scores.json")))
    probe_keys = sorted({k for _, _, s in rows for k in s.get("probe", {}) if k.startswith("accuracy.")})
    print("| method | probe source | probe target | probe ood | DCI D | DCI C | DCI I (test) | "
          "pixel MSE / mean-image MSE | train s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method, summary, s in rows:
        probe, dci = s.get("probe", {}), s.get("dci", {})
        print(f"| `{method}` | {_fmt(probe.get('mean_accuracy'))} | {_fmt(probe.get('mean_target'))} | "
              f"{_fmt(probe.get('mean_ood'))} | {_fmt(dci.get('disentanglement'))} | {_fmt(dci.get('completeness'))} | "
              f"{_fmt(dci.get('informativeness_test'))} | {summary['mse_ratio']:.2f} | {times.get(('room', method), '—')} |")
    print()
    print("| probe accuracy (source, held out) | " + " | ".join(f"`{m}`" for m, _, _ in rows) + " | chance |")
    print("|---|" + "---|" * (len(rows) + 1))
    for key in probe_keys:
        name = key.split(".", 1)[1]
        chance = next((s["probe"].get(f"chance.{name}") for _, _, s in rows if "probe" in s), None)
        print(f"| {name} | " + " | ".join(_fmt(s.get("probe", {}).get(key)) for _, _, s in rows)
              + f" | {_fmt(chance)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
