"""Does a frozen-latent agent act the same when only the colours shift? Room layouts drawn in source
colours and again with another domain's colours (agent pose and object cells kept), through each
agent's encoder and standardisation: the share of pairs whose greedy action is unchanged, and the
latents where the policy's sensitivity meets the code's shift. Ground truth builds the matched
pairs; it scores agents already trained, it never trains or chooses one.

``--colours-from ood`` (the default) shifts to colours never seen in source. ``--colours-from
source`` redraws the colours among source's own (pairs whose colours come out the same are
dropped): a check that needs source frames only, so a selection rule could use it, where the ood
version could not.

    .venv/bin/python benchmarks/bench_ood_actions.py AGENT_DIR [AGENT_DIR ...] [--states 3000] [--seed 0]
        [--colours-from ood|source]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy

from agents.agent import load
from envs.room import RoomFactors

COLOURS = ("wall_colour", "floor_colour", "object_colour")  # the factors the Room's domains differ in


def matched_pairs(n: int, seed: int, colours_from: str = "ood") -> tuple[np.ndarray, np.ndarray]:
    """Frames of ``n`` reachable source states, and of the same states with the colours of a state
    drawn from domain ``colours_from`` (pairs whose colours do not change are dropped)."""
    space, rng = RoomFactors(), np.random.default_rng(seed)
    source = space.sample(n, rng, "source", reachable=True)
    colours = [space.index(name) for name in COLOURS]
    shifted = source.copy()
    shifted[:, colours] = space.sample(n, rng, colours_from, reachable=True)[:, colours]
    changed = (shifted[:, colours] != source[:, colours]).any(1)
    return space.render(source[changed]), space.render(shifted[changed])


def score(agent_dir: str, frames: np.ndarray, shifted: np.ndarray) -> str:
    agent = load(agent_dir)
    if agent.encoder is None:
        raise SystemExit(f"{agent_dir} reads no frozen encoder (variant {agent.spec['variant']!r})")
    policy = getattr(agent.model, "policy", None)
    if not isinstance(policy, ActorCriticPolicy):
        raise SystemExit(f"{agent_dir}: {agent.spec['algo']} has no actor-critic policy; this reads PPO and A2C agents")
    codes = [agent.encoder.encode(x) for x in (frames, shifted)]
    if agent.standardizer is not None:
        codes = [agent.standardizer(c) for c in codes]

    def logits(codes: np.ndarray | torch.Tensor) -> torch.Tensor:
        return policy.get_distribution(torch.as_tensor(codes)).distribution.logits  # type: ignore[union-attr]  # Categorical: Room acts discretely

    z = torch.tensor(codes[0], requires_grad=True)
    source_logits = logits(z)
    with torch.no_grad():
        kept = source_logits.argmax(1) == logits(codes[1]).argmax(1)
    grad, = torch.autograd.grad(source_logits.gather(1, source_logits.argmax(1, keepdim=True)).sum(), z)
    sensitivity, shift = grad.abs().mean(0).numpy(), np.abs(codes[1] - codes[0]).mean(0)
    top = np.argsort(-sensitivity * shift)[:4]
    return (f"| {agent_dir} | {float(kept.float().mean()):.2f} | {float((sensitivity * shift).sum()):.2f} | "
            + ", ".join(f"z{i} ({sensitivity[i]:.2f} × {shift[i]:.2f})" for i in top) + " |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agents", nargs="+", help="agent folders of frozen-latent variants (darla act --out)")
    parser.add_argument("--states", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--colours-from", choices=("ood", "source"), default="ood",
                        help="the domain whose colours the shifted frames take (source: a source-only check)")
    args = parser.parse_args(argv)
    frames, shifted = matched_pairs(args.states, args.seed, args.colours_from)
    print(f"{len(frames)} matched pairs, colours from {args.colours_from}")
    print("| agent | greedy action kept | Σ sensitivity × shift | largest terms (sensitivity × shift) |")
    print("|---|---|---|---|")
    for agent_dir in args.agents:
        print(score(agent_dir, frames, shifted))


if __name__ == "__main__":
    main()
