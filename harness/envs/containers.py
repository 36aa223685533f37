"""Containers as sessions: one idle container, ``docker exec`` per command.

Two shapes, both on :func:`start_container`:

- :func:`container_session`: a dedicated container for one ``with`` block (the pip-cache
  build, ``harness envs``, a cell retried alone). A step that times out ends it.
- :class:`SharedContainer`: one container per env, reused by the env's cells (``harness
  verify``). Each cell is a :class:`CellSession` in it: its own uid (never the image's
  user, never root), its own private directory (mode 0700, its HOME and TMPDIR, holding
  its venv), so no cell can write where another cell's pip or python reads. With a
  ``cells_dir`` the cells' directories are made in a host directory bind-mounted at
  :data:`CELLS` (one per container, mode 0711), so the harness fills a cell's venv from
  the host and hands it to the cell's uid (:meth:`CellSession.adopt`). A step that
  times out is killed alone: every process of the cell's uid (``kill(-1)`` as that uid,
  which also catches what left the step's process group), and the container goes on with
  the env's other cells. A cell's leftover processes are killed and its directory removed
  when it ends.

Every container runs :data:`REAPER` as pid 1: orphans of ``docker exec``'d commands are
re-parented to pid 1 inside the container, and a reused container must reap them (a
zombie holds a pid against the container's pid limit until then). It exits by itself after
``Limits.lifetime_s`` and the container has ``--rm``, so nothing outlives a killed harness
for long.

Cleanup. A container is named before it is created and labelled with this process's
:data:`RUN_ID` (and its pid, :data:`PID_LABEL`); it is removed (``docker rm -f``) when its
session ends, on Ctrl-C (:func:`remove_live_sessions`) and at interpreter exit. Ctrl-C
can land while ``docker run`` is still creating one: the daemon may then register the name
after a first ``rm`` found nothing, and the container stays ``Created`` forever (its
``--rm`` only acts once it ran). So a start that did not complete is removed again once
the ``docker run`` client has ended, and every container still carrying this run's label
is removed on Ctrl-C and at exit.

Limits (memory, pids) are the container's: with a shared container they are shared by the
cells running in it at once (verify scales them by that number, see harness.verify.share).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shlex
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from harness.envs.base import ExecResult, Limits, Mount
from harness.envs.daemon import LABEL, ensure_daemon, error_line
from harness.errors import InfraError, InputError

SESSION_LABEL = f"{LABEL}.session"
RUN_LABEL = f"{LABEL}.run"
PID_LABEL = f"{LABEL}.pid"  # the harness process that started it (which run is whose)
RUN_ID = uuid.uuid4().hex  # every container this process starts carries it (cleanup)
CELL_UID_BASE = 20000  # cell k of a shared container runs as uid:gid CELL_UID_BASE + k
SETTLE_S = 0.5  # after an interrupted `docker run`: how long the daemon may still create

# pid 1 of every container (Python 3.3+, stdlib): reap whatever is re-parented to it,
# exit on SIGTERM/SIGINT or after argv[1] seconds. Signals are blocked and waited for,
# so it sleeps in the kernel between children.
REAPER = """\
import os, signal, sys, time
end = time.monotonic() + float(sys.argv[1])
wanted = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    info = signal.sigtimedwait(wanted, min(left, 3600))
    if info is not None and info.si_signo != signal.SIGCHLD:
        break
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
"""

# Run as a cell's uid (`sh -c KILL_CELL sh DIR...`): SIGKILL every process of that uid in
# the container (Linux excludes the caller from kill(-1)), again until none is left (a
# fork racing the first kill goes too; killed processes count until pid 1 has reaped
# them), then remove the directories given. sh, not Python: cheap under qemu too.
KILL_CELL = (
    'i=0; while [ "$i" -lt 100 ] && kill -9 -1 2>/dev/null; do i=$((i+1)); sleep 0.02; done; '
    '[ "$#" -eq 0 ] || rm -rf "$@"'
)

CELLS = "/harness-cells"  # where a shared container sees its host cells directory

# a cell's first command, run as `sh -c MAKE_DIR DIR CWD ARGV...`: makes DIR (mode 0700),
# then runs ARGV in CWD
MAKE_DIR = 'mkdir -p -m 0700 "$0" && cd "$1" && shift && exec "$@"'

# the container's own counters: OOM kills (cgroup v2 memory.events, v1 memory.oom_control)
# and fork/clone calls refused at the pid limit (pids.events, v2 and v1)
COUNTER_FILES = (
    "/sys/fs/cgroup/memory.events",
    "/sys/fs/cgroup/memory/memory.oom_control",
    "/sys/fs/cgroup/pids.events",
    "/sys/fs/cgroup/pids/pids.events",
)

_live: set[str] = set()
_live_lock = threading.Lock()
_unsure = threading.Event()  # a `docker run` did not complete: sweep by label at exit


# ---------------------------------------------------------------- start and removal


def _remove_container(name: str) -> None:
    """`docker rm -f`, shielded from Ctrl-C and SIGTERM (SIG_IGN is inherited by the
    docker child)."""
    in_main = threading.current_thread() is threading.main_thread()
    shielded = (signal.SIGINT, signal.SIGTERM) if in_main else ()
    previous = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in shielded]
    try:
        proc.run(["docker", "rm", "-f", "-v", name], check=False, timeout=120, cleanup=True)
    except InfraError:
        pass
    finally:
        for sig, handler in previous:
            signal.signal(sig, handler)
        with _live_lock:
            _live.discard(name)


def labelled_containers() -> list[str]:
    """The ids of every container (any state) this process started and still exists."""
    try:
        done = proc.run(
            ["docker", "ps", "--all", "--quiet", "--filter", f"label={RUN_LABEL}={RUN_ID}"],
            check=False,
            timeout=60,
            cleanup=True,
        )
    except InfraError:
        return []
    return done.stdout.split() if done.returncode == 0 else []


def _sweep_label() -> None:
    """Remove every container with this run's label; once more after :data:`SETTLE_S`
    for a create the daemon was still finishing for a killed `docker run`."""
    for attempt in range(2):
        for cid in labelled_containers():
            _remove_container(cid)
        if attempt == 0:
            time.sleep(SETTLE_S)


def remove_live_sessions() -> None:
    """Remove every container this process has (Ctrl-C in verify): the live ones by name,
    then any left by an interrupted start, by this run's label."""
    _remove_known()
    _sweep_label()


