"""The experiment: collect → see → act → transfer (→ metrics) → report, in one run directory.

Layout of ``runs/<name>/``::

    config.json                       the resolved config
    collect/source.h5                 stage-1 frames with ground-truth factors
    vision/<method>/checkpoint.pt     one vision model per method the variants need (+ PNGs, tb/)
    agent/<variant>/seed<k>/          saved agents (policy.safetensors + policy.json, agent.json, encoder.pt)
    transfer/<variant>/seed<k>/       per-domain episode returns of each agent (returns.json) and, where
                                      the env reports ``info["is_success"]``, success flags (success.json)
    metrics/<method>/scores.json      disentanglement scores of each vision model
    scan/                             the optional SCAN stage (``scan.factors``): scan.pt, PNGs, accuracy.json
    tb/                               TensorBoard events of the RL stages and metrics
    report.md, transfer.{csv,json,md}, transfer.png

Every stage is fingerprinted (:mod:`darla.stages`), so re-running skips what is finished; the
fingerprints follow the content digests of the dataset and checkpoints, so a replaced file re-runs
the stages that read it. ``collect/source.h5`` must be of the run's env, domain and sampling.

A run directory written before datasets and checkpoints recorded digests is reused as it is: when
a stage reads a file of a finished stage whose record predates digests, the file is given its
digest first (:func:`with_digest`, as ``darla digest`` does, after checking that it loads), and a
line says so. A file without a digest in a stage recorded with digests is refused by its reader.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import agents
import envs
import envs.collect
import envs.dataset
import vision
from darla.config import RunConfig
from artifacts import atomic_path, remove_temporaries, write_json_atomic, write_text_atomic
from darla import scan_stage
from darla.stages import MARKER, Stages, locked, read_record
from eval import transfer

DATASET, CHECKPOINT, SUCCESS = "source.h5", "checkpoint.pt", "success.json"
FILE_DIGESTS = {DATASET: envs.dataset.recorded_digest, CHECKPOINT: vision.checkpoint.recorded_digest}


def vision_plan(config: RunConfig) -> list[str]:
    """Vision methods to fit, each after the methods it ``requires`` (β-VAE-DAE after the DAE it
    reuses, which DARLA_DAE also reads); otherwise in name order."""
    needed = {m for v in config.variants if (m := agents.variant(v).method_for(config.vision.method))}
    if config.scan.enabled:  # SCAN builds on it even when no variant reads it
        needed.add(config.scan.method or config.vision.method)
    order: list[str] = []

    def visit(method: str, chain: tuple[str, ...]) -> None:
        if method in chain:
            raise ValueError(f"vision methods require each other in a cycle: {' -> '.join(chain + (method,))}")
        if method in order:
            return
        for dependency in vision.methods.get(method).requires:
            visit(dependency, chain + (method,))
        order.append(method)

    for method in sorted(needed):
        visit(method, ())
    return order


def vision_seeds(config: RunConfig, method: str) -> list[int]:
    """The seeds ``method`` is trained with: ``vision.seeds`` for the backbone of `darla` and
    `darla_ft` (one model is then selected), ``vision.seed`` for the others."""
    return list(config.vision.seeds) if method == config.vision.method and config.vision.seeds else [config.vision.seed]


def vision_model_name(method: str, seed: int, several: bool) -> str:
    """The folder name of one vision model: ``beta_vae_dae``, or ``beta_vae_dae-seed1`` among several seeds."""
    return f"{method}-seed{seed}" if several else method


def vision_model_names(config: RunConfig) -> list[str]:
    names = []
    for method in vision_plan(config):
        seeds = vision_seeds(config, method)
        names += [vision_model_name(method, s, len(seeds) > 1) for s in seeds]
    return names


STAGE_PREFIXES = ("collect", "vision", "select", "metrics", "scan", "agent", "transfer")


def check_force(force) -> tuple[str, ...]:
    """``--force`` values must name stages (a key prefix such as ``vision`` or ``agent/darla``)."""
    bad = [f for f in force if not isinstance(f, str) or f.strip("/").split("/")[0] not in STAGE_PREFIXES]
    if bad:
        raise ValueError(f"--force {', '.join(map(repr, bad))} names no stage; give a stage key or prefix: "
                         f"{', '.join(STAGE_PREFIXES)} (e.g. vision/dae, agent/darla)")
    return tuple(force)


def run(config: RunConfig, runs_dir: str | Path = "runs", force=(), log: Callable[[str], None] = print) -> Path:
    """Run (or resume) the whole experiment holding the run directory's lock; returns the run directory.

    Everything is validated before the directory is touched; ``config.json`` is written only then."""
    config.validate()
    force = check_force(force)
    run_dir = Path(runs_dir) / config.name
    run_dir.mkdir(parents=True, exist_ok=True)
    with locked(run_dir):
        return _run_locked(config, run_dir, force, log)


def _run_locked(config: RunConfig, run_dir: Path, force: tuple[str, ...], log: Callable[[str], None]) -> Path:
    leftovers = remove_temporaries(run_dir)  # of writers killed mid-write; the lock says none is running
    if leftovers:
        log(f"[clean] removed {len(leftovers)} temporary file(s) an interrupted run left: "
            f"{', '.join(str(p.relative_to(run_dir)) for p in leftovers[:3])}{', ...' if len(leftovers) > 3 else ''}")
    write_json_atomic(run_dir / "config.json", config.to_dict())
    torch.set_num_threads(config.threads)
    stages = Stages(run_dir, force, log, FILE_DIGESTS)
    start = time.time()

    collect_stage(stages, config, run_dir)
    tasks = plan(config)
    if config.jobs > 1 and len(tasks) > 1:
        _run_parallel(config, run_dir, tasks, force, log, stages)
    else:
        for task in tasks:
            _run_task(stages, config, run_dir, task, threads=config.threads, progress=True)

    write_report(run_dir, config, log, f"This invocation took {time.time() - start:.0f} s "
                                       f"({len(stages.ran)} stages ran, {len(stages.skipped)} reused).")
    return run_dir


def collect_stage(stages: Stages, config: RunConfig, run_dir: Path, progress: bool = True) -> None:
    """The stage-1 dataset (``collect/source.h5``), checked to be of this run's env and domain."""
    stages.run("collect", {"env": config.env, "env_kwargs": config.env_kwargs, **_domains_setting(config),
                           **vars(config.collect)},
               lambda folder: envs.collect.collect(config.env, folder / DATASET, config.collect.frames,
                                                   domain=config.collect.domain, seed=config.collect.seed,
                                                   sampling=config.collect.sampling, progress=progress,
                                                   **config.env_kwargs))
    check_dataset(run_dir / "collect" / DATASET, config)


