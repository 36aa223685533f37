"""The env containers of one verify run: one container per env, shared by its cells.

A container start (and its removal) costs about a second natively and more under load;
an env with several cells (several distributions, or ``harness sweep`` over releases)
paid it per cell. Now the env's first cell starts the container, every cell of the env
runs in it as its own :class:`~harness.envs.CellSession` (own uid, own private directory
and venv), and the env's last cell removes it (in the background). The cells'
directories are in a host directory made per container and bind-mounted into it, so the
venv and the install are done from the host (harness.verify.hostinstall).

Limits are per container: memory and pids are the per-cell defaults (``Limits()``) times
the number of the env's cells that can run in it at once (``min(jobs, cells)``), so each
cell has the budget it had alone unless a neighbour takes more than its share.

A neighbour that breaks the container must not fail a cell silently: a cell that did not
pass, when the container recorded an OOM kill or a fork refused at its pid limit (or died)
while the cell ran, is run once more alone, in a dedicated container (harness.verify.cell
records the first attempt as its step "shared container"). A cell whose own step timed
out is not retried: the timeout killed that cell's processes only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.envs import CellSession, Environment, Limits, Mount, SharedSession
from harness.errors import HarnessError

_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def scale_memory(memory: str, factor: int) -> str:
    """``"2g"`` x 3 -> ``"6g"`` (docker's --memory syntax: a number and b/k/m/g)."""
    text = memory.strip().lower()
    unit = text[-1] if text[-1:] in _UNITS else "b"
    number = text[:-1] if text[-1:] in _UNITS else text
    return f"{int(float(number) * factor)}{unit}"


def shared_limits(base: Limits, cells_at_once: int) -> Limits:
    n = max(1, cells_at_once)
    return Limits(
        memory=scale_memory(base.memory, n),
        pids=base.pids * n,
        cpus=base.cpus,
        network=base.network,
        lifetime_s=base.lifetime_s,
    )


@dataclass(frozen=True, kw_only=True)
class Leased:
    """A cell's place in its env's container."""

    session: CellSession
    container: SharedSession
    started_s: float | None  # this cell started the container: how long it took
    cells: int  # cells of the env sharing the container
    prestarted: bool = False  # started before the cell (started_s: how long that took)


@dataclass(kw_only=True)
class _Entry:
    env: Environment
    cells: int = 0  # expected, in all
    remaining: int = 0  # not finished yet
    shareable: bool = True
    container: SharedSession | None = None
    error: HarnessError | None = None
    prestarted_s: float | None = None  # a prestart's duration, not yet reported by a cell
    lock: threading.Lock = field(default_factory=threading.Lock)


class EnvContainers:
    """The shared containers of one run (thread-safe)."""

    def __init__(self, jobs: int, base: Limits | None = None) -> None:
        self._jobs = max(1, jobs)
        self._base = base or Limits()
        self._entries: dict[str, _Entry] = {}
        self._cleanups: list[threading.Thread] = []
        self._cells_dirs: list[Path] = []  # host directories of the containers' cells
        self._lock = threading.Lock()

    @property
    def base(self) -> Limits:
        """The limits of one cell (a cell retried alone gets exactly these)."""
        return self._base

    def expect(self, env: Environment, cells: int) -> None:
        """``cells`` more cells of ``env`` will run (call before submitting them)."""
        with self._lock:
            entry = self._entries.setdefault(env.spec.name, _Entry(env=env))
        with entry.lock:
            entry.cells += cells
            entry.remaining += cells

    def _container(
        self, entry: _Entry, mounts: Sequence[Mount], *, prestart: bool = False
    ) -> tuple[SharedSession | None, float | None]:
        """The env's live container (started now if needed) and the start's duration;
        (None, None): this cell runs alone (nothing to share, or other mounts)."""
        with entry.lock:
            if entry.error is not None:
                raise entry.error
            current = entry.container
            if current is not None and current.dead is None:
                return (current, None) if current.mounts == tuple(mounts) else (None, None)
            if current is not None:
                current.close()  # dead: remove what is left of it, start another
                entry.container = None
            if not entry.shareable:
                return None, None
            limits = shared_limits(self._base, min(self._jobs, entry.cells))
            t0 = time.perf_counter()
            cells_dir = Path(tempfile.mkdtemp(prefix=f"wheel-harness-cells-{entry.env.spec.name}-"))
            cells_dir.chmod(0o711)  # each cell's directory in it is its uid's, mode 0700
            with self._lock:
                self._cells_dirs.append(cells_dir)
            try:
                started = entry.env.shared(mounts, limits=limits, cells_dir=cells_dir)
            except HarnessError as exc:
                entry.error = exc
                raise
            if started is None:
                entry.shareable = False
                return None, None
            entry.container = started
            if prestart:  # reported by the first cell that leases it
                entry.prestarted_s = time.perf_counter() - t0
                return started, None
            return started, time.perf_counter() - t0

    def prestart(self, env: Environment, mounts: Callable[[], Sequence[Mount] | None]) -> None:
        """Start ``env``'s container now, in the background, with the mounts ``mounts()``
        names (None: do not), so the env's first cell finds it running: its start
        overlaps the cells running meanwhile instead of delaying this one. A cell whose
        mounts differ runs alone, as ever; a failed start is the cells' error."""
        with self._lock:
            entry = self._entries.get(env.spec.name)
        if entry is None:
            return

        def start() -> None:
            with entry.lock:
                if entry.remaining <= 0 or entry.container is not None or entry.error:
                    return
            try:
                wanted = mounts()
                if wanted is not None:
                    self._container(entry, wanted, prestart=True)
            except HarnessError:
                return  # recorded in entry.error: the env's cells report it
            except Exception:  # noqa: BLE001 - a hostile wheel's metadata, say: the cell
                return  # starts its container itself and reports what is wrong

        thread = threading.Thread(target=start, name="harness-prestart", daemon=True)
        thread.start()
        with self._lock:
            self._cleanups.append(thread)

    def _finish(self, entry: _Entry, session: CellSession | None = None) -> bool:
        """One cell of ``entry`` is over; True if it was the last (then the container is
        removed, off the cell's critical path: its worker starts the next cell meanwhile;
        :meth:`close_all` waits for the removal)."""
        with entry.lock:
            entry.remaining -= 1
            if entry.remaining > 0:
                return False
            container, entry.container = entry.container, None
        if container is not None:

            def remove() -> None:
                if session is not None and os.geteuid() != 0:
                    # its directory is on this machine, owned by the cell's uid: only the
                    # container (or root here) can remove it
                    session.close()
                container.close()

            removal = threading.Thread(target=remove, name="harness-container-removal")
            removal.start()
            with self._lock:
                self._cleanups.append(removal)
        return True

    @contextmanager
    def cell(self, env: Environment, mounts: Sequence[Mount]) -> Iterator[Leased | None]:
        """A cell of ``env`` in the env's container (None: run it alone). Counts the cell
        as finished on exit, whatever happened."""
        with self._lock:
            entry = self._entries.get(env.spec.name)
        if entry is None:
            yield None
            return
        session: CellSession | None = None
        try:
            container, started_s = self._container(entry, mounts)
            if container is None:
                yield None
                return
            prestarted = False
            if started_s is None:
                with entry.lock:  # the first cell reports the prestart
                    started_s, entry.prestarted_s = entry.prestarted_s, None
                prestarted = started_s is not None
            session = container.new_cell()
            yield Leased(
                session=session,
                container=container,
                started_s=started_s,
                cells=entry.cells,
                prestarted=prestarted,
            )
        finally:
            last = self._finish(entry, session)
            if session is not None and not last:
                # its leftover processes and directory go, off the cell's critical path:
                # its worker starts the next cell meanwhile (the last cell's go with the
                # container)
                cleanup = threading.Thread(target=session.close, name="harness-cell-cleanup")
                cleanup.start()
                with self._lock:
                    self._cleanups.append(cleanup)

    def close_all(self) -> None:
        """Wait for the cells' cleanups; remove every container still up (cells cancelled
        by Ctrl-C or an error)."""
        with self._lock:
            entries = list(self._entries.values())
            cleanups, self._cleanups = self._cleanups, []
        for cleanup in cleanups:
            cleanup.join()
        for entry in entries:
            with entry.lock:
                container, entry.container = entry.container, None
            if container is not None:
                container.close()
        with self._lock:
            dirs, self._cells_dirs = self._cells_dirs, []
        for path in dirs:  # what the containers' removal left (files of the cells' uids)
            shutil.rmtree(path, ignore_errors=True)
