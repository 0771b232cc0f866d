"""Speed of darla/Room-v1: env steps/s of one env on one core, and batch render throughput.

    .venv/bin/python benchmarks/bench_room.py [--size 64] [--steps 50000]

The process pins itself to one core (where the OS allows) so the figure is per core.
"""

import argparse
import os
import time

import gymnasium
import numpy as np

import envs  # noqa: F401  (registers darla/Room-v1)


def steps_per_second(env, steps: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.integers(3, size=steps)
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    made = gymnasium.make("darla/Room-v1", size=args.size)
    steps_per_second(made, 2000)  # warm the render caches
    made_sps = [steps_per_second(made, args.steps, seed) for seed in range(args.repeats)]
    raw_sps = [steps_per_second(made.unwrapped, args.steps, seed) for seed in range(args.repeats)]
    space = made.unwrapped.factor_space
    factors = space.sample(20_000, np.random.default_rng(0))
    space.render(factors)  # warm
    start = time.perf_counter()
    space.render(factors)
    render_fps = len(factors) / (time.perf_counter() - start)
    print(f"darla/Room-v1 {args.size}x{args.size}, one core, {args.steps} random steps x {args.repeats}:")
    print(f"  gymnasium.make env : {np.median(made_sps):9,.0f} steps/s (min {min(made_sps):,.0f}, max {max(made_sps):,.0f})")
    print(f"  unwrapped env      : {np.median(raw_sps):9,.0f} steps/s (min {min(raw_sps):,.0f}, max {max(raw_sps):,.0f})")
    print(f"  render(factors)    : {render_fps:9,.0f} frames/s (20k uniformly sampled states)")


if __name__ == "__main__":
    main()
