"""Episodic control (``algo=ec``) against PPO at the same env-step budget on the Room: returns on
source / target / ood, and training speed (env steps per second of wall clock and of CPU time).

    .venv/bin/python benchmarks/bench_episodic_control.py --variant oracle --algos ec,ppo \\
        --steps 100000 --seeds 0,1,2 --episodes 20 --out ec_oracle.json
    .venv/bin/python benchmarks/bench_episodic_control.py --variant darla --vision CHECKPOINT ...
    .venv/bin/python benchmarks/bench_episodic_control.py --report ec_oracle.json ppo_oracle.json

Each (algorithm, seed) is trained with ``agents.train`` (the toolkit's defaults from
``agents/hyperparams.py``), saved, reloaded and evaluated greedily by ``eval.transfer.evaluate``
(fixed evaluation seeds), exactly as ``darla run`` does. CPU time is reported beside wall time
because a shared machine stretches the wall clock; both count one process on one core
(``OMP_NUM_THREADS=1``, one torch thread). Results are appended to ``--out`` after every run, so an
interrupted benchmark keeps what finished.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

DOMAINS = ("source", "target", "ood")


def run_one(variant: str, algo: str, seed: int, steps: int, episodes: int, vision: str | None, tmp: Path,
            hyperparams: dict) -> dict:
    import agents
    from eval import transfer

    wall, cpu = time.perf_counter(), time.process_time()
    out = agents.train(variant, "darla/Room-v1", tmp / f"{algo}-{seed}", steps=steps, seed=seed, algo=algo,
                       encoder_path=vision, hyperparams=hyperparams)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    returns = transfer.evaluate(agents.load(out), DOMAINS, episodes=episodes)
    row = {"variant": variant, "algo": algo, "seed": seed, "steps": steps, "episodes": episodes,
           "hyperparams": hyperparams,
           "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
           "steps_per_s_wall": round(steps / wall), "steps_per_s_cpu": round(steps / cpu),
           **{f"{d}_mean": float(np.mean(returns[d])) for d in DOMAINS}, "returns": returns}
    print(f"{algo} seed {seed}: " + ", ".join(f"{d} {row[f'{d}_mean']:.2f}" for d in DOMAINS)
          + f"; {wall:.0f} s wall, {cpu:.0f} s CPU ({row['steps_per_s_cpu']:,} steps/s CPU)", flush=True)
    return row


def report(rows: list[dict]) -> str:
    lines = ["| variant | algo | seeds | steps | source | target | ood | steps/s (wall) | steps/s (CPU) |",
             "|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        settings = " ".join(f"{k}={v}" for k, v in sorted(row.get("hyperparams", {}).items()))
        groups.setdefault((row["variant"], row["algo"] + (f" ({settings})" if settings else ""), row["steps"]),
                          []).append(row)
    for (variant, algo, steps), group in sorted(groups.items()):
        cells = []
        for d in DOMAINS:
            means = np.array([r[f"{d}_mean"] for r in group])
            cells.append(f"{means.mean():.2f} ± {means.std(ddof=1):.2f}" if len(means) > 1 else f"{means[0]:.2f}")
        wall = np.mean([r["steps_per_s_wall"] for r in group])
        cpu = np.mean([r["steps_per_s_cpu"] for r in group])
        lines.append(f"| {variant} | {algo} | {len(group)} | {steps:,} | " + " | ".join(cells)
                     + f" | {wall:,.0f} | {cpu:,.0f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="oracle", help="oracle, darla, darla_ent or darla_dae")
    parser.add_argument("--vision", help="the vision checkpoint a darla* variant reads (from `darla see`)")
    parser.add_argument("--algos", default="ec,ppo")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per domain")
    parser.add_argument("--out", default="bench_episodic_control.json")
    parser.add_argument("--hp", nargs="*", default=[], metavar="KEY=VALUE",
                        help="overrides of agents/hyperparams.py for every algorithm run, e.g. n_envs=8")
    parser.add_argument("--report", nargs="+", metavar="JSON", help="print the table of finished result files")
    args = parser.parse_args()
    if args.report:
        print(report([row for f in args.report for row in json.loads(Path(f).read_text())]))
        return
    torch.set_num_threads(1)
    hyperparams = {}
    for item in args.hp:
        key, _, value = item.partition("=")
        try:
            hyperparams[key] = json.loads(value)
        except json.JSONDecodeError:
            hyperparams[key] = value
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    tmp = Path(tempfile.mkdtemp())
    for algo in args.algos.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(run_one(args.variant, algo, seed, args.steps, args.episodes, args.vision, tmp,
                                hyperparams))
            out.write_text(json.dumps(rows, indent=1))
    print(report(rows))


if __name__ == "__main__":
    main()
