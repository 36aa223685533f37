"""Read each file to promote exactly once, into a private copy: what is hashed is what is sent.

The gate hashes a file and the upload reads it later; a file replaced in between would go
out under the verified hash (time-of-check/time-of-use). ``Snapshot.take`` opens the file
once (without following it into a FIFO or a device: regular files only, opened without
blocking), copies it into a private directory (mode 0700) while hashing, and every later
step (re-inspection, PyPI's rules, twine, boto3) reads only that copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

MAX_FILE_BYTES = 16 * 1024**3  # far beyond any index's limit; a bound for /dev/zero-likes
_CHUNK = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Taken:
    copy: Path | None  # None when hashed without a private directory
    sha256: str
    size: int


class NotTaken(Exception):
    """The file cannot be taken (not a regular file, unreadable, too large): the reason."""


def open_regular(path: Path) -> int:
    """An open descriptor of ``path`` if it is a regular file (never blocks on a FIFO)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise NotTaken(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if regular:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    if not regular:
        os.close(fd)
        raise NotTaken(f"{path}: not a regular file")
    return fd


def _copy_hashing(fd: int, dest: int | None, path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    while chunk := os.read(fd, _CHUNK):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise NotTaken(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        h.update(chunk)
        if dest is not None:
            view = memoryview(chunk)
            while view:
                view = view[os.write(dest, view) :]
    return h.hexdigest(), size


def hash_regular(path: Path) -> tuple[str, int]:
    """sha256 and size of a regular file, read once, bounded; NotTaken otherwise."""
    fd = open_regular(path)
    try:
        return _copy_hashing(fd, None, path)
    except OSError as exc:
        raise NotTaken(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


class Snapshot:
    """A private directory of copies; removed on exit."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="harness-promote-"))  # mode 0700
        self._n = 0

    def take(self, path: Path) -> Taken:
        fd = open_regular(path)
        self._n += 1
        sub = self.dir / str(self._n)  # keeps the file name (twine uploads by name)
        sub.mkdir(mode=0o700)
        copy = sub / path.name
        try:
            out = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
            try:
                digest, size = _copy_hashing(fd, out, path)
            finally:
                os.close(out)
        except OSError as exc:
            raise NotTaken(f"{path}: cannot copy: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
        return Taken(copy=copy, sha256=digest, size=size)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
