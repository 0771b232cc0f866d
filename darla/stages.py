"""Fingerprinted, atomic stages of a run directory: re-running skips what is finished.

Each stage owns a folder ``RUN/<key>/`` and a fingerprint: a hash of its settings and of the
digests of the stages it reads. A finished stage leaves ``stage.json`` (fingerprint, settings,
timing, digest). Running it again:

- same fingerprint and finished → skipped;
- same fingerprint, unfinished (the process was killed) → run again in the same folder, so
  trainings that checkpoint (stage 1) resume where they stopped;
- another fingerprint (the config changed) → the old folder is moved aside to ``<key>.old-N``,
  never deleted, and the stage runs afresh;
- ``force`` (key prefixes, e.g. ``vision`` or ``agent/darla``) → moved aside and run afresh.

A stage's digest changes whenever it really ran again, so stages that read it re-run too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

MARKER, STARTED = "stage.json", ".started.json"


def fingerprint(settings: Any) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


class Stages:
    """Runs stages inside ``run_dir``; ``log`` receives one line per decision."""

    def __init__(self, run_dir: str | os.PathLike, force: Iterable[str] = (), log: Callable[[str], None] = print):
        self.run_dir = Path(run_dir)
        self.force = tuple(force)
        self.log = log
        self.ran: list[str] = []
        self.skipped: list[str] = []

    def folder(self, key: str) -> Path:
        return self.run_dir / key

    def digest(self, key: str) -> str:
        """The digest of a finished stage, for the fingerprints of stages that read it."""
        marker = self.folder(key) / MARKER
        if not marker.exists():
            raise RuntimeError(f"stage {key!r} has not finished")
        return json.loads(marker.read_text())["digest"]

    def run(self, key: str, settings: dict, work: Callable[[Path], Any], inputs: Iterable[str] = ()) -> Path:
        """Run ``work(folder)`` unless an identical finished run exists; returns the folder."""
        inputs = sorted(inputs)
        settings_fp = fingerprint({"settings": settings, "inputs": {k: self.digest(k) for k in inputs}})
        folder = self.folder(key)
        marker, started = folder / MARKER, folder / STARTED
        forced = any(key == f or key.startswith(f.rstrip("/") + "/") for f in self.force)
        if marker.exists() and not forced:
            if json.loads(marker.read_text())["fingerprint"] == settings_fp:
                self.log(f"[skip] {key} (finished, same settings)")
                self.skipped.append(key)
                return folder
        if folder.exists():
            previous = json.loads(started.read_text())["fingerprint"] if started.exists() else None
            if forced or marker.exists() or previous != settings_fp:
                aside = self._move_aside(folder)
                why = "forced" if forced else "settings changed"
                self.log(f"[redo] {key} ({why}; previous results kept in {aside.name})")
            else:
                self.log(f"[resume] {key} (interrupted run with the same settings)")
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(started, {"fingerprint": settings_fp})
        self.log(f"[run] {key}")
        begin = time.time()
        work(folder)
        write_json_atomic(marker, {"fingerprint": settings_fp, "settings": settings, "inputs": inputs,
                                   "seconds": round(time.time() - begin, 2), "finished": time.time(),
                                   "digest": uuid.uuid4().hex[:16]})
        self.ran.append(key)
        return folder

    def _move_aside(self, folder: Path) -> Path:
        n = 1
        while (aside := folder.with_name(f"{folder.name}.old-{n}")).exists():
            n += 1
        shutil.move(str(folder), aside)
        return aside