@atexit.register
def _at_exit() -> None:
    _remove_known()
    if _unsure.is_set():
        _sweep_label()


def _remove_known() -> None:
    with _live_lock:
        names = list(_live)
    for name in names:
        _remove_container(name)


def _check_mounts(mounts: Sequence[Mount]) -> None:
    for mount in mounts:
        if not mount.target.startswith("/") or "," in mount.target or "," in str(mount.source):
            raise InputError(f"mount target must be an absolute path without commas: {mount}")
        if not mount.source.exists():
            raise InputError(f"mount source does not exist: {mount.source}")


def start_container(
    *,
    image: str,
    env_name: str,
    python: str,
    user: str,
    home: str,
    mounts: Sequence[Mount],
    limits: Limits,
    platform: str | None,
) -> str:
    """Start an idle container (pid 1: :data:`REAPER` run by ``python``); its name."""
    ensure_daemon()
    _check_mounts(mounts)
    name = f"wheel-harness-{env_name}-{uuid.uuid4().hex[:10]}"
    args: list[str] = [
        "docker", "run", "--detach", "--rm", "--name", name,
        "--label", f"{SESSION_LABEL}=1",
        "--label", f"{RUN_LABEL}={RUN_ID}",
        "--label", f"{PID_LABEL}={os.getpid()}",
        "--user", user,
        "--env", f"HOME={home}",
        # sealed like a host cell: pip reads no config file, Python no user site
        "--env", "PIP_CONFIG_FILE=/dev/null",
        "--env", "PYTHONNOUSERSITE=1",
        "--memory", limits.memory, "--memory-swap", limits.memory,
        "--pids-limit", str(limits.pids),
        "--security-opt", "no-new-privileges",
    ]  # fmt: skip
    if not home.startswith("/tmp/"):
        args += ["--workdir", home]  # docker would create a missing one owned by root
    if not limits.network:
        args += ["--network", "none"]
    if limits.cpus is not None:
        args += ["--cpus", str(limits.cpus)]
    if platform:
        args += ["--platform", platform]
    for mount in mounts:
        spec = f"type=bind,source={mount.source.resolve()},target={mount.target}"
        args += ["--mount", spec + (",readonly" if mount.read_only else "")]
    args += ["--entrypoint", python, image, "-c", REAPER, str(limits.lifetime_s)]
    with _live_lock:
        _live.add(name)
    started = False
    try:
        done = proc.run(args, check=False, timeout=300)
        if done.returncode != 0:
            raise InfraError(f"cannot start a container of {image}: {error_line(done)}")
        if home.startswith("/tmp/"):
            proc.run(["docker", "exec", name, "mkdir", "-p", home], check=True, timeout=60)
        started = True
        return name
    finally:
        if not started:
            # interrupted, killed or failed: the `docker run` client has ended, but the
            # daemon may still be creating the container; remove it now and once more
            _unsure.set()
            _remove_container(name)
            time.sleep(SETTLE_S)
            _remove_container(name)