def _domains_setting(config: RunConfig) -> dict:
    """A level-1 env's domain definitions, for the fingerprints of the stages that make its envs
    (empty for an env with ground truth, so the fingerprints of such runs stay as they were)."""
    return {"domains": config.domains} if config.domains else {}


def write_report(run_dir: Path, config: RunConfig, log: Callable[[str], None] = print, note: str = "") -> None:
    """Write the transfer table (JSON, CSV, Markdown), its plot and ``report.md`` from the finished
    transfer and metrics stages of ``run_dir``; ``note`` is a sentence for the report's header.

    :func:`run` ends with it; ``darla report`` calls it alone, for instance once stages that ran on
    different machines have been copied into one run directory."""
    rows = collect_rows(run_dir, config)
    summary = transfer.summarize(rows, baseline=config.source, order=config.transfer.domains)
    files = transfer.write_results(rows, run_dir, summary)
    scores = {m: json.loads((run_dir / "metrics" / m / "scores.json").read_text())
              for m in vision_model_names(config) if (run_dir / "metrics" / m / "scores.json").exists()}
    selections = {m: json.loads((run_dir / "select" / m / "selection.json").read_text())
                  for m in vision_plan(config) if (run_dir / "select" / m / "selection.json").exists()}
    _plot(summary, run_dir / "transfer.png")
    summaries = {m: run_dir / "vision" / m / "summary.json" for m in vision_model_names(config)}
    collapsed = {m: reasons for m, path in summaries.items() if path.exists()
                 and (reasons := vision.collapse_reasons(json.loads(path.read_text())))}
    ran = ran_with(run_dir, config)
    write_text_atomic(run_dir / "report.md", _report(config, files["md"].read_text(), scores, note, selections,
                                                     collapsed, ran, run_dir))
    log(f"\n{files['md'].read_text()}")
    log(f"report: {run_dir / 'report.md'}")


