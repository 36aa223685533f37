"""What the engine needs from a destination (a PyPI-compatible index or an S3 mirror)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from harness.promote.targets import Target


@dataclass(frozen=True, kw_only=True)
class Item:
    """One gate-passed file on its way out."""

    filename: str
    path: Path
    sha256: str
    size: int
    project: str  # PEP 503 normalized
    requires_python: str | None


class Remote(StrEnum):
    ABSENT = "absent"
    SAME = "same"  # same name, same sha256: skip
    DIFFERENT = "different"  # same name, other content: an error, never overwritten


@dataclass(frozen=True, kw_only=True)
class Presence:
    remote: Remote
    location: str  # URL or s3:// of the file on the destination
    detail: str = ""  # for DIFFERENT: what the destination has


class TransientError(Exception):
    """A failure worth retrying after asking the destination again (5xx, dropped link)."""


class Destination(Protocol):
    target: Target

    def check(self, item: Item, *, fresh: bool = False) -> Presence: ...

    def refusals(self, item: Item, presence: Presence) -> list[str]:
        """Why this destination will refuse ``item``, known before anything is sent
        (beyond a name taken by other content, which the engine refuses everywhere)."""
        ...

    def put(self, item: Item) -> str:
        """Upload; return the file's location. Raises TransientError or a HarnessError."""
        ...

    def finish(self, items: Sequence[Item]) -> list[tuple[str, str]]:
        """After every file is there: publish (S3 index pages). Returns (key, sha256)."""
        ...

    def close(self) -> None: ...


def hash_stream(stream: BinaryIO, algorithm: str, limit: int) -> str | None:
    """Hash at most ``limit`` bytes; None if there was more (not the file we think)."""
    h = hashlib.new(algorithm)
    total = 0
    while chunk := stream.read(1024 * 1024):
        total += len(chunk)
        if total > limit:
            return None
        h.update(chunk)
    return h.hexdigest()


def hash_file(path: Path, algorithm: str) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()
