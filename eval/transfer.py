"""Zero-shot transfer evaluation: run a trained policy, unchanged, for K episodes on each domain.

The policy is duck-typed (``agents.TrainedAgent`` is one): ``make_env(domain, n_envs, seed, wrappers)``
builds the env stack it acts through (for frozen-encoder agents, the same latent wrapper and encoder
as in training), ``check_env(venv)`` rejects an env it cannot act in, ``predict(obs, deterministic)``
returns actions, and ``training_domain`` names the domain it trained on. Evaluation seeds are fixed,
so the same agent and seed give the same returns.

Besides the domains an env declares, a policy can be evaluated on **visual shifts**: its training
domain seen through a list of :mod:`envs.wrappers` (``{"hue90": [{"name": "hue_rotate", "degrees":
90}]}``), each reported like a domain, under its own name. Layouts, rewards and dynamics stay the
training domain's; only the frames change, so a shift asks whether the policy still acts when the
scene looks different (docs/wrappers.md).

An env that reports ``info["is_success"]`` on an episode's last step (SB3's convention; Reach does)
also gets a success rate: :func:`evaluate` fills ``successes`` when given, :func:`records` carries
each episode's flag, and :func:`summarize` and the tables aggregate it beside the return.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from artifacts import write_text_atomic
from eval.stats import iqm, stratified_bootstrap_ci

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

FIELDS = ("variant", "seed", "domain", "episode", "return", "success")


class Policy(Protocol):
    @property
    def training_domain(self) -> str: ...

    def make_env(self, domain: str, n_envs: int = 1, seed: int = 0, wrappers: Sequence = ()) -> VecEnv: ...
    def check_env(self, venv: VecEnv) -> None: ...
    def predict(self, observations: np.ndarray, deterministic: bool = True) -> np.ndarray: ...


def run_episodes(venv: VecEnv, predict: Callable[[Any, bool], np.ndarray], episodes: int,
                 deterministic: bool = True, successes: list[bool] | None = None) -> list[float]:
    """Returns of ``episodes`` complete episodes, each env running its fair share (as SB3's
    ``evaluate_policy`` does, so short episodes do not crowd out long ones).

    ``successes``, when given, receives each episode's ``info["is_success"]`` (in the order of the
    returns) if the env reports it on every episode's last step; otherwise it is left empty."""
    n = venv.num_envs
    targets = np.array([(episodes + i) // n for i in range(n)])
    counts = np.zeros(n, dtype=int)
    running = np.zeros(n)
    returns: list[list[float]] = [[] for _ in range(n)]
    flags: list[list[bool | None]] = [[] for _ in range(n)]
    obs = venv.reset()
    while (counts < targets).any():
        obs, rewards, dones, infos = venv.step(predict(obs, deterministic))
        running += rewards
        for i in np.flatnonzero(dones):
            if counts[i] < targets[i]:
                returns[i].append(float(running[i]))
                success = infos[i].get("is_success")
                flags[i].append(None if success is None else bool(success))
                counts[i] += 1
            running[i] = 0.0
    if successes is not None:
        ordered = [f for env_flags in flags for f in env_flags]
        if ordered and None not in ordered:
            successes.extend(f for f in ordered if f is not None)
    return [r for env_returns in returns for r in env_returns]


def evaluate(policy: Policy, domains: Sequence[str], episodes: int = 20, seed: int = 10_000,
             n_envs: int = 8, deterministic: bool = True,
             successes: dict[str, list[bool]] | None = None,
             shifts: Mapping[str, Sequence] | None = None) -> dict[str, list[float]]:
    """Per-domain episode returns of ``policy``, then per visual shift (``shifts``: name → wrapper
    spec, applied to the policy's training domain). Evaluation seeds default far from training seeds.

    ``successes``, when given, receives each domain's per-episode success flags where the env
    reports ``info["is_success"]`` (no key for a domain whose env does not)."""
    clash = sorted(set(shifts or {}) & set(domains))
    if clash:
        raise ValueError(f"shift name(s) {clash} are also domain names; give each shift a name of its own")
    runs: list[tuple[str, str, Sequence]] = [(domain, domain, ()) for domain in domains]
    runs += [(name, policy.training_domain, spec) for name, spec in (shifts or {}).items()]
    results = {}
    for name, domain, wrappers in runs:
        venv = policy.make_env(domain, n_envs=min(n_envs, episodes), seed=seed, wrappers=wrappers)
        flags: list[bool] = []
        try:
            policy.check_env(venv)
            results[name] = run_episodes(venv, policy.predict, episodes, deterministic, flags)
        finally:
            venv.close()
        if successes is not None and flags:
            successes[name] = flags
    return results


def records(variant: str, seed: int, returns: dict[str, list[float]],
            successes: dict[str, list[bool]] | None = None) -> list[dict]:
    """Tidy rows (variant, seed, domain, episode, return[, success]) for one evaluated agent; an
    episode's ``success`` is present only where its domain's flags are given."""
    successes = successes or {}
    for domain, flags in successes.items():
        if len(flags) != len(returns.get(domain, ())):
            raise ValueError(f"{variant} seed {seed}: {len(flags)} success flags on {domain!r} for "
                             f"{len(returns.get(domain, ()))} returns; they must pair episode by episode")
    rows = []
    for domain, values in returns.items():
        for i, r in enumerate(values):
            row = {"variant": variant, "seed": seed, "domain": domain, "episode": i, "return": r}
            if domain in successes:
                row["success"] = bool(successes[domain][i])
            rows.append(row)
    return rows


def summarize(rows: Iterable[dict], n_boot: int = 2000, baseline: str = "source",
              order: Sequence[str] = ("source", "target", "ood")) -> list[dict]:
    """One row per (variant, domain): mean ± std over seeds of per-seed mean returns, IQM of all
    episodes with a 95% bootstrap CI stratified by seed, and the ratio to the variant's source mean.

    Where every episode of a (variant, domain) has a ``success`` flag, the row also has
    ``success`` (mean over seeds of each seed's success rate), ``success_std`` (over seeds) and
    ``success_ci_low``/``high`` (95% bootstrap CI of the pooled rate, stratified by seed)."""
    grouped: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    flagged: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    unflagged: set[tuple[str, str]] = set()
    for row in rows:
        key = (row["variant"], row["domain"])
        grouped[key][row["seed"]].append(row["return"])
        if row.get("success") is None:
            unflagged.add(key)
        else:
            flagged[key][row["seed"]].append(float(row["success"]))
    summary: list[dict[str, Any]] = []
    for (variant, domain), by_seed in grouped.items():
        seed_means = np.array([np.mean(v) for v in by_seed.values()])
        strata = [np.array(v) for v in by_seed.values()]
        low, high = stratified_bootstrap_ci(strata, iqm, n_boot=n_boot, rng=np.random.default_rng(0))
        summary.append({"variant": variant, "domain": domain, "seeds": len(by_seed),
                        "episodes": int(sum(len(v) for v in strata)), "mean": float(seed_means.mean()),
                        "std": float(seed_means.std(ddof=1)) if len(seed_means) > 1 else 0.0,
                        "iqm": iqm(np.concatenate(strata)), "iqm_ci_low": low, "iqm_ci_high": high})
        if (variant, domain) in flagged and (variant, domain) not in unflagged:
            rates = np.array([np.mean(v) for v in flagged[(variant, domain)].values()])
            s_low, s_high = stratified_bootstrap_ci([np.array(v) for v in flagged[(variant, domain)].values()],
                                                    np.mean, n_boot=n_boot, rng=np.random.default_rng(0))
            summary[-1].update({"success": float(rates.mean()),
                                "success_std": float(rates.std(ddof=1)) if len(rates) > 1 else 0.0,
                                "success_ci_low": s_low, "success_ci_high": s_high})
    source = {s["variant"]: s["mean"] for s in summary if s["domain"] == baseline}
    for s in summary:
        base = source.get(s["variant"])
        s["vs_source"] = s["mean"] / base if base not in (None, 0.0) else None
    rank = {domain: i for i, domain in enumerate(order)}
    return sorted(summary, key=lambda s: (s["variant"], rank.get(s["domain"], len(rank)), s["domain"]))


def markdown_table(summary: Sequence[dict]) -> str:
    """The summary as Markdown; a success column (%, mean ± std over seeds [95% CI]) appears when
    any row has a success rate."""
    with_success = any("success" in s for s in summary)
    extra = (" success % (mean ± std over seeds) [95% CI] |", "---|") if with_success else ("", "")
    lines = ["| variant | domain | seeds | return (mean ± std over seeds) | IQM [95% CI] | vs source |" + extra[0],
             "|---|---|---|---|---|---|" + extra[1]]
    for s in summary:
        ratio = "" if s["vs_source"] is None else f"{s['vs_source']:.0%}"
        line = (f"| {s['variant']} | {s['domain']} | {s['seeds']} | {s['mean']:.2f} ± {s['std']:.2f} | "
                f"{s['iqm']:.2f} [{s['iqm_ci_low']:.2f}, {s['iqm_ci_high']:.2f}] | {ratio} |")
        if with_success:
            line += (f" {100 * s['success']:.0f} ± {100 * s['success_std']:.0f} "
                     f"[{100 * s['success_ci_low']:.0f}, {100 * s['success_ci_high']:.0f}] |"
                     if "success" in s else " |")
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_results(rows: Sequence[dict], out_dir: str | os.PathLike,
                  summary: Sequence[dict] | None = None) -> dict[str, Path]:
    """transfer.json (per episode + summary), transfer.csv (tidy) and transfer.md, written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows) if summary is None else summary
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)  # success left blank where not reported
    writer.writeheader()
    writer.writerows(rows)
    files = {"json": out / "transfer.json", "csv": out / "transfer.csv", "md": out / "transfer.md"}
    for kind, text in (("json", json.dumps({"episodes": list(rows), "summary": summary}, indent=1)),
                       ("csv", buffer.getvalue()), ("md", markdown_table(summary))):
        write_text_atomic(files[kind], text)
    return files