def _exec_args(
    container: str,
    argv: Sequence[str],
    *,
    workdir: str,
    env: Mapping[str, str] | None,
    user: str | None = None,
) -> list[str]:
    args: list[str] = ["docker", "exec", "--workdir", workdir]
    if user is not None:
        args += ["--user", user]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    return [*args, container, *argv]


# ---------------------------------------------------------------- counters


@dataclass(frozen=True)
class Counters:
    """A container's cgroup event counters (0 where the kernel has none)."""

    oom_kills: int = 0
    pid_limit_hits: int = 0

    def since(self, before: Counters) -> str | None:
        """What happened between ``before`` and these counters, or None."""
        what = []
        if self.oom_kills > before.oom_kills:
            what.append(f"{self.oom_kills - before.oom_kills} OOM kill(s)")
        if self.pid_limit_hits > before.pid_limit_hits:
            what.append(
                f"{self.pid_limit_hits - before.pid_limit_hits} fork(s) refused at the pid limit"
            )
        return ", ".join(what) or None


def read_counters(container: str) -> Counters | None:
    """The container's counters (None: it could not be asked). ``head`` names each file it
    prints, so the "max" of pids.events is not confused with memory.events' own."""
    done = proc.run(
        ["docker", "exec", "--user", "0", container, "head", "-n", "50", *COUNTER_FILES],
        check=False,
        timeout=60,
    )
    if not done.stdout.strip():
        return None
    oom = pids = 0
    current = ""
    for line in done.stdout.splitlines():
        if line.startswith("==> ") and line.endswith(" <=="):
            current = line[4:-4]
            continue
        key, _, value = line.partition(" ")
        if not value.strip().isdigit():
            continue
        if key == "oom_kill" and "/memory" in current:
            oom = max(oom, int(value))
        elif key == "max" and current.endswith("pids.events"):
            pids = max(pids, int(value))
    return Counters(oom_kills=oom, pid_limit_hits=pids)


def _is_running(container: str) -> bool:
    state = proc.run(
        ["docker", "inspect", "--format", "{{.State.Running}}", container],
        check=False,
        timeout=60,
    )
    return state.stdout.strip() == "true"


# ---------------------------------------------------------------- dedicated sessions


