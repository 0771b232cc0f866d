"""Zero-shot returns of saved agents under visual shifts of their source domain that no stage saw.

    .venv/bin/python benchmarks/bench_visual_shifts.py AGENT [AGENT ...] --out DIR [--episodes 50]
        [--seed 10000] [--shifts hue_rotate,blur,...] [--threads 1]

The Room's own `target` and `ood` domains recombine colours and shapes the source already shows,
and an end-to-end CNN keeps 98% of its return on them: they cannot tell a disentangled code from
an entangled one. This benchmark asks the question DARLA's paper asks of its own domains: does the
policy still act when the frames look different? Each shift is one of `envs.wrappers`' visual
shifts, applied to every frame of the agent's *source* domain (layouts, rewards and dynamics
unchanged), with settings fixed before any agent was evaluated on them (the wrappers' defaults;
`brightness` needs a gain other than 1, and `background` the Room's ceiling colour). They are the
`room` preset's `transfer.shifts`, so a `darla run room` reports them too; this script evaluates
agents trained elsewhere.
The agents are evaluated unchanged: a frozen-encoder agent encodes the shifted frames with its own
encoder and standardiser, a pixel agent reads them directly. `source` (no shift) is included as the
baseline, so each row's `vs source` is what the shift cost. The evaluation is `darla transfer
--shifts` (`eval.transfer.evaluate(..., shifts=...)`) with this benchmark's fixed shift set; the
same shifts can be put in any run config's `transfer.shifts`.

Writes `DIR/transfer.json`, `transfer.csv`, `transfer.md` (the transfer table: variant × shift, mean ±
std over agents, IQM with a stratified bootstrap CI). Agents are grouped by their variant; pass
the agents of one variant from several vision and agent seeds to get a spread over them.

`--codes N` also asks *why*, for every frozen encoder among the agents (once per encoder file): N
reachable source states are drawn (seeded), each shown plain and through every shift (the env
reset to that exact state, so per-episode draws such as a lighting angle happen as in an episode),
and encoded and standardised as the agent's policy sees them. It writes `DIR/codes.md`: per shift,
how far the shift moves a state's code (RMS, as a share of the RMS distance between two random
source states' codes), the share of standardised latents beyond ±3 (a policy trained on source codes has never seen such
inputs), and how well random forests fit on plain source codes read the objects' bearings and
distances (the `probe` metric's views) from the shifted codes of other, held-out states: whether the
positions survive the shift in the form the policy learned to read.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import envs
from darla import config
from agents.agent import TrainedAgent, load
from envs.wrappers import apply_wrappers
from eval.metrics.probe import probe_from_codes
from eval.transfer import evaluate, records, summarize, write_results

#: name -> wrapper spec applied to the source domain's frames: the `room` preset's `transfer.shifts`
#: (darla/presets/room.json), so `darla run room` reports the same shifts
SHIFTS: dict[str, list] = config.load("room").transfer.shifts


def shifted_frames(agent: TrainedAgent, states: np.ndarray, shift: str) -> np.ndarray:
    """The frames of ``states`` (factor vectors) as ``shift`` shows them, one env reset per state."""
    kwargs = agent.spec.get("env_kwargs") or {}
    env = envs.registry.make_env(agent.spec["env_id"], domain=agent.training_domain, **kwargs)
    env = apply_wrappers(env, [] if shift == "source" else SHIFTS[shift])
    try:
        return np.stack([env.reset(seed=i, options={"factors": state})[0] for i, state in enumerate(states)])
    finally:
        env.close()


def code_report(agents: list[tuple[str, TrainedAgent]], shifts: list[str], n: int, seed: int) -> str:
    """Markdown: per frozen encoder and shift, the share of standardised latents beyond ±3 and the
    view probe's accuracy on shifted codes (fit on plain source codes of other states)."""
    lines = ["| variant | encoder | shift | code moved | latents beyond ±3 | view probe (hat bearing / distance, lolly bearing / distance) |",
             "|---|---|---|---|---|---|"]
    done = set()
    for path, agent in agents:
        if agent.encoder is None or agent.spec.get("encoder_sha256") in done:
            continue
        done.add(agent.spec.get("encoder_sha256"))
        space = envs.make_factor_space(agent.spec["env_id"], **(agent.spec.get("env_kwargs") or {}))
        states = space.sample(2 * n, np.random.default_rng(seed), domain=space.training_domain, reachable=True)
        views = space.views(states)
        names = [f.name for f in space.view_factors]

        def codes(shift: str) -> np.ndarray:
            raw = agent.encoder.encode(shifted_frames(agent, states, shift))
            return agent.standardizer(raw) if agent.standardizer is not None else raw

        plain = codes("source")
        between_states = np.sqrt(np.mean((plain[n:] - plain[:n]) ** 2))  # two random source states
        label = "/".join(Path(path).parts[-2:])
        for shift in ["source"] + shifts:
            z = plain if shift == "source" else codes(shift)
            probe = probe_from_codes(plain[:n], views[:n], plain[n:], views[n:], {"shift": (z[n:], views[n:])},
                                     names=names, seed=seed)
            accuracy = " ".join(f"{probe[f'shift.{name}']:.2f}" for name in names)
            moved = np.sqrt(np.mean((z - plain) ** 2)) / between_states
            lines.append(f"| {agent.spec['variant']} | {label} | {shift} | {moved:.2f} | "
                         f"{np.mean(np.abs(z[n:]) > 3):.3f} | {accuracy} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agents", nargs="+", help="agent folders written by `darla act` or `darla run`")
    parser.add_argument("--out", required=True)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--shifts", default=",".join(SHIFTS), help=f"comma-separated, of {list(SHIFTS)}")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--codes", type=int, default=0, metavar="N",
                        help="also score each frozen encoder's codes of N source states under each shift")
    parser.add_argument("--no-episodes", action="store_true", help="only the --codes report")
    args = parser.parse_args(argv)
    shifts = [s for s in args.shifts.split(",") if s]
    unknown = [s for s in shifts if s not in SHIFTS]
    if unknown:
        parser.error(f"unknown shift(s) {unknown}; known: {list(SHIFTS)}")
    torch.set_num_threads(args.threads)
    agents = [(path, load(path)) for path in args.agents]  # every agent loads before any evaluation
    if args.codes:
        report = code_report(agents, shifts, args.codes, seed=0)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "codes.md").write_text(report)
        print(report)
    if args.no_episodes:
        return []
    rows, seen = [], defaultdict(int)
    for path, agent in agents:
        variant = agent.spec["variant"]
        index = seen[variant]
        seen[variant] += 1
        returns = evaluate(agent, [agent.training_domain], episodes=args.episodes, seed=args.seed,
                           shifts={name: SHIFTS[name] for name in shifts})
        rows += records(variant, index, returns)
        print(f"{variant} #{index} ({path}): " + ", ".join(f"{d} {sum(r) / len(r):.2f}" for d, r in returns.items()),
              flush=True)
    summary = summarize(rows)
    files = write_results(rows, args.out, summary=summary)
    print(files["md"].read_text())
    return summary


if __name__ == "__main__":
    main()