def _act_and_transfer(stages: Stages, config: RunConfig, run_dir: Path, checkpoints: dict, name: str,
                      seed: int, progress: bool = True) -> None:
    spec = agents.variant(name)
    agent_key = f"agent/{name}/seed{seed}"
    method = spec.method_for(config.vision.method)
    inputs = [vision_input_key(config, method)] if method else []
    # the hyperparameters this variant resolves to, not every input's: a frames-only change keeps latent agents
    settings = {"variant": name, "seed": seed, "env": config.env, "env_kwargs": config.env_kwargs,
                **_domains_setting(config),
                **{k: v for k, v in vars(config.agent).items() if k not in ("device", "per_input")},
                "hyperparams": config.agent_hyperparams(name)}
    agent_dir = stages.run(agent_key, settings,
                           lambda folder: _train_agent(folder, config, name, seed, checkpoints, run_dir, progress,
                                                       stages.log),
                           inputs)
    # no shifts: the settings of a run from before shifts existed, so its evaluations are reused
    evaluation = {k: v for k, v in vars(config.transfer).items() if k != "shifts" or v}
    stages.run(f"transfer/{name}/seed{seed}", {**evaluation, **_domains_setting(config)},
               lambda folder: _evaluate(folder, config, agent_dir), [agent_key])


def vision_input_key(config: RunConfig, method: str) -> str:
    """The stage whose digest an agent's fingerprint takes: the selection among several seeds, or the model."""
    return f"select/{method}" if len(vision_seeds(config, method)) > 1 else f"vision/{method}"


@dataclass(frozen=True)
class Task:
    """One unit of work after collection, named by the stage it finishes (an agent task also runs
    its transfer stage), with the tasks it waits for: the run is a graph, not a sequence."""

    kind: str                  # vision | metrics | select | scan | agent
    key: str
    needs: tuple[str, ...] = ()
    method: str = ""
    seed: int = 0
    variant: str = ""


def plan(config: RunConfig) -> list[Task]:
    """Every task of the run in an order that runs each after what it needs (the serial order):
    vision models (each after the models it requires), their metrics and selection, SCAN (when
    ``scan.factors`` asks for it, after the model it builds on), then agents."""
    tasks = []
    for method in vision_plan(config):
        seeds = vision_seeds(config, method)
        requires = tuple(vision_input_key(config, d) for d in vision.methods.get(method).requires)
        for seed in seeds:
            name = vision_model_name(method, seed, len(seeds) > 1)
            tasks.append(Task("vision", f"vision/{name}", requires, method, seed))
            if config.metrics.names and config.ground_truth:  # a level-1 env has no factors to score against
                tasks.append(Task("metrics", f"metrics/{name}", (f"vision/{name}",), method, seed))
        if len(seeds) > 1:
            tasks.append(Task("select", f"select/{method}",
                              tuple(f"vision/{vision_model_name(method, s, True)}" for s in seeds), method))
    if config.scan.enabled:
        method = scan_stage.method_of(config)
        tasks.append(Task("scan", scan_stage.STAGE, (vision_input_key(config, method),), method))
    for variant in config.variants:
        reads = agents.variant(variant).method_for(config.vision.method)
        for seed in config.seeds:
            tasks.append(Task("agent", f"agent/{variant}/seed{seed}",
                              (vision_input_key(config, reads),) if reads else (), variant=variant, seed=seed))
    return tasks


def chosen_checkpoint(run_dir: Path, config: RunConfig, method: str) -> Path:
    """The checkpoint of ``method`` that later stages read: its one model, or the selected seed's."""
    seeds = vision_seeds(config, method)
    if len(seeds) == 1:
        return run_dir / "vision" / vision_model_name(method, seeds[0], False) / CHECKPOINT
    chosen = json.loads((run_dir / "select" / method / "selection.json").read_text())["chosen_seed"]
    return run_dir / "vision" / vision_model_name(method, chosen, True) / CHECKPOINT