class DockerSession:
    """A dedicated container (see the module docstring)."""

    def __init__(
        self, *, container: str, python: str, workdir: str, mounts: Sequence[Mount]
    ) -> None:
        self._container = container
        self._python = python
        self._workdir = workdir
        self._mounts = tuple(mounts)
        self._dead: str | None = None
        self._oom_seen = 0

    @property
    def container(self) -> str:
        return self._container

    @property
    def python(self) -> str:
        return self._python

    @property
    def workdir(self) -> str:
        return self._workdir

    @property
    def host_workdir(self) -> Path | None:
        """None: this session's directory exists in its container only."""
        return None

    def adopt(self) -> None:
        """Nothing to hand over (see :meth:`CellSession.adopt`)."""

    def path(self, mount: Mount) -> str:
        return mount.target

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        if self._dead is not None:
            raise InfraError(f"container {self._container} is gone: {self._dead}")
        args = _exec_args(self._container, argv, workdir=cwd or self._workdir, env=env)
        start = time.monotonic()
        done = proc.run(args, check=False, timeout=timeout)
        duration = time.monotonic() - start
        if done.timed_out:
            # `docker exec` has no kill: the process would go on inside the container.
            # End the whole session; the caller records a timed-out step.
            self._dead = f"killed after a {timeout}s timeout in {shlex.join(argv)[:80]}"
            _remove_container(self._container)
            return ExecResult(
                argv=tuple(argv),
                returncode=-9,
                stdout=done.stdout,
                stderr=done.stderr,
                duration_s=duration,
                timed_out=True,
            )
        oom = False
        if done.returncode in (137, -9):
            # SIGKILL: the OOM killer if the cgroup's oom_kill counter moved (docker's
            # State.OOMKilled only covers the container's init, not an exec'd process).
            counters = read_counters(self._container) or Counters()
            oom = counters.oom_kills > self._oom_seen
            self._oom_seen = counters.oom_kills
            if not _is_running(self._container):
                self._dead = "the container stopped (out of memory?)" if oom else "stopped"
        elif done.returncode in (125, 126) and "No such container" in done.stderr:
            self._dead = "removed from outside"
            raise InfraError(f"container {self._container} is gone: {done.stderr.strip()}")
        return ExecResult(
            argv=tuple(argv),
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            duration_s=duration,
            oom=oom,
        )


@contextmanager
def container_session(
    *,
    image: str,
    env_name: str,
    python: str,
    user: str,
    home: str,
    mounts: Sequence[Mount],
    limits: Limits,
    platform: str | None,
) -> Iterator[DockerSession]:
    """One dedicated idle container for the ``with`` block; always removed afterwards."""
    name = start_container(
        image=image, env_name=env_name, python=python, user=user, home=home,
        mounts=mounts, limits=limits, platform=platform,
    )  # fmt: skip
    try:
        yield DockerSession(container=name, python=python, workdir=home, mounts=mounts)
    finally:
        _remove_container(name)


# ---------------------------------------------------------------- shared containers


