"""REPORT_DIR/promote-journal.json: what went where, rewritten atomically after each step.

The destination is the authority on what it holds (every run asks it first); the journal is
the record: one entry per (target, file) with its last state, one per index page written,
and one line per promotion run. A rerun after an interruption reads it to say what it is
resuming, and adds to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.errors import InputError, UsageError
from harness.redact import scrub

JOURNAL_FILENAME = "promote-journal.json"
LOCK_FILENAME = ".promote.lock"
SCHEMA = "harness-promote-journal/1"


class FileState(StrEnum):
    UPLOADING = "uploading"  # sent, no answer yet (an interruption leaves this)
    UPLOADED = "uploaded"  # this harness uploaded it and the destination confirmed
    PRESENT = "present"  # the destination already had it, same sha256: not sent again
    FAILED = "failed"  # the last attempt failed; see error


class RunOutcome(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    REFUSED = "refused"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    target: str
    filename: str
    sha256: str
    state: FileState
    location: str
    at: str
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "filename": self.filename,
            "sha256": self.sha256,
            "state": str(self.state),
            "location": self.location,
            "at": self.at,
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class IndexEntry:
    target: str
    key: str
    sha256: str
    at: str

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "key": self.key, "sha256": self.sha256, "at": self.at}


@dataclass(frozen=True, kw_only=True)
class RunEntry:
    started: str
    finished: str | None
    outcome: RunOutcome
    report_sha256: str
    targets: tuple[str, ...]
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished": self.finished,
            "outcome": str(self.outcome),
            "report_sha256": self.report_sha256,
            "targets": list(self.targets),
            "error": self.error,
        }


class Journal:
    """Mutable on purpose (it is a log); every change is written to disk at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[tuple[str, str], FileEntry] = {}
        self.indexes: dict[tuple[str, str], IndexEntry] = {}
        self.runs: list[RunEntry] = []

    @classmethod
    def load(cls, report_dir: Path) -> Journal:
        journal = cls(report_dir / JOURNAL_FILENAME)
        try:
            raw = journal.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return journal
        except OSError as exc:
            raise InputError(f"{journal.path}: cannot read: {exc.strerror or exc}") from None
        try:
            _parse(journal, json.loads(raw))
        except RecursionError:
            raise InputError(
                f"{journal.path}: nested too deeply to be a promotion journal; "
                "move it away to start a new one"
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{journal.path}: not a valid promotion journal ({exc}); "
                "move it away to start a new one"
            ) from None
        return journal

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "files": [e.to_json() for e in self.files.values()],
            "indexes": [e.to_json() for e in self.indexes.values()],
            "runs": [r.to_json() for r in self.runs],
        }

    def save(self) -> None:
        """Atomic: a temporary file in the same directory, fsync, os.replace."""
        data = json.dumps(scrub(self.to_json()), indent=1, sort_keys=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".promote-journal.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def file(self, target: str, filename: str) -> FileEntry | None:
        return self.files.get((target, filename))

    def record_file(self, entry: FileEntry) -> None:
        self.files[(entry.target, entry.filename)] = entry
        self.save()

    def record_index(self, entry: IndexEntry) -> None:
        self.indexes[(entry.target, entry.key)] = entry
        self.save()

    def start_run(self, *, report_sha256: str, targets: tuple[str, ...]) -> None:
        self.runs.append(
            RunEntry(
                started=now(),
                finished=None,
                outcome=RunOutcome.RUNNING,
                report_sha256=report_sha256,
                targets=targets,
            )
        )
        self.save()

    def finish_run(self, outcome: RunOutcome, error: str | None = None) -> None:
        if self.runs:
            self.runs[-1] = replace(self.runs[-1], finished=now(), outcome=outcome, error=error)
            self.save()


def _parse(journal: Journal, doc: Any) -> None:
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    for f in doc["files"]:
        e = FileEntry(
            target=str(f["target"]),
            filename=str(f["filename"]),
            sha256=str(f["sha256"]),
            state=FileState(f["state"]),
            location=str(f["location"]),
            at=str(f["at"]),
            attempts=int(f["attempts"]),
            error=None if f.get("error") is None else str(f["error"]),
        )
        journal.files[(e.target, e.filename)] = e
    for i in doc["indexes"]:
        ie = IndexEntry(
            target=str(i["target"]), key=str(i["key"]), sha256=str(i["sha256"]),
            at=str(i["at"]),
        )  # fmt: skip
        journal.indexes[(ie.target, ie.key)] = ie
    for r in doc["runs"]:
        journal.runs.append(
            RunEntry(
                started=str(r["started"]),
                finished=None if r.get("finished") is None else str(r["finished"]),
                outcome=RunOutcome(r["outcome"]),
                report_sha256=str(r["report_sha256"]),
                targets=tuple(str(t) for t in r["targets"]),
                error=None if r.get("error") is None else str(r["error"]),
            )
        )


@contextlib.contextmanager
def locked(report_dir: Path) -> Iterator[None]:
    """One promotion per report dir at a time (two would race on the journal)."""
    lock_path = report_dir / LOCK_FILENAME
    try:
        fh = lock_path.open("a")
    except OSError as exc:
        raise UsageError(f"{report_dir}: cannot write here: {exc.strerror or exc}") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{report_dir}: another harness promote is running on this report"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