def _run_task(stages: Stages, config: RunConfig, run_dir: Path, task: Task, threads: int, progress: bool) -> None:
    dataset = run_dir / "collect" / DATASET
    if task.kind == "vision":
        requires = vision.methods.get(task.method).requires
        reads = {key: chosen_checkpoint(run_dir, config, d) for d, key in requires.items()}
        hp = {**config.vision.methods.get(task.method, {}), "seed": task.seed}
        # Not fingerprinted: device and threads change where the numbers are computed, not what they
        # mean, and a required model enters through its stage digest (so a moved run directory stays valid).
        run_on = {"device": config.vision.device, "threads": threads, **{k: str(v) for k, v in reads.items()}}
        def fit(folder: Path) -> None:
            if vision.methods.get(task.method).interactive:  # ICF steps the source env the collect stage names
                _fit_vision_env(folder, config, task.method, {**hp, **run_on}, progress)
            else:
                _fit_vision(folder, dataset, task.method, {**hp, **run_on}, list(reads.values()), stages.log, progress)

        folder = stages.run(task.key, {"method": task.method, **hp}, fit, ["collect", *task.needs])
        check_collapse(folder, config, stages.log)
    elif task.kind == "metrics":
        checkpoint = run_dir / task.needs[0] / CHECKPOINT
        stages.run(task.key, vars(config.metrics),
                   lambda out: _score(out, config, with_digest(checkpoint, stages.log)), list(task.needs))
    elif task.kind == "select":  # pick one model by an unsupervised score on the source frames
        seeds = vision_seeds(config, task.method)
        stages.run(task.key, {"rule": config.vision.selection, "seeds": seeds},
                   lambda folder: _select(folder, config, dataset, [run_dir / k for k in task.needs], seeds,
                                          stages.log), ["collect", *task.needs])
    elif task.kind == "scan":  # on the chosen (selected) frozen checkpoint; renders its own source frames
        checkpoint = chosen_checkpoint(run_dir, config, task.method)
        stages.run(task.key, scan_stage.settings(config),
                   lambda folder: scan_stage.run_stage(folder, config, with_digest(checkpoint, stages.log),
                                                       stages.log, progress), list(task.needs))
    else:
        method = agents.variant(task.variant).method_for(config.vision.method)
        checkpoints = {method: chosen_checkpoint(run_dir, config, method)} if method else {}
        _act_and_transfer(stages, config, run_dir, checkpoints, task.variant, task.seed, progress)


def run_task(stages: Stages, config: RunConfig, run_dir: Path, task: Task, threads: int = 1,
             progress: bool = False) -> None:
    """One task of a run, the collect stage included (``Task("collect", "collect")``): what a
    sweep's worker runs, one stage at a time, in a run directory whose lock its driver holds."""
    if task.kind == "collect":
        collect_stage(stages, config, run_dir, progress)
    else:
        _run_task(stages, config, run_dir, task, threads, progress)


def _job(config_dict: dict, run_dir: str, task: Task, force) -> tuple[list, list, list]:
    """One task in a worker process: one torch thread, its own stage bookkeeping, no progress bars
    (the parent shows one bar for the whole graph)."""
    torch.set_num_threads(1)
    lines: list[str] = []
    stages = Stages(run_dir, force, lines.append, FILE_DIGESTS)
    config = RunConfig.from_dict(config_dict).activate()  # a fresh interpreter: the user's modules, env domains
    _run_task(stages, config, Path(run_dir), task, threads=1, progress=False)
    return lines, stages.ran, stages.skipped