class SharedContainer:
    """One env's container, shared by its cells; see the module docstring."""

    def __init__(
        self,
        *,
        container: str,
        python: str,
        mounts: Sequence[Mount],
        limits: Limits,
        cells_dir: Path | None = None,
    ) -> None:
        self._container = container
        self._python = python
        self._mounts = tuple(mounts)
        self._limits = limits
        self._cells_dir = cells_dir
        self._lock = threading.Lock()
        self._next_cell = 0
        self._counters = Counters()
        self._dead: str | None = None

    @classmethod
    def start(
        cls,
        *,
        image: str,
        env_name: str,
        python: str,
        user: str,
        home: str,
        mounts: Sequence[Mount],
        limits: Limits,
        platform: str | None,
        cells_dir: Path | None = None,
    ) -> SharedContainer:
        """``cells_dir``: a host directory (mode 0711) mounted read-write at
        :data:`CELLS`; each cell's directory is then made there, so the harness can fill
        it from the host (the venv and the install, harness/verify/hostinstall.py)."""
        every = list(mounts)
        if cells_dir is not None:
            every.append(Mount(source=cells_dir, target=CELLS, read_only=False))
        name = start_container(
            image=image, env_name=env_name, python=python, user=user, home=home,
            mounts=every, limits=limits, platform=platform,
        )  # fmt: skip
        return cls(container=name, python=python, mounts=mounts, limits=limits, cells_dir=cells_dir)

    @property
    def cells_dir(self) -> Path | None:
        """The host directory the cells' directories are made in (None: in the container)."""
        return self._cells_dir

    @property
    def container(self) -> str:
        return self._container

    @property
    def python(self) -> str:
        return self._python

    @property
    def mounts(self) -> tuple[Mount, ...]:
        return self._mounts

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def dead(self) -> str | None:
        """Why the container is gone (None while it runs)."""
        return self._dead

    def mark_dead(self, why: str) -> None:
        with self._lock:
            if self._dead is None:
                self._dead = why

    def counters(self, *, refresh: bool) -> Counters | None:
        """The last counters read, or read them now (``refresh``); None: they could not
        be read although the container runs (no pid left to run the reader: at its pid
        limit, most likely)."""
        if refresh and self._dead is None:
            fresh = read_counters(self._container)
            if fresh is None:
                if not _is_running(self._container):
                    self.mark_dead("the container stopped")
                else:
                    return None
            else:
                with self._lock:
                    self._counters = fresh
        with self._lock:
            return self._counters

    def new_cell(self) -> CellSession:
        """A new cell in this container: its own uid and private directory.
        Its owner calls :meth:`CellSession.close` when the cell ends, unless the whole
        container is removed right after."""
        with self._lock:
            self._next_cell += 1
            uid = CELL_UID_BASE + self._next_cell
        if self._dead is not None:
            raise InfraError(f"container {self._container} is gone: {self._dead}")
        return CellSession(self, uid)

    def close(self) -> None:
        """Remove the container (its cells are over)."""
        self.mark_dead("removed: its cells are over")
        _remove_container(self._container)


