"""``darla study SWEEP_DIR``: does disentanglement predict transfer, across the points of a sweep?

Reads every finished point (each an ordinary run directory): the backbone vision model that its
`darla` agents read, that model's ground-truth scores (``metrics/<model>/scores.json``: probe, MIG,
DCI, ... whatever ``metrics.names`` asked for), and every agent's mean return per domain. It adds
the label-free scores a user could compute without target data, per vision model on the same
source frames: UDR (Duan et al. 2020; across every model of one method in the sweep, so it needs
two of them) and reconstruction (minus the pixel MSE). Then it ranks each score against `darla`'s
target return and its target/source ratio (:mod:`eval.study`) and writes ``SWEEP_DIR/study/``:
``study.md``, ``models.csv`` (one row per model), ``agents.csv`` (one row per agent), ``correlations.csv``,
``study.json`` and one scatter PNG per target.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable

import numpy as np

from artifacts import atomic_path, write_json_atomic, write_text_atomic
from darla.config import RunConfig
from darla.sweep import POINTS, read_spec

MIN_POINTS = 3
TARGETS = ("target_return", "target_source_ratio")
LABEL_FREE_METRICS = ("unsupervised",)  # registry metrics that read no factor labels


class StudyError(ValueError):
    """A sweep that cannot be studied (yet): the message names what is missing."""


def gather(sweep_dir: Path) -> tuple[list[dict], list[dict], list[str]]:
    """(model rows, agent rows, what is missing) over the sweep's points."""
    from darla import pipeline

    record = read_spec(sweep_dir)
    if record is None:
        raise StudyError(f"{sweep_dir} is not a sweep directory (no sweep.json); run `darla sweep SPEC --dir "
                         f"{sweep_dir}` first")
    models, agent_rows, missing = [], [], []
    for entry in record["points"]:
        run_dir = sweep_dir / POINTS / entry["name"]
        if not (run_dir / "config.json").exists():
            missing.append(f"{entry['name']}: not started")
            continue
        config = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        returns = {}
        for variant in config.variants:
            for seed in config.seeds:
                path = run_dir / "transfer" / variant / f"seed{seed}" / "returns.json"
                if path.exists():
                    means = {d: float(np.mean(v)) for d, v in json.loads(path.read_text()).items()}
                    agent_rows.append({"point": entry["name"], **entry["values"], "variant": variant, "seed": seed,
                                       **means})
                    returns[(variant, seed)] = means
        if "darla" not in config.variants:
            missing.append(f"{entry['name']}: has no `darla` variant, so no agent reads its backbone")
            continue
        unfinished = [f"transfer/darla/seed{s}" for s in config.seeds if ("darla", s) not in returns]
        try:
            checkpoint = pipeline.chosen_checkpoint(run_dir, config, config.vision.method)
        except (OSError, KeyError, ValueError):
            checkpoint = None
        if checkpoint is None or not checkpoint.exists():
            unfinished.insert(0, f"vision/{config.vision.method}")
        if unfinished:
            missing.append(f"{entry['name']}: unfinished {', '.join(unfinished)}")
            continue
        assert checkpoint is not None  # a missing checkpoint is listed as unfinished above
        darla = [returns[("darla", s)] for s in config.seeds]
        source, target = config.source, _target(config)
        row = {"point": entry["name"], **{f"axis:{k}": v for k, v in entry["values"].items()},
               "method": config.vision.method, "model": checkpoint.parent.name,
               "checkpoint": str(checkpoint), "dataset": str(run_dir / "collect" / pipeline.DATASET),
               "source_return": float(np.mean([d[source] for d in darla])),
               "target_return": float(np.mean([d[target] for d in darla]))}
        for domain in config.transfer.domains:
            row[f"{domain}_return"] = float(np.mean([d[domain] for d in darla]))
        row["target_source_ratio"] = (row["target_return"] / row["source_return"] if row["source_return"]
                                      else float("nan"))
        scores_path = run_dir / "metrics" / checkpoint.parent.name / "scores.json"
        if scores_path.exists():
            for metric, values in json.loads(scores_path.read_text()).items():
                for key, value in (values or {}).items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("chance"):
                        prefix = "free" if metric in LABEL_FREE_METRICS else "gt"
                        row[f"{prefix}:{metric}.{key}"] = float(value)
        models.append(row)
    return models, agent_rows, missing


def _target(config: RunConfig) -> str:
    """The shifted domain the study asks about: ``target`` when the env declares it, else the first
    transfer domain after the source."""
    others = [d for d in config.transfer.domains if d != config.source]
    return "target" if "target" in others else (others[0] if others else config.source)


def label_free_scores(models: list[dict], log: Callable[[str], None] = print, seed: int = 0) -> None:
    """Add ``free:udr`` and ``free:reconstruction`` to each model row, scored on its point's source frames
    (models of one method on the same dataset are ranked by UDR together)."""
    import envs.dataset
    from eval import selection

    groups: dict[tuple[str, str], list[dict]] = {}
    for row in models:
        groups.setdefault((row["method"], _dataset_digest(row["dataset"])), []).append(row)
    for (method, _), rows in groups.items():
        with envs.dataset.FrameDataset(rows[0]["dataset"]) as ds:
            frames = ds.frames[:]
        checkpoints = [r["checkpoint"] for r in rows]
        recon = selection.select("reconstruction", checkpoints, frames, seed=seed)["scores"]
        for row, value in zip(rows, recon):
            row["free:reconstruction"] = value
        if len(rows) >= 2:
            for row, value in zip(rows, selection.select("udr", checkpoints, frames, seed=seed)["scores"]):
                row["free:udr"] = value
        else:
            log(f"[study] UDR needs at least 2 models of {method} on one dataset; it has 1 ({rows[0]['point']})")


