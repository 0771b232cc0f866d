"""Fingerprinted, atomic stages of a run directory: re-running skips what is finished.

Each stage owns a folder ``RUN/<key>/`` and a fingerprint: a hash of its settings and of the
digests of the stages it reads. A finished stage leaves ``stage.json`` (fingerprint, settings,
timing, digest). Running it again:

- same fingerprint and finished → skipped;
- same fingerprint, unfinished (the process was killed) → run again in the same folder, so
  trainings that checkpoint (stage 1) resume where they stopped;
- another fingerprint (the config changed), or ``force`` (key prefixes, e.g. ``vision`` or
  ``agent/darla``) → the stage runs afresh in ``<key>.pending``; only once that has finished is
  the old folder moved aside to ``<key>.old-N`` (never deleted) and the new one renamed into
  place, so a failed or killed run never displaces a finished stage.

A stage's digest changes whenever it really ran again, so stages that read it re-run too. It
also follows the content digests of the files the stage wrote (``file_digests``: a dataset, a
checkpoint), recorded in ``stage.json`` as ``artifacts``: a file replaced afterwards (another
dataset as ``collect/source.h5``) changes the digest, so the stages that read it run again on it.
Records written before artifacts were recorded keep their digest as it was, so a finished run
directory from an earlier version is reused, not redone.
:func:`locked` holds a run directory's lock (``filelock``): one writer at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from artifacts import differing, write_json_atomic

MARKER, STARTED, PENDING = "stage.json", ".started.json", ".pending"
LOCK = ".darla.lock"


class RunLockedError(PermissionError):
    """Another process holds the run directory's lock."""


@contextlib.contextmanager
def locked(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``run_dir``'s lock for the block: a second writer fails at once, naming the lock file
    and its holder. The OS releases the lock when its process dies, so a killed run leaves none."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    path, holder = run_dir / LOCK, run_dir / f"{LOCK}.holder.json"
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            who = json.loads(holder.read_text())
            who = f" (held by pid {who['pid']} on {who['host']} since {time.ctime(who['since'])})"
        except (OSError, ValueError, KeyError, TypeError):
            who = ""
        raise RunLockedError(f"{run_dir} is in use by another darla process: its lock {path} is held{who}; "
                             "wait for that run to finish or stop it, then run again") from None
    try:
        write_json_atomic(holder, {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        yield run_dir
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def read_record(path: Path) -> dict | None:
    """A stage record (JSON), or None when absent; a damaged one fails naming the file."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path} is not a readable stage record ({type(err).__name__}); move its folder "
                         f"{Path(path).parent} aside (or delete it) and run again to redo that stage") from None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        raise ValueError(f"{path} is not a stage record written by darla (no fingerprint); move its folder "
                         f"{Path(path).parent} aside (or delete it) and run again to redo that stage")
    return data


def fingerprint(settings: Any) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Stages:
    """Runs stages inside ``run_dir``; ``log`` receives one line per decision."""

    def __init__(self, run_dir: str | os.PathLike, force: Iterable[str] = (), log: Callable[[str], None] = print,
                 file_digests: Mapping[str, Callable[[Path], str | None]] = {}):
        """``file_digests`` maps a file name a stage may write to the function reading its recorded
        content digest (cheaply: its header)."""
        self.run_dir = Path(run_dir)
        self.force = tuple(force)
        self.log = log
        self.file_digests = dict(file_digests)
        self.ran: list[str] = []
        self.skipped: list[str] = []
        self._changed: set[str] = set()

    def folder(self, key: str) -> Path:
        return self.run_dir / key

    def digest(self, key: str) -> str:
        """The digest of a finished stage, for the fingerprints of stages that read it."""
        record = read_record(self.folder(key) / MARKER)
        if record is None:
            raise RuntimeError(f"stage {key!r} has not finished")
        recorded = record.get("artifacts")
        if not isinstance(recorded, dict):  # written before artifacts were recorded
            return record["digest"]
        current = self.artifacts(self.folder(key))
        if current == recorded:
            return record["digest"]
        if key not in self._changed:
            self._changed.add(key)
            self.log(f"[changed] {key}: {', '.join(differing(recorded, current))} is not what this stage wrote; "
                     "the stages that read it run again")
        return fingerprint({"digest": record["digest"], "artifacts": current})

    def artifacts(self, folder: Path) -> dict[str, str | None]:
        """The recorded content digest of each file of ``file_digests`` in ``folder``."""
        found = {}
        for name, read in self.file_digests.items():
            if (folder / name).exists():
                try:
                    found[name] = read(folder / name)
                except Exception as err:  # unreadable: differs from any digest; its reader names the damage
                    found[name] = f"unreadable ({type(err).__name__})"
        return found

    def fingerprint(self, settings: dict, inputs: Iterable[str]) -> str:
        """What decides whether a finished stage matches: its settings and the digests of its inputs
        (a sweep compares it across run directories to share a stage between points)."""
        return fingerprint({"settings": settings, "inputs": {k: self.digest(k) for k in sorted(inputs)}})

    def run(self, key: str, settings: dict, work: Callable[[Path], Any], inputs: Iterable[str] = ()) -> Path:
        """Run ``work(folder)`` unless an identical finished run exists; returns the stage's folder."""
        inputs = sorted(inputs)
        settings_fp = self.fingerprint(settings, inputs)
        folder = self.folder(key)
        pending = folder.with_name(folder.name + PENDING)
        self._complete_swap(key, folder, pending)
        forced = any(key == f or key.startswith(f.rstrip("/") + "/") for f in self.force)
        finished = read_record(folder / MARKER)
        if finished is not None and not forced and finished["fingerprint"] == settings_fp:
            self.log(f"[skip] {key} (finished, same settings)")
            self.skipped.append(key)
            return folder
        # never work inside a finished stage's folder: it stays in place until its successor finishes
        work_dir = pending if finished is not None else folder
        if work_dir.exists():
            try:
                previous = (read_record(work_dir / STARTED) or {}).get("fingerprint")
            except ValueError:
                previous = None
            if forced or previous != settings_fp:
                aside = self._move_aside(work_dir)
                why = "forced" if forced else "settings changed"
                self.log(f"[redo] {key} ({why}; unfinished earlier work kept in {aside.name})")
            else:
                self.log(f"[resume] {key} (interrupted run with the same settings)")
        work_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(work_dir / STARTED, {"fingerprint": settings_fp})
        self.log(f"[run] {key}")
        begin = time.time()
        work(work_dir)
        write_json_atomic(work_dir / MARKER, {"fingerprint": settings_fp, "settings": settings, "inputs": inputs,
                                              "seconds": round(time.time() - begin, 2), "finished": time.time(),
                                              "digest": uuid.uuid4().hex[:16],
                                              "artifacts": self.artifacts(work_dir)})
        self._complete_swap(key, folder, pending)
        self.ran.append(key)
        return folder

    def _complete_swap(self, key: str, folder: Path, pending: Path) -> None:
        """A finished ``<key>.pending`` replaces ``<key>`` (moved aside); also completes a swap that a
        kill cut short."""
        if not (pending / MARKER).exists():
            return
        if folder.exists():
            aside = self._move_aside(folder)
            self.log(f"[replace] {key} (previous results kept in {aside.name})")
        os.replace(pending, folder)

    def _move_aside(self, folder: Path) -> Path:
        n = 1
        while (aside := folder.with_name(f"{folder.name}.old-{n}")).exists():
            n += 1
        shutil.move(str(folder), aside)
        return aside
