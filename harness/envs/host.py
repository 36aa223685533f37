"""Host environments: an interpreter on this machine, used through fresh venvs.

The embedded default (no docker needed) and the way macOS and Windows runners verify
their own wheels. A session is a scratch directory, and every ``exec`` in it is sealed
as far as the host allows without root:

- environment: an allow-list (:data:`PASS_VARS`: PATH, locale, TERM, and the Windows
  system variables), HOME/USERPROFILE/TMPDIR pointing into the cell's own scratch
  directory, ``PIP_CONFIG_FILE`` = os.devnull (pip then reads no config file at all:
  global, site or user) and ``PYTHONNOUSERSITE=1``. No PIP_* variable, no secret
  (TWINE_PASSWORD, AWS_*, tokens), no PYTHONPATH/VIRTUAL_ENV reaches a cell.
- Linux, where unprivileged user namespaces work (probed once with ``unshare``): no
  network (a new network namespace: only a loopback that is down), a PID namespace whose
  end kills every process the step started (a timeout kills the whole tree, not just
  the child), and rlimits through ``prlimit`` (data segment = ``Limits.memory``, process
  count = ``Limits.pids``, no core files).
- macOS and Windows: the environment and config sealing only; no network cut and no
  memory/process limits (see README, "Host mode").
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness import proc
from harness.envs.base import (
    EnvKind,
    EnvSpec,
    ExecResult,
    Limits,
    Mount,
    Probe,
    ProgressLog,
    check_python,
)
from harness.envs.daemon import PROBE_SOURCE
from harness.envs.paths import cache_dir
from harness.errors import InfraError

# The only variables of this process a host cell sees (upper-cased names; Windows' are
# case-insensitive). Everything else, PIP_*, PYTHON*, tokens and keys included, is dropped.
PASS_VARS = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "LC_MESSAGES",
        "TZ",
        "TERM",
        # Windows: Python and the C runtime misbehave without these
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "WINDIR",
        "COMSPEC",
        "PATHEXT",
        "NUMBER_OF_PROCESSORS",
        "PROCESSOR_ARCHITECTURE",
        "OS",
    }
)


def sealed_environ(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a host cell's commands: allow-listed variables, a private
    HOME and temp directory under ``home``, and no pip configuration."""
    env = {k: v for k, v in os.environ.items() if k.upper() in PASS_VARS}
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        PIP_CONFIG_FILE=os.devnull,  # pip loads no config file at all (global, site, user)
        PYTHONNOUSERSITE="1",
    )
    if os.name == "nt":
        env.update(
            USERPROFILE=str(home),
            APPDATA=str(home / "AppData" / "Roaming"),
            LOCALAPPDATA=str(home / "AppData" / "Local"),
            TEMP=str(tmp),
            TMP=str(tmp),
        )
    env.update(extra or {})
    return env


def _bytes(size: str) -> int:
    """docker-style sizes: "2g", "512m", "1024k", "4096"."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = size.strip().lower().removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


@functools.cache
def _unshare_prefix() -> tuple[str, ...]:
    """The `unshare` argv that gives a step its own user, network and PID namespaces here,
    or () when the kernel or the tool does not allow it (tried once per process)."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return ()
    common = ("--net", "--pid", "--fork", "--kill-child", "--mount-proc")
    for mapping in ("--map-current-user", "--map-root-user"):
        argv = ("unshare", "--user", mapping, *common)
        try:
            done = proc.run([*argv, "true"], check=False, timeout=30)
        except InfraError:
            return ()
        if done.returncode == 0:
            return argv
    return ()


@functools.cache
def _has_prlimit() -> bool:
    return sys.platform.startswith("linux") and shutil.which("prlimit") is not None


def confinement(limits: Limits) -> tuple[str, ...]:
    """The argv prefix that seals one host step on this machine (() where nothing can)."""
    prefix: list[str] = []
    unshare = _unshare_prefix()
    if unshare:
        prefix += [a for a in unshare if limits.network is False or a != "--net"]
    if _has_prlimit():
        prefix += [
            "prlimit",
            f"--data={_bytes(limits.memory)}",
            f"--nproc={limits.pids}",
            "--core=0",
            "--",
        ]
    return tuple(prefix)


def sealing(limits: Limits) -> tuple[str, ...]:
    """What a host session seals on this machine, in words (for logs and the README)."""
    what = ["environment allow-list", "no pip config", "no user site", "private HOME/TMPDIR"]
    if _unshare_prefix():
        if not limits.network:
            what.append("no network")
        what.append("PID namespace (a timeout kills the whole tree)")
    if _has_prlimit():
        what.append(f"rlimits: data {limits.memory}, {limits.pids} processes, no core files")
    return tuple(what)