def _dataset_digest(path: str) -> str:
    import envs.dataset

    return str(envs.dataset.recorded_digest(Path(path)))


def study(sweep_dir: str | Path, n_boot: int = 2000, seed: int = 0, log: Callable[[str], None] = print) -> Path:
    """Write ``SWEEP_DIR/study/`` and return its ``study.md``; fewer than 3 finished points is refused
    with the list of what is missing."""
    from eval import study as stats

    sweep_dir = Path(sweep_dir)
    models, agent_rows, missing = gather(sweep_dir)
    if len(models) < MIN_POINTS:
        raise StudyError(f"{sweep_dir}: a study needs at least {MIN_POINTS} finished points (a backbone model and "
                         f"its `darla` agents' transfer returns); {len(models)} finished. Missing: "
                         + "; ".join(missing or ["(the sweep has fewer than 3 points: add values to its axes)"]))
    label_free_scores(models, log, seed)
    scores = sorted({k for r in models for k in r if k.startswith(("gt:", "free:"))})
    table = stats.correlation_table(models, scores, TARGETS, n_boot=n_boot, seed=seed)
    free = [s for s in scores if s.startswith("free:")]
    best = {t: stats.best_predictor(table, free, t) for t in TARGETS}
    out = sweep_dir / "study"
    out.mkdir(exist_ok=True)
    _write_csv(out / "models.csv", models)
    _write_csv(out / "agents.csv", agent_rows)
    _write_csv(out / "correlations.csv", table)
    for target in TARGETS:
        _scatter(models, scores, target, out / f"{target}.png")
    write_json_atomic(out / "study.json", {"models": models, "correlations": table, "best_label_free": best,
                                           "missing": missing, "n_boot": n_boot})
    path = out / "study.md"
    write_text_atomic(path, _markdown(sweep_dir, models, table, best, missing, n_boot))
    log(f"study: {path}")
    return path


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def _scatter(models: list[dict], scores: list[str], target: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(scores))
    n_rows = -(-len(scores) // cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(3.2 * cols, 2.8 * n_rows), squeeze=False)
    methods = sorted({r["method"] for r in models})
    for ax, score in zip(axes.flat, scores):
        for i, method in enumerate(methods):
            rows = [r for r in models if r["method"] == method and score in r]
            ax.scatter([r[score] for r in rows], [r[target] for r in rows], s=18, color=f"C{i}", label=method)
        ax.set_xlabel(score, fontsize=8)
        ax.set_ylabel(target.replace("_", " "), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(scores):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _markdown(sweep_dir: Path, models: list[dict], table: list[dict], best: dict, missing: list[str],
              n_boot: int) -> str:
    lines = [f"# Study of sweep {sweep_dir.name}: does disentanglement predict transfer?", "",
             f"{len(models)} vision models (one per finished point, the backbone its `darla` agents read); "
             f"Spearman ρ and Kendall τ-b of each score with `darla`'s target return and its target/source "
             f"ratio, with percentile bootstrap 95% CIs over models ({n_boot} resamples). `gt:` scores use the "
             "env's ground-truth factors, `free:` scores use none (label-free).", ""]
    if missing:
        lines += ["Left out: " + "; ".join(missing) + ".", ""]
    lines += ["| score | target | n | Spearman ρ [95% CI] | Kendall τ [95% CI] |", "|---|---|---|---|---|"]
    for row in table:
        lines.append(f"| {row['score']} | {row['target']} | {row['n']} | "
                     f"{_fmt(row['spearman'])} [{_fmt(row['spearman_low'])}, {_fmt(row['spearman_high'])}] | "
                     f"{_fmt(row['kendall'])} [{_fmt(row['kendall_low'])}, {_fmt(row['kendall_high'])}] |")
    lines += ["", "## Which label-free score best predicts transfer", ""]
    for target, row in best.items():
        if row is None:
            lines.append(f"- {target}: no label-free score could be correlated.")
            continue
        covers = row["spearman_low"] <= 0 <= row["spearman_high"]
        verdict = ("its CI covers 0: with these models no label-free score is shown to predict it"
                   if covers else "its CI excludes 0")
        lines.append(f"- {target}: `{row['score']}` (ρ = {_fmt(row['spearman'])} "
                     f"[{_fmt(row['spearman_low'])}, {_fmt(row['spearman_high'])}]); {verdict}.")
    lines += ["", "![target return](target_return.png)", "", "![target/source](target_source_ratio.png)", "",
              "Rows: `models.csv` (scores and returns per model), `agents.csv` (every agent's return per domain), "
              "`correlations.csv`.", ""]
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) and np.isfinite(value) else "–"
