"""Runs cells in parallel with progress; Ctrl-C cancels pending cells and removes live
containers at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from harness import config as config_mod
from harness import console, proc
from harness.report.model import Run, RunStatus
from harness.verify.cell import Task, run_one


def execute(tasks: Sequence[Task], cfg: config_mod.Config, log: Callable[[str], None]) -> list[Run]:
    if not tasks:
        return []
    jobs = max(1, min(cfg.jobs, len(tasks)))
    results: list[Run] = []
    lock = threading.Lock()
    icons = {
        RunStatus.PASSED: "passed",
        RunStatus.FAILED: "FAILED",
        RunStatus.ERROR: "ERROR",
        RunStatus.SKIPPED: "skipped",
    }
    progress = None
    task_id = None
    if console.interactive():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console.err(),
            transient=False,
        )
        progress.start()
        task_id = progress.add_task("verifying", total=len(tasks))
    log(f"running {len(tasks)} env x wheel cell(s), {jobs} at a time")
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="harness-run")
    try:
        futures = {pool.submit(run_one, t, cfg): t for t in tasks}
        try:
            for fut in as_completed(futures):
                run = fut.result()
                with lock:
                    results.append(run)
                    line = (
                        f"[{len(results)}/{len(tasks)}] {run.env:<10} {run.wheel_filename}: "
                        f"{icons[run.status]} ({run.duration_s:.1f}s)"
                        + (f" - {run.reason}" if run.reason else "")
                    )
                    if progress is not None and task_id is not None:
                        progress.console.print(
                            console.sanitize(line), markup=False, highlight=False
                        )
                        progress.advance(task_id)
                    else:
                        log(line)
        except KeyboardInterrupt:
            # Ctrl-C: run nothing more, and remove the live containers now so the cells
            # in flight end at once instead of after their step's timeout.
            pool.shutdown(wait=False, cancel_futures=True)
            proc.kill_all()  # host-mode commands (their own process groups) end now too
            from harness.envs import daemon

            daemon.remove_live_sessions()
            raise
        pool.shutdown(wait=True)
    finally:
        if progress is not None:
            progress.stop()
    order = {(t.env.spec.name, t.wheel.name): i for i, t in enumerate(tasks)}
    return sorted(results, key=lambda r: order.get((r.env, r.wheel_filename), 0))
