"""Runs cells in parallel as they are submitted (each env's as soon as it is ready), with
progress; each env's cells share one container (harness.verify.share). Ctrl-C cancels
pending cells and removes live containers at once; an error that ends the run early
cancels pending cells and removes this run's containers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING

from harness import config as config_mod
from harness import console, proc
from harness.envs import Limits
from harness.report.model import Run, RunStatus
from harness.verify.cell import Task, prestart_mounts, run_one
from harness.verify.share import EnvContainers

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

ICONS = {
    RunStatus.PASSED: "passed",
    RunStatus.FAILED: "FAILED",
    RunStatus.ERROR: "ERROR",
    RunStatus.SKIPPED: "skipped",
}


class CellPool:
    """``with CellPool(cfg, log) as pool: pool.submit(tasks); ...; runs = pool.results()``."""

    def __init__(
        self, cfg: config_mod.Config, log: Callable[[str], None], limits: Limits | None = None
    ) -> None:
        self._cfg = cfg
        self._log = log
        self._jobs = max(1, cfg.jobs)
        self._lock = threading.Lock()
        self._futures: list[tuple[Task, Future[Run]]] = []
        self._done = 0
        self._containers = EnvContainers(self._jobs, limits)
        self._pool = ThreadPoolExecutor(max_workers=self._jobs, thread_name_prefix="harness-run")
        self._progress: Progress | None = None
        self._bar: TaskID | None = None
        if console.interactive():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console.err(),
                transient=False,
            )

    def __enter__(self) -> CellPool:
        if self._progress is not None:
            self._progress.start()
            self._bar = self._progress.add_task("verifying", total=0)
        return self

    def submit(self, tasks: Sequence[Task]) -> None:
        """Start ``tasks`` (the cells of one env) as workers free up."""
        if not tasks:
            return
        by_env: dict[str, list[Task]] = {}
        for t in tasks:
            by_env.setdefault(t.env.spec.name, []).append(t)
        for group in by_env.values():
            self._containers.expect(group[0].env, len(group))
        for group in by_env.values():
            first = group[0]
            self._containers.prestart(
                first.env, functools.partial(prestart_mounts, first, self._cfg)
            )
        new: list[Future[Run]] = []
        with self._lock:
            for t in tasks:
                fut = self._pool.submit(run_one, t, self._cfg, self._containers)
                self._futures.append((t, fut))
                new.append(fut)
            total = len(self._futures)
            if self._progress is not None and self._bar is not None:
                self._progress.update(self._bar, total=total)
        names = ", ".join(by_env)
        self._log(
            f"running {len(tasks)} cell(s) of {names} ({total} so far, {self._jobs} at a time)"
        )
        for fut in new:
            fut.add_done_callback(self._report)

    def _report(self, fut: Future[Run]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        run = fut.result()
        with self._lock:
            self._done += 1
            line = (
                f"[{self._done}/{len(self._futures)}] {run.env:<10} {run.wheel_filename}: "
                f"{ICONS[run.status]} ({run.duration_s:.1f}s)"
                + (f" - {run.reason}" if run.reason else "")
            )
            if self._progress is not None and self._bar is not None:
                self._progress.console.print(console.sanitize(line), markup=False, highlight=False)
                self._progress.advance(self._bar)
            else:
                self._log(line)

    def results(self) -> list[Run]:
        """Wait for every submitted cell; the runs in submission order."""
        with self._lock:
            futures = list(self._futures)
        return [fut.result() for _, fut in futures]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._pool.shutdown(wait=True)
            elif issubclass(exc_type, KeyboardInterrupt):
                # Ctrl-C or SIGTERM (harness.__main__.Terminated): run nothing more, and
                # remove the live containers now so the cells in flight end at once
                # instead of after their step's timeout
                self._pool.shutdown(wait=False, cancel_futures=True)
                proc.kill_all()  # host-mode commands (their own process groups) too
                from harness.envs import containers

                containers.remove_live_sessions()
            else:
                # an error ends the run: no more cells; this run's containers go below
                # (cells in flight then end at their next command)
                self._pool.shutdown(wait=False, cancel_futures=True)
        finally:
            self._containers.close_all()
            if self._progress is not None:
                self._progress.stop()
