"""Throughput of the sweep back-ends: ``processes`` with N workers against ``serial``, on a sweep of
independent latent-agent stages (the issue asks for at least 0.8 × N).

Stage 1 (dataset, DAE, β-VAE-DAE) is trained once and copied into each timed sweep's first point,
so the timed part is only the agents (``seeds`` axis: 2N points, one `darla` agent each) and
their evaluation. The machine's load is recorded with the times: on a shared machine the
speed-up says as much about the other processes as about the back-end.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sweep.py --workers 2 --steps 4096
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from artifacts import write_json_atomic
from darla import sweep

TINY_VISION = ["collect.frames=256", "threads=1", "metrics.names=[]", "variants=[darla]", "vision.seeds=[]",
               "transfer.episodes=4", "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64"] + [
    f"vision.methods.{m}.{k}" for m in ("dae", "beta_vae_dae") for k in ("steps=20", "batch_size=16")]


def spec(steps: int, points: int) -> dict:
    return {"base": "room", "overrides": TINY_VISION + [f"agent.steps={steps}"],
            "axes": {"seeds": list(range(points))}}


def cpu_times() -> float:
    """CPU seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4096, help="PPO steps per agent")
    parser.add_argument("--out", default="benchmarks/results/bench_sweep.json")
    args = parser.parse_args()
    points = 2 * args.workers
    root = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        warm = root / "warm"
        sweep.run(spec(args.steps, 1), warm, backend="serial", log=lambda line: None, progress=False)
        first = warm / "points" / "seeds-0"
        results = {}
        for backend, workers in (("serial", None), ("processes", args.workers)):
            target = root / backend / "points" / "seeds-0"
            target.mkdir(parents=True)
            for stage in ("collect", "vision"):
                shutil.copytree(first / stage, target / stage)
            load_before = os.getloadavg()
            cpu, begin = cpu_times(), time.perf_counter()
            outcome = sweep.run(spec(args.steps, points), root / backend, backend=backend, workers=workers,
                                log=lambda line: None, progress=False)
            seconds = time.perf_counter() - begin
            results[backend] = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_times() - cpu, 1),
                                "stages_ran": len(outcome.ran), "stages_shared": len(outcome.shared),
                                "load_before": [round(x, 2) for x in load_before],
                                "load_after": [round(x, 2) for x in os.getloadavg()]}
            print(backend, results[backend], flush=True)
        speedup = results["serial"]["seconds"] / results["processes"]["seconds"]
        record = {"workers": args.workers, "points": points, "agent_steps": args.steps, "cpus": os.cpu_count(),
                  "results": results, "speedup": round(speedup, 2), "target": round(0.8 * args.workers, 2),
                  "command": f"nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sweep.py "
                             f"--workers {args.workers} --steps {args.steps}"}
        write_json_atomic(Path(args.out), record)
        print(f"speed-up {speedup:.2f}x with {args.workers} workers (target {0.8 * args.workers:.1f}x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
