"""The Markdown tables of ``benchmarks/bench_disbm_icf.sh``'s output folder (docs/vision.md).

    .venv/bin/python benchmarks/bench_disbm_icf_table.py runs/bench_disbm_icf [more output folders]

One row per (folder, dataset, method) that has a ``summary.json``; a score it has not computed yet
is "—". Train seconds come from the script's ``times.txt``. With several folders (one per seed,
``SEED=k OUT=.../sk``), each row is labelled with its folder's name.
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


def _times(out: Path) -> dict[tuple[str, str], str]:
    times: dict[tuple[str, str], str] = {}
    if (out / "times.txt").exists():
        for line in (out / "times.txt").read_text().splitlines():
            tag, method, kind, value = line.split()
            if kind == "train_s":
                times[tag, method] = value
    return times


def main(argv: list[str]) -> int:
    outs = [Path(a) for a in argv] or [Path("runs/bench_disbm_icf")]
    label = (lambda out, method: f"{out.name}: `{method}`") if len(outs) > 1 else (lambda out, method: f"`{method}`")
    times = {out: _times(out) for out in outs}
    print("| dataset | method | MIG | DCI D | DCI C | DCI I (test) | pixel MSE / mean-image MSE | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for out in outs:
        for method in METHODS:
            summary_path = out / "dsprites" / method / "summary.json"
            if not summary_path.exists():
                continue
            summary, s = json.loads(summary_path.read_text()), _scores(out / "dsprites" / f"{method}.scores.json")
            dci = s.get("dci", {})
            print(f"| dSprites | {label(out, method)} | {_fmt(s.get('mig', {}).get('discrete_mig'))} | "
                  f"{_fmt(dci.get('disentanglement'))} | {_fmt(dci.get('completeness'))} | "
                  f"{_fmt(dci.get('informativeness_test'))} | {summary['mse_ratio']:.2f} | "
                  f"{times[out].get(('dsprites', method), '—')} |")
    print()
    rows = []
    for out in outs:
        for method in METHODS:
            summary_path = out / "room" / method / "summary.json"
            if summary_path.exists():
                rows.append((label(out, method), json.loads(summary_path.read_text()),
                             _scores(out / "room" / f"{method}.scores.json"), times[out].get(("room", method), "—")))
    probe_keys = sorted({k for _, _, s, _ in rows for k in s.get("probe", {}) if k.startswith("accuracy.")})
    print("| method | probe source | probe target | probe ood | DCI D | DCI C | DCI I (test) | "
          "pixel MSE / mean-image MSE | train s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, summary, s, seconds in rows:
        probe, dci = s.get("probe", {}), s.get("dci", {})
        print(f"| {name} | {_fmt(probe.get('mean_accuracy'))} | {_fmt(probe.get('mean_target'))} | "
              f"{_fmt(probe.get('mean_ood'))} | {_fmt(dci.get('disentanglement'))} | {_fmt(dci.get('completeness'))} | "
              f"{_fmt(dci.get('informativeness_test'))} | {summary['mse_ratio']:.2f} | {seconds} |")
    print()
    print("| probe accuracy (source, held out) | " + " | ".join(name for name, _, _, _ in rows) + " | chance |")
    print("|---|" + "---|" * (len(rows) + 1))
    for key in probe_keys:
        factor = key.split(".", 1)[1]
        chance = next((s["probe"].get(f"chance.{factor}") for _, _, s, _ in rows if "probe" in s), None)
        print(f"| {factor} | " + " | ".join(_fmt(s.get("probe", {}).get(key)) for _, _, s, _ in rows)
              + f" | {_fmt(chance)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