class CellSession:
    """One cell in a :class:`SharedContainer` (a Session)."""

    def __init__(self, host: SharedContainer, uid: int) -> None:
        self._host = host
        self._uid = uid
        name = f"harness-cell-{uid}-{secrets.token_hex(6)}"
        self._workdir = f"/tmp/{name}" if host.cells_dir is None else f"{CELLS}/{name}"
        self._host_workdir = None if host.cells_dir is None else host.cells_dir / name
        self._adopted = False
        self._dead: str | None = None
        self._created = False
        self._start = host.counters(refresh=False) or Counters()

    @property
    def container(self) -> str:
        return self._host.container

    @property
    def uid(self) -> int:
        return self._uid

    @property
    def python(self) -> str:
        return self._host.python

    @property
    def workdir(self) -> str:
        """The cell's private directory (mode 0700, its HOME and TMPDIR), created by its
        first command."""
        return self._workdir

    def path(self, mount: Mount) -> str:
        return mount.target

    @property
    def host_workdir(self) -> Path | None:
        """The cell's directory as this machine sees it (a bind mount), or None."""
        return self._host_workdir

    def adopt(self) -> None:
        """The cell's directory (made now if missing), filled from the host, becomes the
        cell's own: its uid, mode 0700 (a root harness chowns it here; else root in the
        container does). Done by the cell's first command at the latest."""
        path = self._host_workdir
        if path is None:
            return
        path.mkdir(mode=0o700, exist_ok=True)
        self._adopted = True
        if os.geteuid() == 0:
            for base, dirs, files in os.walk(path):
                for entry in (*dirs, *files):
                    os.chown(os.path.join(base, entry), self._uid, self._uid, follow_symlinks=False)
            os.chown(path, self._uid, self._uid)
            path.chmod(0o700)
            return
        done = proc.run(
            [
                "docker", "exec", "--user", "0", self._host.container,
                "sh", "-c", 'chown -R -h "$1:$1" "$2" && chmod 0700 "$2"', "sh",
                str(self._uid), self._workdir,
            ],
            check=False,
            timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise InfraError(f"cannot hand {self._workdir} to cell {self._uid}: {error_line(done)}")

    def _docker_exec(
        self, argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None, cwd: str
    ) -> proc.Completed:
        base = {"HOME": self._workdir, "TMPDIR": self._workdir, "USER": f"cell{self._uid}"}
        args = _exec_args(
            self._host.container,
            argv,
            workdir=cwd,
            env={**base, "LOGNAME": base["USER"], **(env or {})},
            user=f"{self._uid}:{self._uid}",
        )
        return proc.run(args, check=False, timeout=timeout)

    def _gone_check(self, done: proc.Completed) -> None:
        """InfraError if docker says the container is gone (and it is: the words alone
        could be a command's own output)."""
        said = "No such container" in done.stderr or "is not running" in done.stderr
        if done.returncode == 0 or not said or _is_running(self._host.container):
            return
        self._host.mark_dead("stopped or removed from outside")
        raise InfraError(f"container {self._host.container} is gone: {error_line(done)}")

    def kill(self) -> None:
        """SIGKILL every process of this cell (its uid), nothing else in the container."""
        self._run_kill([])

    def _run_kill(self, paths: list[str]) -> None:
        if self._host.dead is not None:
            return
        with contextlib.suppress(InfraError):  # Ctrl-C: the container goes as a whole
            self._docker_exec(
                ["/bin/sh", "-c", KILL_CELL, "sh", *paths], timeout=120, env=None, cwd="/"
            )

    def close(self) -> None:
        """Kill the cell's leftover processes and remove its directory."""
        self._dead = self._dead or "the cell is over"
        self._run_kill([self._workdir])

    def incident(self) -> str | None:
        """What the container went through since this cell started that can fail any
        cell in it (an OOM kill, a fork refused at the pid limit, the container gone), or
        None: read from the container's counters now."""
        if self._host.dead is not None:
            return f"the container is gone ({self._host.dead})"
        now = self._host.counters(refresh=True)
        if self._host.dead is not None:
            return f"the container is gone ({self._host.dead})"
        if now is None:
            return "the container could not start a process to read its counters (pid limit?)"
        return now.since(self._start)

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        if self._dead is not None:
            raise InfraError(f"cell {self._uid} in {self._host.container} is over: {self._dead}")
        if self._host.dead is not None:
            raise InfraError(f"container {self._host.container} is gone: {self._host.dead}")
        before = self._host.counters(refresh=False) or Counters()
        command, where = list(argv), cwd or self._workdir
        if not self._adopted and self._host_workdir is not None:
            self.adopt()  # its directory is made on the host: the cell's uid cannot there
        if not self._created:
            # the first command creates the cell's directory: no docker exec of its own
            command = ["/bin/sh", "-c", MAKE_DIR, self._workdir, where, *argv]
            where = "/"
        start = time.monotonic()
        done = self._docker_exec(command, timeout=timeout, env=env, cwd=where)
        duration = time.monotonic() - start
        self._created = True
        if done.timed_out:
            # `docker exec` has no kill: end this cell's processes (its uid) and no others;
            # the cell runs nothing more, the container goes on with the env's other cells
            self._dead = f"killed after a {timeout}s timeout in {shlex.join(argv)[:80]}"
            self.kill()
            return ExecResult(
                argv=tuple(argv),
                returncode=-9,
                stdout=done.stdout,
                stderr=done.stderr,
                duration_s=duration,
                timed_out=True,
            )
        oom = False
        if done.returncode in (137, -9):
            # SIGKILL: the OOM killer if the container's oom_kill counter moved while this
            # command ran (it may have picked this cell's process or a neighbour's)
            after = self._host.counters(refresh=True)
            oom = after is not None and after.oom_kills > before.oom_kills
            if self._host.dead is not None:
                self._dead = f"the container is gone ({self._host.dead})"
        else:
            self._gone_check(done)
        return ExecResult(
            argv=tuple(argv),
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            duration_s=duration,
            oom=oom,
        )
