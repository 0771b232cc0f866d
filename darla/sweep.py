"""Sweeps: a grid of ordinary run directories that share every stage they can, on one interface
of back-ends (``serial``, ``processes``, ``ray``).

A spec (JSON, YAML when PyYAML is installed, or a preset in ``darla/presets/sweeps/``)::

    {"base": "quickstart",                       # a preset or a config file
     "overrides": ["agent.steps=20000"],         # applied to the base (key=value, or a mapping)
     "axes": {"vision.methods.beta_vae_dae.beta": [1, 4],        # any config key path
              "beta": {"paths": ["vision.methods.beta_vae.beta",  # one value set on several paths
                                 "vision.methods.beta_vae_dae.beta"], "values": [1, 4]},
              "seeds": [0, 1]}}                  # a scalar on a list key means a one-item list

expands to the grid of points, each a run directory ``SWEEP_DIR/points/<axis values>/`` that
``darla run`` and ``darla report`` treat like any other.

How points share work. The sweep schedules stages, not points: every point's tasks (collect, then
:func:`darla.pipeline.plan`) enter one graph. When a task is ready, the driver computes the
fingerprint of its stage exactly as the stage itself would (:class:`_Probe` runs the pipeline's
own task code with a :class:`~darla.stages.Stages` that does no work), and

- finished here with that fingerprint (a resumed sweep): kept;
- finished in another point with that fingerprint: its folder is hard-linked in (copied where
  links are impossible), ``stage.json`` and digest included, so the stages that read it get the
  same fingerprints as in the donor point and are shared in turn;
- running in another point with that fingerprint: the task waits for it;
- otherwise it is sent to the back-end.

So the dataset is collected once, one DAE serves every β of β-VAE-DAE, and agents that differ only
in their own settings share the vision model. Alternatives were weighed: one run directory with
several vision seeds cannot vary β, the env or the agent's settings; a shared content-addressed
cache would be a second store beside the run directories with its own eviction. Copying by
fingerprint needs neither: the fingerprint that already decides whether a stage is reused inside
a run decides it across points, and every point stays a self-contained run directory.

The driver holds the sweep directory's lock and every point's lock (:func:`darla.stages.locked`),
so two sweeps (or a ``darla run``) cannot write one directory at once; ``sweep.json`` records the
spec, and a different spec in the same directory is refused, naming the difference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from artifacts import remove_temporaries, write_json_atomic, write_text_atomic
from artifacts.registry import Registry
from darla import config as config_module
from darla.config import FREE_FORM, RunConfig
from darla.stages import MARKER, PENDING, Stages, locked, read_record

SPEC_FILE, POINTS = "sweep.json", "points"
SPEC_KEYS = {"base", "overrides", "axes", "description"}


class SweepError(ValueError):
    """A spec, a sweep directory or a back-end that cannot be used as given."""


# -- the spec ---------------------------------------------------------------------------------------
def preset_names() -> list[str]:
    folder = resources.files("darla.presets").joinpath("sweeps")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".json"))


def load_spec(source: str | dict) -> dict:
    """A spec from a mapping, a ``.json``/``.yaml`` file, or a sweep preset's name; checked in shape."""
    if isinstance(source, dict):
        spec = source
    else:
        path = Path(source)
        if path.is_file() and path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise SweepError(f"{path} is YAML, and PyYAML is not installed: `pip install pyyaml`, "
                                 "or write the spec as JSON") from None
            spec = yaml.safe_load(path.read_text())
        elif path.is_file():
            try:
                spec = json.loads(path.read_text())
            except ValueError as err:
                raise SweepError(f"{path} is not valid JSON: {err}") from None
        elif source in preset_names():
            spec = json.loads(resources.files("darla.presets").joinpath(f"sweeps/{source}.json").read_text())
        else:
            raise SweepError(f"no sweep preset or spec file {source!r}; sweep presets: {preset_names()} "
                             "(or give the path of a .json or .yaml spec)")
    return _check_spec(json.loads(json.dumps(spec)))


