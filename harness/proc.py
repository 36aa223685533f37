"""The one way the harness runs a subprocess.

Bounded whatever the command prints: each stream keeps its first and last
``CAPTURE_BYTES`` bytes (the middle is replaced by a marker saying how much was dropped),
read in chunks so one 70 MiB line costs no more than many short ones. The timeout always
holds: the command runs in its own process group, which is killed as a whole when the
time is up, and ``kill_all`` (called on Ctrl-C) ends every command still running at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.errors import InfraError

CAPTURE_BYTES = 4 * 1024 * 1024  # per stream: this much of the head and of the tail
_CHUNK = 64 * 1024
_REAP_S = 5.0  # after a kill: how long to wait for the pipes to close

_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by kill_all: no new command starts after Ctrl-C


@dataclass(frozen=True, kw_only=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


class _Capture:
    """Head and tail of one stream, bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.limit
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        parts = [bytes(self.head)]
        if self.dropped:
            parts.append(f"\n[... {self.dropped} bytes of output omitted ...]\n".encode())
        parts.append(bytes(self.tail))
        return b"".join(parts).decode("utf-8", errors="replace").replace("\r\n", "\n")


def _drain(stream: IO[bytes], capture: _Capture) -> None:
    with contextlib.suppress(OSError, ValueError):
        while chunk := stream.read1(_CHUNK) if hasattr(stream, "read1") else stream.read(_CHUNK):
            capture.add(chunk)


def _feed(stream: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):
        stream.write(data)
    with contextlib.suppress(OSError, ValueError):
        stream.close()


def _kill_group(p: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        if os.name == "posix":
            os.killpg(p.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows runners
            p.kill()


def _join(threads: Sequence[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))


def kill_all(*, stop: bool = True) -> None:
    """Kill every command still running (with its children): Ctrl-C ends at once. With
    ``stop``, no command starts afterwards (a cell between two steps does not go on)."""
    with _LIVE_LOCK:
        if stop:
            _STOPPING.set()
        live = list(_LIVE)
    for p in live:
        _kill_group(p)


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input_text: str | None = None,
    capture_bytes: int = CAPTURE_BYTES,
    cleanup: bool = False,
) -> Completed:
    """Run ``argv``; capture text output (bounded). ``check`` raises InfraError with the tail.
    ``cleanup``: a command that undoes work (``docker rm``) still runs after ``kill_all``."""
    args = tuple(str(a) for a in argv)
    if _STOPPING.is_set() and not cleanup:
        raise InfraError(f"{args[0]}: not started, the harness is stopping (interrupted)")
    try:
        p = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=os.name == "posix",
        )
    except FileNotFoundError as exc:
        raise InfraError(f"{args[0]}: command not found") from exc
    except OSError as exc:
        raise InfraError(f"{args[0]}: cannot run: {exc.strerror or exc}") from exc
    with _LIVE_LOCK:
        _LIVE.add(p)
        if _STOPPING.is_set() and not cleanup:
            _kill_group(p)
    out, err = _Capture(capture_bytes), _Capture(capture_bytes)
    assert p.stdout is not None
    assert p.stderr is not None
    threads = [
        threading.Thread(target=_drain, args=(p.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(p.stderr, err), daemon=True),
    ]
    if input_text is not None:
        assert p.stdin is not None
        threads.append(
            threading.Thread(target=_feed, args=(p.stdin, input_text.encode()), daemon=True)
        )
    for t in threads:
        t.start()
    timed_out = False
    try:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(p)
            p.wait()
        except BaseException:  # Ctrl-C while waiting: the command must not outlive us
            _kill_group(p)
            raise
        _join(threads[:2], _REAP_S)
        if any(t.is_alive() for t in threads[:2]):
            # a background child still holds the pipe open: it goes with the group
            _kill_group(p)
            _join(threads[:2], _REAP_S)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(p)
        for stream in (p.stdout, p.stderr, p.stdin):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
    if timed_out:
        if check:
            raise InfraError(f"{args[0]}: timed out after {timeout}s")
        return Completed(
            argv=args, returncode=-1, stdout=out.text(), stderr=err.text(), timed_out=True
        )
    done = Completed(argv=args, returncode=p.returncode, stdout=out.text(), stderr=err.text())
    if check and p.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        raise InfraError(f"{' '.join(args[:3])} failed (exit {p.returncode}): {tail[0][:500]}")
    return done
