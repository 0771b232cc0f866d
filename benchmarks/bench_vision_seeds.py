"""Is `darla` robust to the seed of its vision, and does the unsupervised selection rule pick a good model?

    .venv/bin/python benchmarks/bench_vision_seeds.py PRESET --vision-seeds 0,1,2 [key=value overrides]
    .venv/bin/python benchmarks/bench_vision_seeds.py quickstart --vision-seeds 0,1,2 seeds=0,1 threads=1

For each vision seed k, runs (or resumes) the preset as its own run directory
``runs/<name>-vseed<k>`` (``vision.seed=k``; agents, their seeds and transfer as the preset says).
Then scores every seed's backbone checkpoint with each selection rule of :mod:`eval.selection` on
the source frames (no rewards, no labels, no shifted domain) and prints one row per vision seed:
`darla`'s mean return per domain, the view probe (when the preset scores it) and each rule's score,
then the criteria: the spread (max − min) of the source return over vision seeds as a fraction of
its mean (≤ 20%), and for each rule whether its pick is within 10% of the best seed's source return.
Writes the same as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from darla import config as config_module
from darla.pipeline import DATASET, run
from eval import selection


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--vision-seeds", default="0,1,2")
    parser.add_argument("--variant", default="darla")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--json", default="")
    parser.add_argument("overrides", nargs="*")
    args, extra = parser.parse_known_args(argv)  # key=value overrides may also follow the options
    args.overrides += [e for e in extra if "=" in e and not e.startswith("-")]
    if any(e.startswith("-") or "=" not in e for e in extra):
        parser.error(f"unrecognized arguments: {' '.join(e for e in extra if e.startswith('-') or '=' not in e)}")
    start = time.time()
    vision_seeds = [int(s) for s in args.vision_seeds.split(",")]
    base = config_module.apply_overrides(config_module.load(args.preset).to_dict(), args.overrides)
    rows, checkpoints, run_dirs = [], [], []
    for k in vision_seeds:
        data = json.loads(json.dumps(base))
        data["name"] = f"{base['name']}-vseed{k}"
        data["vision"]["seed"] = k
        data["vision"]["seeds"] = []
        config = config_module.RunConfig.from_dict(data)
        run_dir = run(config, args.runs_dir)
        run_dirs.append(run_dir)
        checkpoints.append(run_dir / "vision" / config.vision.method / "checkpoint.pt")
        summary = json.loads((run_dir / "transfer.json").read_text())["summary"]
        row = {"vision_seed": k, "run": str(run_dir)}
        row.update({s["domain"]: s["mean"] for s in summary if s["variant"] == args.variant})
        scores_file = run_dir / "metrics" / config.vision.method / "scores.json"
        if scores_file.exists():
            probe = json.loads(scores_file.read_text()).get("probe", {})
            views = [k2 for k2 in probe if k2.startswith("accuracy.") and k2.endswith(("_bearing", "_distance"))]
            if views:
                row["view_probe"] = float(np.mean([probe[v] for v in views]))
        rows.append(row)
    import envs.dataset

    with envs.dataset.FrameDataset(run_dirs[0] / "collect" / DATASET) as ds:
        frames = ds.frames[:]
    picks = {}
    for rule in ("udr", "reconstruction"):
        result = selection.select(rule, checkpoints, frames, seed=0)
        picks[rule] = vision_seeds[result["chosen"]]
        for row, score in zip(rows, result["scores"]):
            row[f"{rule}_score"] = score
    source = np.array([r["source"] for r in rows])
    best = source.max()
    criteria = {"spread of source return / mean <= 0.20": float((source.max() - source.min()) / source.mean())}
    for rule, seed in picks.items():
        criteria[f"{rule} pick within 10% of best"] = float(rows[vision_seeds.index(seed)]["source"] / best)
    print("| vision seed | " + args.variant + " source | target | ood | view probe | UDR | −pixel MSE | run |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['vision_seed']} | {r['source']:.2f} | {r.get('target', float('nan')):.2f} | "
              f"{r.get('ood', float('nan')):.2f} | {r.get('view_probe', float('nan')):.3f} | {r['udr_score']:.3f} | "
              f"{r['reconstruction_score']:.5f} | {r['run']} |")
    print(f"spread (max − min) / mean of source return: {criteria['spread of source return / mean <= 0.20']:.0%}")
    for rule, seed in picks.items():
        print(f"rule {rule} picks vision seed {seed}: {criteria[f'{rule} pick within 10% of best']:.0%} of the best "
              "seed's source return")
    print(f"wall time {time.time() - start:.0f} s")
    result = {"rows": rows, "picks": picks, "criteria": criteria, "preset": args.preset, "overrides": args.overrides}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