def _check_spec(spec: Any) -> dict:
    if not isinstance(spec, dict):
        raise SweepError(f"a sweep spec is a mapping with keys {sorted(SPEC_KEYS)}, got {type(spec).__name__}")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise SweepError(f"unknown sweep spec key(s) {unknown}; valid: {sorted(SPEC_KEYS)}")
    if not isinstance(spec.get("base"), (str, dict)):
        raise SweepError("a sweep spec needs 'base': a preset name, a config file, or a config mapping")
    overrides = spec.setdefault("overrides", [])
    if isinstance(overrides, dict):
        spec["overrides"] = [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
    elif not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        raise SweepError("'overrides' is a list of key=value strings or a mapping of key paths to values")
    axes = spec.get("axes")
    if not isinstance(axes, dict) or not axes:
        raise SweepError("a sweep spec needs 'axes': a mapping of config key paths to lists of values, "
                         "e.g. {\"vision.seed\": [0, 1]}")
    for label, axis in axes.items():
        paths, values = _axis(label, axis)
        if not values:
            raise SweepError(f"axis {label!r} is empty: give it at least one value")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise SweepError(f"axis {label!r} repeats a value: {values}")
    return spec


def _axis(label: str, axis: Any) -> tuple[list[str], list]:
    """An axis as (key paths, values): a list of values for the path ``label``, or
    ``{"paths": [...], "values": [...]}`` setting each value on every path."""
    if isinstance(axis, list):
        return [label], axis
    if isinstance(axis, dict) and set(axis) == {"paths", "values"} and isinstance(axis["values"], list) \
            and isinstance(axis["paths"], list) and axis["paths"] and all(isinstance(p, str) for p in axis["paths"]):
        return axis["paths"], axis["values"]
    raise SweepError(f"axis {label!r} must be a list of values, or {{\"paths\": [key paths], \"values\": [...]}}; "
                     f"got {axis!r}")


def _set_path(data: dict, path: str, value: Any, label: str) -> None:
    """Set ``path`` in a config mapping: typed sections must have the key (the error lists the
    valid ones), free-form ones (``vision.methods.<m>``, ``agent.hyperparams``) take any."""
    *parents, leaf = path.split(".")
    node, free, where = data, False, list[str]()
    for part in parents:
        if not isinstance(node, dict) or (part not in node and not free):
            raise SweepError(f"axis {label!r}: config key {'.'.join(where + [part])!r} does not exist; "
                             f"valid keys: {_valid(node, where)}")
        free = free or part in FREE_FORM
        where.append(part)
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise SweepError(f"axis {label!r}: {'.'.join(parents)} is not a section, so {path!r} cannot be set")
    if leaf not in node and not (free or leaf in FREE_FORM):
        raise SweepError(f"axis {label!r}: config key {path!r} does not exist; valid keys: {_valid(node, where)}")
    node[leaf] = [value] if isinstance(node.get(leaf), list) and not isinstance(value, list) else value


def _valid(node: Any, where: list[str]) -> list[str]:
    prefix = ".".join(where) + "." if where else ""
    if not isinstance(node, dict):
        return []
    return sorted(prefix + k + ("." if isinstance(v, dict) and k not in FREE_FORM else "") for k, v in node.items())


@dataclass
class Point:
    """One grid point: its folder name, the axis values that made it, its validated config."""
    name: str
    values: dict[str, Any]
    config: RunConfig


def expand(spec: dict) -> list[Point]:
    """Every point of the grid, in axis order, each config validated before anything runs."""
    spec = _check_spec(spec)
    base = spec["base"]
    try:
        data = (RunConfig.from_dict(base) if isinstance(base, dict) else config_module.load(base)).to_dict()
        data = config_module.apply_overrides(data, spec["overrides"])
    except (KeyError, ValueError) as err:
        raise SweepError(f"base {base if isinstance(base, str) else '(mapping)'}: "
                         f"{err.args[0] if err.args else err}") from None
    axes = {label: _axis(label, axis) for label, axis in spec["axes"].items()}
    short = _short_names(list(axes))
    points, names = [], set()
    for combo in itertools.product(*(values for _, values in axes.values())):
        point_data = json.loads(json.dumps(data))
        for (label, (paths, _)), value in zip(axes.items(), combo):
            for path in paths:
                _set_path(point_data, path, value, label)
        name = "__".join(f"{short[label]}-{_word(value)}" for label, value in zip(axes, combo))
        if name in names:  # two values that spell alike: keep every folder distinct, and stable
            name += "__" + _digest(combo)
        names.add(name)
        point_data["name"] = name
        values = dict(zip(axes, combo))
        try:
            config = RunConfig.from_dict(point_data).validate()
        except (KeyError, ValueError, TypeError) as err:
            raise SweepError(f"point {name} ({_describe(values)}): {err.args[0] if err.args else err}") from None
        points.append(Point(name, values, config))
    return points


def _short_names(labels: list[str]) -> dict[str, str]:
    tails = [label.rsplit(".", 1)[-1] for label in labels]
    return {label: (tail if tails.count(tail) == 1 else label.replace(".", "-")) for label, tail in zip(labels, tails)}


def _word(value: Any) -> str:
    text = "+".join(map(_word, value)) if isinstance(value, list) else json.dumps(value).strip('"')
    return re.sub(r"[^A-Za-z0-9.+_-]", "-", text) or "-"


def _digest(value: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:6]


def _describe(values: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        return {k: v for key, value in data.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def spec_difference(recorded: dict, given: dict) -> list[str]:
    """The dotted keys whose values differ between two specs, with both values."""
    a, b = _flat(recorded), _flat(given)
    return [f"{k}: {json.dumps(a.get(k, '(absent)'))} here, {json.dumps(b.get(k, '(absent)'))} given"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


# -- back-ends ---------------------------------------------------------------------------------------
class Backend:
    """Runs ``fn(*args)`` somewhere: ``submit`` returns a handle, ``wait`` returns the handles that
    finished (at least one), ``result`` returns a handle's value or raises its error. ``slots`` is
    how many tasks to keep in flight (None: as many as are ready; the engine queues them)."""
    name = ""
    slots: int | None = 1

    def submit(self, fn: Callable, args: tuple, resources: dict) -> Any:
        raise NotImplementedError

    def wait(self, handles: list) -> list:
        raise NotImplementedError

    def result(self, handle: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialBackend(Backend):
    """In the driver's process, one task at a time: the reference the others must match."""
    name = "serial"

    class Done:
        def __init__(self, value=None, error: Exception | None = None):
            self.value, self.error = value, error

    def submit(self, fn, args, resources):
        try:
            return self.Done(fn(*args))
        except Exception as err:  # noqa: BLE001  the task's outcome, raised by result()
            return self.Done(error=err)

    def wait(self, handles):
        return list(handles)

    def result(self, handle):
        if handle.error is not None:
            raise handle.error
        return handle.value


class ProcessesBackend(Backend):
    """``workers`` fresh interpreters (spawn: no forked torch thread pools), one torch thread each."""
    name = "processes"

    def __init__(self, workers: int | None = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.slots = workers or max(1, os.cpu_count() or 1)
        self.pool = ProcessPoolExecutor(max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, fn, args, resources):
        return self.pool.submit(fn, *args)

    def wait(self, handles):
        from concurrent.futures import FIRST_COMPLETED, wait

        return list(wait(handles, return_when=FIRST_COMPLETED)[0])

    def result(self, handle):
        return handle.result()

    def close(self):
        self.pool.shutdown(wait=True)


class RayBackend(Backend):
    """One Ray Core task per stage with the resources it declares; connects to ``address`` (or
    ``RAY_ADDRESS``) when given, else starts a local instance, unless Ray is already initialised."""
    name = "ray"
    slots = None

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise SweepError("the ray back-end needs Ray: install the extra, `pip install 'darla[ray]'` "
                             "(or use --backend processes)") from None
        self.ray = ray
        if not ray.is_initialized():
            kwargs = {"address": address} if address else ({"num_cpus": workers} if workers else {})
            ray.init(log_to_driver=False, **kwargs)
        self.gpus = ray.cluster_resources().get("GPU", 0) > 0
        self._remote = ray.remote(_execute)

    def submit(self, fn, args, resources):
        return self._remote.options(**resources).remote(*args)

    def wait(self, handles):
        done, _ = self.ray.wait(list(handles), num_returns=1)
        return done

    def result(self, handle):
        return self.ray.get(handle)


# name -> factory(workers, address)
BACKENDS: Registry[Callable[[int | None, str | None], Backend]] = Registry("sweep back-end", error=SweepError)
BACKENDS.add("serial", lambda workers, address: SerialBackend())
BACKENDS.add("processes", lambda workers, address: ProcessesBackend(workers))
BACKENDS.add("ray", lambda workers, address: RayBackend(address, workers))


def make_backend(name: str, workers: int | None = None, address: str | None = None) -> Backend:
    return BACKENDS.get(name)(workers, address)


def resources_for(task, config: RunConfig, gpus: bool) -> dict:
    """What a stage asks of a Ray cluster: a GPU for vision and for agents that read frames, when
    the cluster has GPUs and the config asks for a non-CPU device; otherwise one CPU."""
    import agents

    wants_gpu = False
    if task.kind == "vision":
        wants_gpu = config.vision.device != "cpu"
    elif task.kind == "agent":
        wants_gpu = agents.variant(task.variant).input.reads == "frames" and config.agent.device != "cpu"
    return {"num_cpus": 1, "num_gpus": 1 if gpus and wants_gpu else 0}


def _execute(point_dir: str, config_dict: dict, task_dict: dict) -> dict:
    """One stage task in a worker: one torch thread, its own bookkeeping, no bars (the driver has one)."""
    import torch

    from darla.pipeline import FILE_DIGESTS, Task, run_task

    torch.set_num_threads(1)
    lines: list[str] = []
    stages = Stages(point_dir, (), lines.append, FILE_DIGESTS)
    config = RunConfig.from_dict(config_dict).activate()
    begin = time.time()
    run_task(stages, config, Path(point_dir), Task(**task_dict), threads=1, progress=False)
    return {"lines": lines, "ran": stages.ran, "skipped": stages.skipped, "seconds": time.time() - begin}


# -- sharing stages across points -------------------------------------------------------------------
class _NeedsWork(Exception):
    def __init__(self, key: str, fingerprint: str):
        super().__init__(key)
        self.key, self.fingerprint = key, fingerprint


class _Probe(Stages):
    """A :class:`Stages` that never works: a stage finished here with the same fingerprint is
    kept, one finished in a donor point is linked in, anything else raises :class:`_NeedsWork`."""

    def __init__(self, run_dir: Path, donors: list[Path], file_digests):
        super().__init__(run_dir, (), lambda line: None, file_digests)
        self.donors = donors
        self.kept: list[str] = []
        self.shared: list[str] = []

    def run(self, key, settings, work, inputs=()):
        fp = self.fingerprint(settings, inputs)
        folder = self.folder(key)
        pending = folder.with_name(folder.name + PENDING)
        self._complete_swap(key, folder, pending)
        record = read_record(folder / MARKER)
        if record is not None and record["fingerprint"] == fp:
            self.kept.append(key)
            return folder
        for donor in self.donors:
            found = read_record(donor / key / MARKER)
            if found is not None and found["fingerprint"] == fp:
                target = pending if record is not None else folder
                if target.exists():  # an unfinished attempt: kept aside, as Stages does
                    self._move_aside(target)
                _link_tree(donor / key, target)
                self._complete_swap(key, folder, pending)
                self.shared.append(key)
                return folder
        raise _NeedsWork(key, fp)


def _link_tree(source: Path, target: Path) -> None:
    """A copy of a finished stage folder made of hard links (files are replaced, never written in
    place, so a link is as safe as a copy), through a temporary name so a kill leaves no half copy."""
    tmp = target.with_name(f".{target.name}.linking")
    if tmp.exists():
        shutil.rmtree(tmp)

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, tmp, copy_function=link)
    os.replace(tmp, target)


# -- running a sweep --------------------------------------------------------------------------------
@dataclass
class Outcome:
    sweep_dir: Path
    points: list[Point]
    ran: list[str] = dataclasses.field(default_factory=list)       # "point/stage" that ran in this invocation
    shared: list[str] = dataclasses.field(default_factory=list)    # linked in from another point
    kept: list[str] = dataclasses.field(default_factory=list)      # already finished in their point
    seconds: float = 0.0


def prepare(spec_source, sweep_dir: str | Path, backend: str = "processes") -> tuple[dict, list[Point]]:
    """The spec and its points, everything validated; refuses a directory holding another spec."""
    BACKENDS.check(backend)
    spec = load_spec(spec_source)
    points = expand(spec)
    recorded = read_spec(sweep_dir)
    if recorded is not None and recorded["spec"] != spec:
        diff = spec_difference(recorded["spec"], spec)
        raise SweepError(f"{sweep_dir} holds another sweep ({Path(sweep_dir) / SPEC_FILE}); its spec differs in "
                         f"{'; '.join(diff[:6])}{' ...' if len(diff) > 6 else ''}. Give another directory, or move "
                         "that one aside")
    return spec, points


def read_spec(sweep_dir: str | Path) -> dict | None:
    path = Path(sweep_dir) / SPEC_FILE
    return json.loads(path.read_text()) if path.exists() else None


def run(spec_source, sweep_dir: str | Path, backend: str = "processes", workers: int | None = None,
        address: str | None = None, log: Callable[[str], None] = print, progress: bool = True) -> Outcome:
    """Run (or resume) every point of a sweep; returns what ran, what was shared and what was kept."""
    sweep_dir = Path(sweep_dir)
    spec, points = prepare(spec_source, sweep_dir, backend)
    engine = make_backend(backend, workers, address)  # Ray missing: fails here, before any file is written
    sweep_dir.mkdir(parents=True, exist_ok=True)
    try:
        with locked(sweep_dir), contextlib.ExitStack() as stack:
            write_json_atomic(sweep_dir / SPEC_FILE, {"spec": spec, "points": [
                {"name": p.name, "values": p.values} for p in points]})
            for point in points:
                stack.enter_context(locked(_point_dir(sweep_dir, point)))
            return _drive(sweep_dir, points, engine, log, progress)
    finally:
        engine.close()


def _point_dir(sweep_dir: Path, point: Point) -> Path:
    folder = sweep_dir / POINTS / point.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _drive(sweep_dir: Path, points: list[Point], engine: Backend, log, progress: bool) -> Outcome:
    from tqdm.auto import tqdm

    from darla.pipeline import FILE_DIGESTS, Task, plan, write_report

    start = time.time()
    outcome = Outcome(sweep_dir, points)
    dirs = {p.name: sweep_dir / POINTS / p.name for p in points}
    graph: dict[tuple[str, str], tuple] = {}  # (point, key) -> (task, needs)
    for point in points:
        remove_temporaries(dirs[point.name])
        write_json_atomic(dirs[point.name] / "config.json", point.config.to_dict())
        graph[(point.name, "collect")] = (Task("collect", "collect"), ())
        for task in plan(point.config):
            graph[(point.name, task.key)] = (task, ("collect", *task.needs))
    by_name = {p.name: p for p in points}
    waiting = list(graph)
    done: set[tuple[str, str]] = set()
    running: dict[Any, tuple[str, str]] = {}
    claimed: dict[tuple[str, str], tuple[str, str]] = {}  # (stage key, fingerprint) -> node running it
    remaining = {p.name: sum(1 for node in graph if node[0] == p.name) for p in points}
    bar = tqdm(total=len(points), desc=f"sweep ({engine.name})", unit="point", disable=not progress)
    failure = None

    def finish(node):
        done.add(node)
        remaining[node[0]] -= 1
        if remaining[node[0]] == 0:
            point = by_name[node[0]]
            write_report(dirs[point.name], point.config, log=lambda line: None,
                         note=f"A point of sweep {sweep_dir.name}: {_describe(point.values)}.")
            bar.update()
            bar.set_postfix(ran=len(outcome.ran), shared=len(outcome.shared), kept=len(outcome.kept))

    while waiting or running:
        progressed = True
        while progressed and failure is None:
            progressed = False
            for node in list(waiting):
                task, needs = graph[node]
                if any((node[0], n) not in done for n in needs):
                    continue
                if engine.slots is not None and len(running) >= engine.slots:
                    break
                point = by_name[node[0]]
                probe = _Probe(dirs[point.name], [d for n, d in dirs.items() if n != point.name], FILE_DIGESTS)
                try:
                    _probe_task(probe, point.config, task)
                except _NeedsWork as need:
                    if (need.key, need.fingerprint) in claimed:
                        continue  # the same stage is running for another point: share it when it is done
                    waiting.remove(node)
                    claimed[(need.key, need.fingerprint)] = node
                    log(f"[start] {node[0]}/{task.key}")
                    handle = engine.submit(_execute, (str(dirs[point.name]), point.config.to_dict(),
                                                      dataclasses.asdict(task)),
                                           resources_for(task, point.config, getattr(engine, "gpus", False)))
                    running[handle] = node
                    progressed = True
                    continue
                waiting.remove(node)
                outcome.kept += [f"{node[0]}/{k}" for k in probe.kept]
                outcome.shared += [f"{node[0]}/{k}" for k in probe.shared]
                for key in probe.shared:
                    log(f"[shared] {node[0]}/{key}")
                finish(node)
                progressed = True
        if not running:
            if waiting and failure is None:  # cannot happen with a well-formed plan; never spin
                raise RuntimeError(f"sweep stuck with tasks waiting: {waiting[:3]}")
            break
        for handle in engine.wait(list(running)):
            node = running.pop(handle)
            claimed = {k: v for k, v in claimed.items() if v != node}
            try:
                result = engine.result(handle)
            except Exception as err:  # noqa: BLE001  re-raised once the running tasks are done
                failure = failure or err
                log(f"[failed] {node[0]}/{node[1]}: {err}")
                continue
            for line in result["lines"]:
                log(f"{line.split(' ', 1)[0]} {node[0]}/{line.split(' ', 1)[1]}" if " " in line else line)
            outcome.ran += [f"{node[0]}/{k}" for k in result["ran"]]
            outcome.kept += [f"{node[0]}/{k}" for k in result["skipped"]]
            finish(node)
    bar.close()
    if failure is not None:
        raise failure
    outcome.seconds = time.time() - start
    _write_summary(sweep_dir, outcome)
    log(f"sweep: {len(points)} points; {len(outcome.ran)} stages ran, {len(outcome.shared)} shared between "
        f"points, {len(outcome.kept)} kept from before, in {outcome.seconds:.0f} s")
    return outcome


def _probe_task(probe: _Probe, config: RunConfig, task) -> None:
    from darla.pipeline import run_task

    run_task(probe, config, probe.run_dir, task)


def _write_summary(sweep_dir: Path, outcome: Outcome) -> None:
    lines = [f"# Sweep {sweep_dir.name}", "", f"{len(outcome.points)} points; this invocation: "
             f"{len(outcome.ran)} stages ran, {len(outcome.shared)} were shared between points, "
             f"{len(outcome.kept)} were already finished; {outcome.seconds:.0f} s.", "",
             "| point | " + " | ".join(outcome.points[0].values) + " | report |",
             "|---|" + "---|" * (len(outcome.points[0].values) + 1)]
    for p in outcome.points:
        lines.append(f"| {p.name} | " + " | ".join(json.dumps(v) for v in p.values.values())
                     + f" | [report]({POINTS}/{p.name}/report.md) |")
    write_text_atomic(sweep_dir / "sweep.md", "\n".join(lines) + "\n")