def _exit_with_parent(parent: int) -> None:
    """Run in each worker: stop it within a second of its `darla run` being killed, instead of
    finishing stages nobody waits for while a new run may already hold the directory (what it leaves
    half-written is a temporary file, which the next run removes)."""
    import os
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_parallel(config: RunConfig, run_dir: Path, tasks: list[Task], force, log, stages: Stages) -> None:
    """Up to ``config.jobs`` tasks side by side, each as soon as what it needs has finished: the
    pixel agents train while stage 1 does, and several vision seeds train at once. A failed task
    stops new ones from starting; the running ones finish (their stages are kept), then it raises."""
    import multiprocessing
    import os
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from tqdm.auto import tqdm

    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
    waiting, done, failure = list(tasks), set[str](), None
    running: dict = {}
    bar = tqdm(total=len(tasks), desc=f"stages ({config.jobs} at a time)", unit="task")
    with ProcessPoolExecutor(max_workers=config.jobs, mp_context=context, initializer=_exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        while waiting or running:
            while failure is None and len(running) < config.jobs:
                ready = next((t for t in waiting if all(n in done for n in t.needs)), None)
                if ready is None:
                    break
                waiting.remove(ready)
                log(f"[start] {ready.key}")
                running[pool.submit(_job, config.to_dict(), str(run_dir), ready, tuple(force))] = ready
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                try:
                    lines, ran, skipped = future.result()
                except Exception as err:  # noqa: BLE001  re-raised once the running tasks are done
                    failure = failure or err
                    log(f"[failed] {task.key}: {err}")
                    continue
                stages.ran += ran
                stages.skipped += skipped
                for line in lines:
                    log(line)
                done.add(task.key)
                bar.update()
    bar.close()
    if failure is not None:
        raise failure


# -- files of finished stages ----------------------------------------------------------------------
def check_dataset(path: Path, config: RunConfig) -> None:
    """Refuse a ``collect/source.h5`` that is not of this run's env, env version, env settings,
    domain and sampling (a dataset copied in from another run), naming what differs."""
    expected = {"env_id": config.env, "env_version": envs.registry.env_version(config.env),
                "env_kwargs": dict(config.env_kwargs), "domain": config.collect.domain,
                "sampling": envs.collect.resolve_sampling(config.env, config.collect.sampling)}
    try:
        with envs.dataset.FrameDataset(path, verify=False, allow_undigested=True, expect_origin=expected):
            pass
    except envs.dataset.DatasetError as err:
        raise envs.dataset.DatasetError(f"{err}; this run collects from {config.env} ({config.collect.domain}, "
                                        f"{expected['sampling']}): move {path.parent} aside or run again with "
                                        "`--force collect` to collect its own") from None


def with_digest(path: Path, log: Callable[[str], None]) -> Path:
    """``path`` itself, after giving it a digest when it lacks one and the finished stage that
    wrote it predates digests (see the module docstring)."""
    path = Path(path)
    record = read_record(path.parent / MARKER)
    if record is None or "artifacts" in record or path.name not in FILE_DIGESTS or not path.is_file():
        return path
    kind = envs.dataset if path.name == DATASET else vision.checkpoint
    if kind.recorded_digest(path) is None and kind.add_digest(path):
        log(f"[digest] {path.parent.name}/{path.name}: written before digests; it loads, its digest is now recorded")
    return path


# -- stage bodies ---------------------------------------------------------------------------------
def _fit_vision(folder: Path, dataset: Path, method: str, hp: dict, reads: list[Path],
                log: Callable[[str], None], progress: bool = True) -> None:
    for path in [dataset, *reads]:
        with_digest(path, log)
    with envs.dataset.FrameDataset(dataset) as ds:
        frames, factors = ds.load()
        origin = ds.provenance()
    # ground-truth factors: DC-IGN and supervised Guided-VAE learn from them, the others ignore them
    vision.fit(frames, method=method, out_dir=folder, factors=factors if factors.shape[1] else None, origin=origin,
               progress=None if progress else False, **hp)  # None: a bar when on a terminal


def _fit_vision_env(folder: Path, config: RunConfig, method: str, hp: dict, progress: bool = True) -> None:
    """An interactive method (ICF): it steps the run's env in the collect stage's (source) domain
    itself, reading no frame file and no reward."""
    domain = config.collect.domain
    origin = {"env_id": config.env, "env_version": envs.registry.env_version(config.env),
              "env_kwargs": dict(config.env_kwargs), "domain": domain, "interactive": True}
    vision.fit_env(lambda i: envs.registry.make_env(config.env, domain=domain, **config.env_kwargs), method,
                   folder, origin=origin, progress=None if progress else False, **hp)


class CollapsedVisionError(ValueError):
    """A vision model's code is collapsed and ``vision.strict`` asks the run to stop on it."""


def check_collapse(folder: Path, config: RunConfig, log: Callable[[str], None]) -> list[str]:
    """Flag a collapsed vision model as soon as it has trained (or is reused): a warning line, or,
    with ``vision.strict``, an error before any agent reads its codes. Returns the reasons."""
    path = folder / "summary.json"
    reasons = vision.collapse_reasons(json.loads(path.read_text())) if path.exists() else []
    if reasons:
        message = (f"vision model {folder.name} is collapsed: {'; '.join(reasons)}. Agents on its codes see (nearly) "
                   "the same input in every domain, so their transfer means nothing; train it longer or with "
                   "other settings (vision.methods." + folder.name.split("-seed")[0] + ".*)")
        if config.vision.strict:
            raise CollapsedVisionError(f"{message}; vision.strict=true stops the run here (false: a warning)")
        log(f"[warning] {message}")
    return reasons


def _select(folder: Path, config: RunConfig, dataset: Path, folders: list[Path], seeds: list[int],
            log: Callable[[str], None]) -> None:
    from eval import selection

    with envs.dataset.FrameDataset(with_digest(dataset, log)) as ds:
        frames = ds.frames[:]
    result = selection.select(config.vision.selection, [with_digest(f / CHECKPOINT, log) for f in folders], frames,
                              seed=config.vision.seed)
    write_json_atomic(folder / "selection.json", {**result, "seeds": seeds, "chosen_seed": seeds[result["chosen"]]})


def _train_agent(folder: Path, config: RunConfig, name: str, seed: int, checkpoints: dict, run_dir: Path,
                 progress: bool = True, log: Callable[[str], None] = print) -> None:
    spec = agents.variant(name)
    encoder = checkpoints.get(spec.method_for(config.vision.method))
    if encoder is not None:
        with_digest(encoder, log)
    callbacks = []
    if config.agent.eval_every:
        callbacks.append(_periodic_transfer_callback(config, spec))
    agents.train(name, config.env, folder, steps=config.agent.steps, seed=seed, algo=config.agent.algo,
                 encoder_path=encoder,
                 hyperparams=config.agent_hyperparams(name),
                 env_kwargs=config.env_kwargs, tensorboard_dir=run_dir / "tb" / "agents" / f"{name}_seed{seed}",
                 callbacks=callbacks, progress=progress, device=config.agent.device,
                 standardize=config.agent.standardize, domain=config.source)


def _evaluate(folder: Path, config: RunConfig, agent_dir: Path) -> None:
    agent = agents.load(agent_dir, device=config.agent.device)
    successes: dict[str, list[bool]] = {}
    returns = transfer.evaluate(agent, config.transfer.domains, config.transfer.episodes, config.transfer.seed,
                                successes=successes, shifts=config.transfer.shifts)
    write_json_atomic(folder / "returns.json", returns)
    if successes:  # envs that report no success (the Room) leave the stage as it was
        write_json_atomic(folder / SUCCESS, successes)


def _score(folder: Path, config: RunConfig, checkpoint: Path) -> None:
    from eval import metrics

    space = envs.make_factor_space(config.env, **config.env_kwargs)
    scores = metrics.evaluate(space, vision.load_encoder(checkpoint), config.metrics.names, config.metrics.seed,
                              domain=config.metrics.domain, **config.metrics.settings)
    write_json_atomic(folder / "scores.json", scores)
    from torch.utils.tensorboard import SummaryWriter

    # named after the vision model (the stage may run in a ``.pending`` folder)
    with SummaryWriter(str(folder.parent.parent / "tb" / "metrics" / checkpoint.parent.name)) as writer:
        for metric, values in scores.items():
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    writer.add_scalar(f"metrics/{metric}/{key}", value, 0)


def _periodic_transfer_callback(config: RunConfig, spec):
    """Evaluates the learning policy on every transfer domain every ``agent.eval_every`` steps
    (DMControl-GB's train-on-source, watch-the-target protocol) and logs ``transfer/<domain>``, and
    ``transfer/<domain>/success`` where the env reports ``info["is_success"]``."""
    from stable_baselines3.common.callbacks import BaseCallback

    class TransferEval(BaseCallback):
        def _on_step(self) -> bool:
            if self.n_calls % max(1, config.agent.eval_every // self.training_env.num_envs):
                return True
            encoder = getattr(self.training_env, "encoder", None)
            standardizer = getattr(self.training_env, "standardizer", None)
            for domain in config.transfer.domains:
                venv = agents.make_vec_env(config.env, domain, min(8, config.agent.eval_episodes),
                                           config.transfer.seed, config.env_kwargs,
                                           factors=spec.input.ground_truth)
                venv = spec.input.wrap(venv, encoder, standardizer)
                successes: list[bool] = []
                returns = transfer.run_episodes(venv, lambda o, d: self.model.predict(o, deterministic=d)[0],
                                                config.agent.eval_episodes, successes=successes)
                venv.close()
                self.logger.record(f"transfer/{domain}", float(np.mean(returns)))
                if successes:  # envs that report info["is_success"] (Reach)
                    self.logger.record(f"transfer/{domain}/success", float(np.mean(successes)))
            return True

    return TransferEval()


# -- results --------------------------------------------------------------------------------------
def ran_with(run_dir: Path, config: RunConfig) -> list[dict]:
    """What each (variant, seed) row of the table actually ran, read from its agent and transfer
    stage records (not from ``config.json``, which a later invocation may have changed): algorithm,
    steps, RL overrides, standardisation, the vision stage it read, episodes and domains."""
    out = []
    for name in config.variants:
        for seed in config.seeds:
            agent = read_record(run_dir / "agent" / name / f"seed{seed}" / MARKER) or {}
            evaluation = read_record(run_dir / "transfer" / name / f"seed{seed}" / MARKER) or {}
            a, t = agent.get("settings", {}), evaluation.get("settings", {})
            out.append({"variant": name, "seed": seed, "algo": a.get("algo"), "steps": a.get("steps"),
                        "hyperparams": a.get("hyperparams", {}), "standardize": a.get("standardize", False),
                        "vision": ", ".join(agent.get("inputs", [])) or "-", "episodes": t.get("episodes"),
                        "domains": t.get("domains")})
    return out


def collect_rows(run_dir: Path, config: RunConfig) -> list[dict]:
    """Per-episode rows of every (variant, seed) transfer stage, with each episode's success where
    the stage recorded it; missing stages fail, all named."""
    paths = {(name, seed): run_dir / "transfer" / name / f"seed{seed}" / "returns.json"
             for name in config.variants for seed in config.seeds}
    missing = [f"transfer/{name}/seed{seed}" for (name, seed), path in paths.items() if not path.exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir} has no finished {', '.join(missing)}; run `darla run` to finish "
                                "them, or leave those variants and seeds out (variants=[...] seeds=[...])")
    return [row for (name, seed), path in paths.items()
            for row in transfer.records(name, seed, json.loads(path.read_text()),
                                        json.loads((path.parent / SUCCESS).read_text())
                                        if (path.parent / SUCCESS).exists() else None)]


def _plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = sorted({s["variant"] for s in summary})
    domains = list(dict.fromkeys(s["domain"] for s in summary))  # summarize's order: the config's
    width = 0.8 / max(1, len(domains))
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(variants), 3.2))
    for j, domain in enumerate(domains):
        rows = {s["variant"]: s for s in summary if s["domain"] == domain}
        means = [rows[v]["mean"] if v in rows else np.nan for v in variants]
        stds = [rows[v]["std"] if v in rows else 0 for v in variants]
        ax.bar(np.arange(len(variants)) + j * width, means, width, yerr=stds, label=domain, capsize=3)
    ax.set_xticks(np.arange(len(variants)) + width * (len(domains) - 1) / 2, variants)
    ax.set_ylabel("episode return")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _report(config: RunConfig, table: str, scores: dict, note: str = "", selections: dict | None = None,
            collapsed: dict | None = None, ran: list[dict] | None = None, run_dir: Path | None = None) -> str:
    ran = ran or []
    budgets = {(r["algo"], r["steps"], r["episodes"]) for r in ran}
    if len(budgets) == 1 and None not in next(iter(budgets)):
        algo, steps, episodes = next(iter(budgets))
        budget = f"{algo} for {steps:,} steps; {episodes} evaluation episodes per domain"
    else:
        budget = "budgets differ between rows (see *What each row ran*)"
    lines = [f"# {config.name}", "",
             f"{config.env}: variants {', '.join(config.variants)}; seeds {config.seeds}; {budget}. "
             f"{note}".rstrip(), "", "## Zero-shot transfer", "", table,
             "Mean ± std over seeds of each seed's mean episode return; IQM over all episodes with a 95% "
             "bootstrap CI stratified by seed; `vs source` = mean on the domain / mean on source."
             + (" Success: the env's `info[\"is_success\"]` on each episode's last step; mean ± std over seeds "
                "of each seed's success rate, with a 95% bootstrap CI of the pooled rate stratified by seed."
                if "success %" in table else ""), "",
             "![returns](transfer.png)", ""]
    if ran:
        lines += ["## What each row ran", "", "From each agent's and transfer's stage record (`stage.json`).", "",
                  "| variant | seed | algorithm | steps | RL overrides | standardised | vision read | episodes |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['variant']} | {r['seed']} | {r['algo']} | {r['steps']:,} | "
                  f"{', '.join(f'{k}={v}' for k, v in r['hyperparams'].items()) or '-'} | "
                  f"{'yes' if r['standardize'] else 'no'} | {r['vision']} | {r['episodes']} |"
                  for r in ran if r["steps"] is not None] + [""]
    for method, sel in (selections or {}).items():
        seeds = vision_seeds(config, method)
        lines += [f"## Vision model selection ({method})", "",
                  f"Rule `{sel['rule']}` on {sel['frames_scored']} source frames (no rewards, no labels, no "
                  f"shifted domain): chose seed {seeds[sel['chosen']]}.", "",
                  "| vision seed | score |", "|---|---|"]
        lines += [f"| {s} | {v:.4f} |" for s, v in zip(seeds, sel["scores"])] + [""]
    if not config.ground_truth:
        skipped = f" (metrics.names {list(config.metrics.names)} were skipped)" if config.metrics.names else ""
        lines += ["## Disentanglement of the vision models", "",
                  f"Not measured{skipped}: {config.env} has no ground truth (a level-1 env, whose domains are sets "
                  "of constructor kwargs and wrappers), and every disentanglement metric scores codes against "
                  "known factors. The transfer table needs none; for the metrics, give the env a FactorSpace "
                  "(level 2, docs/your_env.md).", ""]
    if collapsed:
        lines += ["## Collapsed vision models", "",
                  "Agents on a collapsed code see (nearly) the same input in every domain: equal returns on "
                  "source and target do not show transfer.", ""]
        lines += [f"- **{name}: collapsed**: {'; '.join(reasons)}" for name, reasons in collapsed.items()] + [""]
    probes = {method: by_metric.pop("probe") for method, by_metric in scores.items() if "probe" in by_metric}
    scores = {method: by_metric for method, by_metric in scores.items() if by_metric}
    if scores:
        names = sorted({k for s in scores.values() for metric in s.values() for k in metric
                        if isinstance(metric, dict)})
        lines += ["## Disentanglement of the vision models", "",
                  "| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for method, by_metric in scores.items():
            flat = {k: v for metric in by_metric.values() if isinstance(metric, dict) for k, v in metric.items()}
            lines.append(f"| {method} | " + " | ".join(_fmt(flat.get(k)) for k in names) + " |")
        lines.append("")
    if probes:
        lines += _probe_table(probes, config.metrics.domain)
    if run_dir is not None:
        lines += scan_stage.report_section(run_dir)
    return "\n".join(lines)


def _probe_table(probes: dict, fit_domain: str) -> list[str]:
    """One row per factor: how well each vision model's codes, read by classifiers fit on
    ``fit_domain``, predict it there and on every shifted domain (the ``probe`` metric)."""
    factors = [k.split(".", 1)[1] for k in next(iter(probes.values())) if k.startswith("accuracy.")]
    shifted = sorted({k.split(".", 1)[0] for p in probes.values() for k in p
                      if "." in k and k.split(".", 1)[0] not in ("accuracy", "chance")})
    header = ["factor", "chance"] + [f"{method} {domain}" for method in probes for domain in [fit_domain] + shifted]
    lines = ["## What the vision encodes, and whether it transfers", "",
             f"Per-factor accuracy of classifiers fit on {fit_domain} codes (the `probe` metric).", "",
             "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for factor in factors + ["mean"]:
        chance = next(iter(probes.values())).get(f"chance.{factor}")
        cells = [factor, _fmt(chance)]
        for p in probes.values():
            cells.append(_fmt(p.get("mean_accuracy" if factor == "mean" else f"accuracy.{factor}")))
            cells += [_fmt(p.get(f"mean_{d}" if factor == "mean" else f"{d}.{factor}")) for d in shifted]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else ""
