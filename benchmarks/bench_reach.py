"""Speed of darla/Reach-v0: env steps/s of one env on one core with rendering, and render(factors) frames/s.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_reach.py [--size 64] [--camera wide|close] [--steps 3000] [--json out.json]

The process pins itself to one core (where the OS allows), and Mesa's software rasteriser (llvmpipe)
works in the calling thread (``LP_NUM_THREADS=0``, set by envs.reach), so all of a step's work is this
process's CPU time. Two rates are printed for each figure: per CPU-second (what one core that the
process has to itself gives) and per wall-clock second (what it got on this machine now, with the load
average printed next to it: on a shared machine the two differ by the share of the core it was given).
"""

import argparse
import json
import os
import time

import gymnasium
import numpy as np

import envs  # noqa: F401  (registers darla/Reach-v0)


def timed(work) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) that ``work()`` took."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_steps(env, steps: int, seed: int = 0):
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 3)).astype(np.float32)
    env.reset(seed=seed)

    def work():
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
    return timed(work)


def physics_only(env, steps: int):
    """mj_step × frame_skip per step without rendering: what the simulator itself costs."""
    inner = env.unwrapped
    mujoco, model, data = inner._scene.mujoco, inner._scene.model, inner._data

    def work():
        for _ in range(steps):
            data.ctrl[:] = 0.5
            for _ in range(inner.frame_skip):
                mujoco.mj_step(model, data)
    return timed(work)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--camera", default="wide", help="the env's camera (the reach preset uses close)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--frames", type=int, default=2000, help="states rendered by render(factors)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    results = {"size": args.size, "camera": args.camera, "steps": args.steps, "MUJOCO_GL": None, "gl_renderer": None}
    for domain in ("source", "render_shift"):
        env = gymnasium.make("darla/Reach-v0", size=args.size, domain=domain, camera=args.camera)
        run_steps(env, 200)  # warm: context, caches
        wall, cpu = run_steps(env, args.steps)
        results[f"env_{domain}"] = {"wall_steps_per_s": args.steps / wall, "cpu_steps_per_s": args.steps / cpu}
        space = env.unwrapped.factor_space
        factors = space.sample(args.frames, np.random.default_rng(0), domain=domain)
        wall, cpu = timed(lambda: space.render(factors))
        results[f"render_{domain}"] = {"wall_frames_per_s": args.frames / wall, "cpu_frames_per_s": args.frames / cpu}
    wall, cpu = physics_only(env, args.steps)
    results["physics_only"] = {"wall_steps_per_s": args.steps / wall, "cpu_steps_per_s": args.steps / cpu}
    results["MUJOCO_GL"] = os.environ.get("MUJOCO_GL")
    try:
        from OpenGL import GL
        results["gl_renderer"] = GL.glGetString(GL.GL_RENDERER).decode()
    except Exception as err:  # informative only
        results["gl_renderer"] = f"unknown ({type(err).__name__})"
    results["loadavg"] = os.getloadavg()
    results["cpus"] = os.cpu_count()

    print(f"darla/Reach-v0 {args.size}x{args.size}, camera {args.camera}, one core, MUJOCO_GL={results['MUJOCO_GL']} "
          f"({results['gl_renderer']}), load average {results['loadavg'][0]:.1f} on {results['cpus']} CPUs")
    print(f"{'':34s}{'per CPU-second':>16s}{'per wall second':>17s}")
    for key, label, unit in (("env_source", "env steps, source", "steps"),
                             ("env_render_shift", "env steps, render_shift", "steps"),
                             ("render_source", "render(factors), source", "frames"),
                             ("render_render_shift", "render(factors), render_shift", "frames"),
                             ("physics_only", "physics only (no render)", "steps")):
        r = results[key]
        print(f"  {label:32s}{r[f'cpu_{unit}_per_s']:12,.0f} {unit[:6]:6s}{r[f'wall_{unit}_per_s']:10,.0f} {unit}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
