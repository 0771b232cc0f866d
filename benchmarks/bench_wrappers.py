"""Speed of the observation wrappers (envs/wrappers.py): steps/s of each on 64×64 and 96×96 frames, one core.

    nice -n 5 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_wrappers.py [--steps 3000] [--out table.md]
    .venv/bin/python benchmarks/bench_wrappers.py --figure docs/img/wrappers.png   # the docs' picture, no timing

Each wrapper wraps a trivial env that returns pre-drawn random RGB frames (so the env itself costs next
to nothing and the figure is the wrapper's), and then darla/Room-v1 at the same frame size. Time is the
process's CPU time (``time.process_time``), pinned to one core, so other processes on a shared machine
slow the wall clock but not the figure; each cell is the best of ``--repeats`` runs of ``--steps``
agent steps. ``frame_skip`` counts agent steps (4 env steps each).
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import gymnasium
import numpy as np
from gymnasium import spaces

import envs  # noqa: F401  (registers darla/Room-v1)
from envs.wrappers import apply_wrappers

CASES = [
    ("none (the env alone)", []),
    ("resize size=32", [{"name": "resize", "size": 32}]),
    ("resize size=32 crop=centre", [{"name": "resize", "size": 32, "crop": "centre"}]),
    ("grayscale", ["grayscale"]),
    ("frame_skip skip=4", [{"name": "frame_skip", "skip": 4}]),
    ("frame_stack k=4", [{"name": "frame_stack", "k": 4}]),
    ("hue_rotate degrees=90", [{"name": "hue_rotate", "degrees": 90}]),
    ("colour_jitter (per episode)", [{"name": "colour_jitter"}]),
    ("colour_jitter per_step=True", [{"name": "colour_jitter", "per_step": True}]),
    ("brightness gain=0.7 jitter=0.2", [{"name": "brightness", "gain": 0.7, "jitter": 0.2}]),
    ("lighting strength=0.5", [{"name": "lighting", "strength": 0.5}]),
    ("background colour key", [{"name": "background", "colour": [205, 205, 215], "tolerance": 8}]),
    ("background alpha=0.5 (whole frame)", [{"name": "background", "alpha": 0.5}]),
    ("blur sigma=1", [{"name": "blur", "sigma": 1.0}]),
    ("sensor_noise std=8", [{"name": "sensor_noise", "std": 8}]),
    ("sensor_noise std=8 salt_pepper=0.01", [{"name": "sensor_noise", "std": 8, "salt_pepper": 0.01}]),
    ("a domain: hue_rotate, background, blur, sensor_noise, frame_stack",
     [{"name": "hue_rotate", "degrees": 90}, {"name": "background", "colour": [205, 205, 215], "tolerance": 8},
      {"name": "blur", "sigma": 1.0}, {"name": "sensor_noise", "std": 8}, {"name": "frame_stack", "k": 4}]),
]


class RandomFrames(gymnasium.Env):
    """Cycles through 64 pre-drawn random frames: an env whose step costs well under a microsecond."""

    def __init__(self, size: int = 64, length: int = 1000):
        self.observation_space = spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.action_space = spaces.Discrete(3)
        self.frames = np.random.default_rng(0).integers(0, 256, (64, size, size, 3), dtype=np.uint8)
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.frames[0], {}

    def step(self, action):
        self.t += 1
        return self.frames[self.t % 64], 0.0, False, self.t >= self.length, {}


def steps_per_second(env: gymnasium.Env, steps: int, seed: int = 0) -> float:
    actions = np.random.default_rng(seed).integers(3, size=steps)
    env.reset(seed=seed)
    start = time.process_time()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.process_time() - start)


def best(make, spec, steps: int, repeats: int) -> float:
    env = apply_wrappers(make(), spec)
    steps_per_second(env, min(500, steps))  # warm caches (the Room's renderer, OpenCV's kernels)
    return max(steps_per_second(env, steps, seed) for seed in range(repeats))


FIGURE = [
    ("none", []),
    ("hue_rotate 120", [{"name": "hue_rotate", "degrees": 120}]),
    ("colour_jitter", [{"name": "colour_jitter"}]),
    ("brightness 0.6", [{"name": "brightness", "gain": 0.6}]),
    ("lighting", [{"name": "lighting", "strength": 0.6}]),
    ("background (ceiling)", [{"name": "background", "colour": [205, 205, 215]}]),
    ("background alpha 0.3", [{"name": "background", "alpha": 0.3}]),
    ("blur 1.5", [{"name": "blur", "sigma": 1.5}]),
    ("sensor_noise 16", [{"name": "sensor_noise", "std": 16, "salt_pepper": 0.02}]),
    ("grayscale", ["grayscale"]),
]


def figure(path: str, seeds=(0, 1, 2)):
    """One column per transform, one row per reset seed: the first frame of a darla/Room-v1 episode at 96×96."""
    columns = []
    for label, spec in FIGURE:
        env = apply_wrappers(gymnasium.make("darla/Room-v1", size=96), spec)
        frames = [env.reset(seed=seed)[0] for seed in seeds]
        frames = [np.repeat(f, 3, axis=2) if f.shape[2] == 1 else f for f in frames]
        title = np.full((14, 96, 3), 255, np.uint8)
        cv2.putText(title, label, (2, 10), cv2.FONT_HERSHEY_PLAIN, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        columns.append(np.concatenate([title, *frames], axis=0))
    grid = np.concatenate([np.pad(c, ((0, 0), (0, 2), (0, 0)), constant_values=255) for c in columns], axis=1)
    cv2.imwrite(path, grid[..., ::-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96])
    parser.add_argument("--out", help="also write the markdown table to this file")
    parser.add_argument("--figure", help="only draw what each transform does to Room frames, to this PNG")
    args = parser.parse_args()
    if args.figure:
        return figure(args.figure)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    makers = {f"random {s}×{s}": (lambda s=s: RandomFrames(s)) for s in args.sizes}
    makers.update({f"Room-v1 {s}×{s}": (lambda s=s: gymnasium.make("darla/Room-v1", size=s)) for s in args.sizes})
    header = "| wrapper | " + " | ".join(makers) + " |"
    lines = [header, "|" + "---|" * (len(makers) + 1)]
    bare = {}
    for label, spec in CASES:
        cells = []
        for column, make in makers.items():
            sps = best(make, spec, args.steps, args.repeats)
            if not spec:
                bare[column] = sps
                cells.append(f"{sps:,.0f}")
            else:  # steps/s, and the wrapper's own cost per step over the bare env
                cells.append(f"{sps:,.0f} ({1e6 * (1 / sps - 1 / bare[column]):.0f} µs)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
        print(lines[-1] if len(lines) > 3 else "\n".join(lines), flush=True)
    note = (f"\nsteps per CPU second, best of {args.repeats} × {args.steps} steps on one core; in brackets the wrapper's "
            "cost per step over the env alone (frame_skip: 4 env steps per agent step).")
    print(note)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n" + note + "\n")


if __name__ == "__main__":
    main()