class HostSession:
    def __init__(self, *, python: str, workdir: Path, limits: Limits) -> None:
        self._python = python
        self._workdir = workdir
        self._home = workdir / "home"
        self._home.mkdir(exist_ok=True)
        self._prefix = confinement(limits)

    @property
    def python(self) -> str:
        return self._python

    @property
    def workdir(self) -> str:
        return str(self._workdir)

    @property
    def host_workdir(self) -> Path:
        """The session's directory: on this machine already."""
        return self._workdir

    def adopt(self) -> None:
        """Nothing to hand over: the harness and the cell are the same user here."""

    def path(self, mount: Mount) -> str:
        return str(mount.source.resolve())

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        start = time.monotonic()
        done = proc.run(
            [*self._prefix, *argv],
            cwd=Path(cwd) if cwd else self._workdir,
            env=sealed_environ(self._home, env),
            timeout=timeout,
            check=False,
        )
        return ExecResult(
            argv=tuple(argv),
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            duration_s=time.monotonic() - start,
            timed_out=done.timed_out,
        )


class HostEnvironment:
    def __init__(self, spec: EnvSpec) -> None:
        if spec.kind is not EnvKind.HOST:
            raise ValueError("HostEnvironment needs kind host")
        self._spec = spec
        self._probe: Probe | None = None

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    @property
    def image(self) -> str | None:
        return None

    @property
    def interpreter(self) -> str | None:
        """The interpreter's path, or None if it is not on this machine."""
        wanted = self._spec.interpreter
        if wanted is None and self._spec.python:
            wanted = f"python{self._spec.python}"
            if sys.version_info[:2] == tuple(int(x) for x in self._spec.python.split(".")):
                return sys.executable
        if wanted is None:
            return sys.executable
        found = shutil.which(wanted)
        return found if found else None

    def _require_interpreter(self) -> str:
        found = self.interpreter
        if found is None:
            what = self._spec.interpreter or f"python{self._spec.python}"
            raise InfraError(f"env {self._spec.name}: interpreter {what} not found on this machine")
        return found

    def is_ready(self) -> bool:
        return self.interpreter is not None

    def prepare(self, *, log: ProgressLog | None = None) -> bool:
        self._require_interpreter()
        return False

    def probe(self) -> Probe:
        if self._probe is None:
            self._probe = self._run_probe(self._require_interpreter())
            check_python(self._spec, self._probe)
        return self._probe

    def _run_probe(self, python: str) -> Probe:
        """Probe a fresh venv of the interpreter: that is what a run uses (its pip, from
        ensurepip, may rank tags differently from a newer pip installed in the base).
        Cached by the interpreter's path, size and mtime."""
        real = Path(python).resolve()
        st = real.stat()
        key = hashlib.sha256(f"{real}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()
        cache = cache_dir() / "probes" / f"host-{key[:24]}.json"
        if cache.is_file():
            try:
                cached = Probe.from_json(json.loads(cache.read_text("utf-8")))
            except ValueError:
                pass
            else:
                # the cache is shared by every venv of that interpreter: the executable is
                # the caller's, not the one of whoever probed first
                return dataclasses.replace(cached, executable=python)
        source = PROBE_SOURCE.read_text("utf-8")
        with tempfile.TemporaryDirectory(prefix="wheel-harness-probe-") as tmp:
            env = sealed_environ(Path(tmp) / "home")
            venv_dir = str(Path(tmp) / "venv")
            proc.run([python, "-m", "venv", venv_dir], env=env, timeout=300)
            bindir = "Scripts" if os.name == "nt" else "bin"
            venv_python = str(Path(venv_dir) / bindir / "python")
            done = proc.run([venv_python, "-c", source], env=env, timeout=120)
        try:
            probe = Probe.from_json(json.loads(done.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError) as exc:
            raise InfraError(f"probe of {python} printed no usable JSON: {exc}") from exc
        probe = dataclasses.replace(probe, executable=python)  # the base, not the venv
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp_file.write_text(json.dumps(probe.to_json()), "utf-8")
        tmp_file.replace(cache)
        return probe

    def shared(
        self, mounts: Sequence[Mount] = (), *, limits: Limits, cells_dir: Path | None = None
    ) -> None:
        """Nothing to share: a host session is a scratch directory, cheap per cell."""

    @contextmanager
    def session(
        self, mounts: Sequence[Mount] = (), *, limits: Limits | None = None
    ) -> Iterator[HostSession]:
        python = self._require_interpreter()
        workdir = Path(tempfile.mkdtemp(prefix=f"wheel-harness-{self._spec.name}-"))
        try:
            yield HostSession(python=python, workdir=workdir, limits=limits or Limits())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
