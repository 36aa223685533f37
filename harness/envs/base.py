"""The values and the protocol every kind of environment shares.

``harness verify`` (and ``coverage``, ``envs``) use environments only through
:class:`Environment` and :class:`Session`, so docker and host kinds look the same to them::

    env = harness.envs.environment(spec)
    env.prepare()                      # build/pull if missing (idempotent, cached)
    probe = env.probe()                # python, libc, arch, pip's tags (cached)
    with env.session([Mount(source=wheelhouse, target="/wheelhouse")]) as s:
        r = s.exec([s.python, "-m", "venv", f"{s.workdir}/venv"], timeout=120)
        r = s.exec([f"{s.workdir}/venv/bin/pip", "install", "--no-index",
                    "--find-links", s.path(wheelhouse_mount), "yappi"], timeout=300)
        if r.timed_out or r.oom or r.returncode: ...

A docker session is one idle container (no network, non-root user, memory/pid limits)
that every ``exec`` runs in; it is removed when the ``with`` block exits, also on
Ctrl-C or an exception. A host session is a scratch directory on this machine.

``env.shared(mounts, limits=...)`` (docker kinds; None for host) starts one container that
many cells use, each through its own :class:`CellSession` (own uid, own directory, a
timeout kills that cell's processes only); see harness/envs/containers.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from harness.errors import InputError


class EnvKind(StrEnum):
    DOCKER_RECIPE = "docker-recipe"  # an image built here from containers/<recipe>
    DOCKER_IMAGE = "docker-image"  # an image pulled from a registry
    HOST = "host"  # a venv of an interpreter on this machine


@dataclass(frozen=True, kw_only=True)
class EnvSpec:
    """One environment, as a matrix declares it (validated by harness.matrix)."""

    name: str
    kind: EnvKind
    python: str | None = None  # expected "X.Y"; checked against the probe when given
    recipe: str | None = None  # DOCKER_RECIPE: directory name under containers/
    image: str | None = None  # DOCKER_IMAGE: registry reference
    interpreter: str | None = None  # command inside the env (docker) / path here (host)
    platform: str | None = None  # DOCKER_IMAGE: docker --platform, e.g. linux/arm64
    cpu: str | None = None  # docker kinds: a CPU model the smoke steps run under (cpumodel.py)
    description: str = ""
    source: Path | None = None  # the matrix file that declared it


@dataclass(frozen=True, kw_only=True)
class Probe:
    """What an environment's own Python says about itself (probed once, then cached)."""

    python_version: str  # "3.11.2"
    implementation: str  # "cpython"
    executable: str  # the interpreter inside the env
    libc: str  # "glibc", "musl" or "" (macOS, Windows)
    libc_version: str  # "2.36", "1.2.5" or ""
    machine: str  # platform.machine(): x86_64, aarch64, i686, ...
    pip_version: str
    tags: tuple[str, ...]  # pip's supported tags, most preferred first

    @property
    def python_short(self) -> str:
        return ".".join(self.python_version.split(".")[:2])

    @property
    def platform(self) -> str:
        """A short human/JSON label: ``linux-x86_64-glibc2.36``, ``linux-aarch64-musl1.2``."""
        libc = f"-{self.libc}{self.libc_version}" if self.libc else ""
        return f"{self.os}-{self.machine}{libc}"

    @property
    def os(self) -> str:
        first = self.tags[0] if self.tags else ""
        plat = first.rsplit("-", 1)[-1]
        if plat.startswith(("manylinux", "musllinux", "linux")):
            return "linux"
        if plat.startswith("macosx"):
            return "macos"
        if plat.startswith("win"):
            return "windows"
        return plat.split("_", 1)[0] or "unknown"

    def to_json(self) -> dict[str, object]:
        return {
            "python_version": self.python_version,
            "implementation": self.implementation,
            "executable": self.executable,
            "libc": self.libc,
            "libc_version": self.libc_version,
            "machine": self.machine,
            "pip_version": self.pip_version,
            "tags": list(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Probe:
        tags = data.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("probe: 'tags' must be a list of strings")

        def text(key: str) -> str:
            value = data.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"probe: {key!r} must be a string")  # noqa: TRY004
            return value

        return cls(
            python_version=text("python_version"),
            implementation=text("implementation"),
            executable=text("executable"),
            libc=text("libc"),
            libc_version=text("libc_version"),
            machine=text("machine"),
            pip_version=text("pip_version"),
            tags=tuple(tags),
        )


@dataclass(frozen=True, kw_only=True)
class Mount:
    """A host directory made visible in a session (read-only unless said otherwise).

    Docker sessions run as uid 1000: the directory must be readable by it (mode 0755,
    files 0644), and writable too for ``read_only=False``."""

    source: Path
    target: str  # absolute POSIX path inside a container; ignored by host sessions
    read_only: bool = True


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits of a session. Docker sessions honour all of them; host sessions on
    Linux honour ``network``, ``memory`` (as the data-segment rlimit) and ``pids`` where the
    kernel lets an unprivileged user (see harness.envs.host), elsewhere none."""

    memory: str = "2g"  # docker --memory
    pids: int = 1024  # docker --pids-limit
    cpus: float | None = None  # docker --cpus
    network: bool = False  # False: --network none
    lifetime_s: int = 6 * 3600  # an idle container exits by itself after this long


@dataclass(frozen=True, kw_only=True)
class ExecResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False  # killed after ``timeout``; a docker session is then ended
    oom: bool = False  # the kernel's OOM killer hit the session during this exec

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.oom


class Session(Protocol):
    """A live environment: run commands in it until the context manager exits."""

    @property
    def python(self) -> str:
        """The environment's interpreter, as a command valid inside it."""
        ...

    @property
    def workdir(self) -> str:
        """A writable scratch directory inside the env, owned by the (non-root) user."""
        ...

    def path(self, mount: Mount) -> str:
        """Where ``mount`` is seen from inside the environment."""
        ...

    @property
    def host_workdir(self) -> Path | None:
        """``workdir`` as this machine sees it (a host session's own directory, a shared
        container's bind-mounted cell directory), or None: inside the env only."""
        ...

    def adopt(self) -> None:
        """After the harness wrote into ``host_workdir``: make it the session user's own."""
        ...

    def exec(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        """Run ``argv`` in the env as its non-root user; never raises for a failing command.

        ``env`` is added to the environment's own variables. Raises InfraError only when
        the environment itself is gone (container removed, docker daemon died).
        """
        ...


class CellSession(Session, Protocol):
    """One cell in a shared container (see :class:`SharedSession`)."""

    def incident(self) -> str | None:
        """What the shared container went through since this cell started that can fail
        any cell in it (an OOM kill, a fork refused at the pid limit, the container gone),
        or None."""
        ...

    def close(self) -> None:
        """End the cell: kill its leftover processes, remove its directory."""
        ...


class SharedSession(Protocol):
    """One container shared by many cells of an env."""

    @property
    def dead(self) -> str | None:
        """Why the container is gone, or None while it runs."""
        ...

    @property
    def mounts(self) -> tuple[Mount, ...]: ...

    @property
    def limits(self) -> Limits: ...

    def new_cell(self) -> CellSession:
        """A new cell in the container (InfraError if the container is gone)."""
        ...

    def close(self) -> None:
        """Remove the container."""
        ...


class Environment(Protocol):
    @property
    def spec(self) -> EnvSpec: ...

    @property
    def image(self) -> str | None:
        """The image reference (docker kinds) or None (host)."""
        ...

    def is_ready(self) -> bool:
        """Built / pulled / interpreter present: ``session`` would work without ``prepare``."""
        ...

    def prepare(self, *, log: ProgressLog | None = None) -> bool:
        """Build or pull what is missing; return True if work was done. InfraError on failure."""
        ...

    def probe(self) -> Probe:
        """The env's Python, libc, arch and pip's tags; cached with the image. Needs ready."""
        ...

    def session(
        self, mounts: Sequence[Mount] = (), *, limits: Limits | None = None
    ) -> AbstractContextManager[Session]: ...

    def shared(
        self, mounts: Sequence[Mount] = (), *, limits: Limits, cells_dir: Path | None = None
    ) -> SharedSession | None:
        """Start one container for many cells (None: this kind has nothing to share, each
        cell uses :meth:`session`). ``cells_dir``: a host directory the cells' directories
        are made in (bind-mounted; see :attr:`Session.host_workdir`)."""
        ...


class ProgressLog(Protocol):
    def __call__(self, message: str) -> None: ...


@dataclass(frozen=True, kw_only=True)
class EnvStatus:
    """One row of ``harness envs list``."""

    spec: EnvSpec
    image: str | None
    ready: bool
    probe: Probe | None
    notes: tuple[str, ...] = field(default=())


def check_python(spec: EnvSpec, probe: Probe) -> None:
    """The env's interpreter is the CPython version its matrix entry says."""
    if spec.python and probe.python_short != spec.python:
        where = f"{spec.source}: env.{spec.name}.python" if spec.source else spec.name
        raise InputError(
            f"{where}: says {spec.python} but the env's interpreter is {probe.python_version}"
        )
