"""The docker daemon, driven through its CLI: calls, image inspection, probes, sessions.

The bottom layer of docker environments. ``envs/images.py`` (recipes -> images) builds on
it and ``envs/docker.py`` (the Environment kind) on both; nothing here imports either.

Docker environments: images built from containers/ recipes, or pulled from a registry.

Why the docker CLI (through harness.proc) and not the docker SDK: the CLI is what the
docker.io package installs next to the daemon and what users debug with; it honours
DOCKER_HOST, contexts and TLS settings exactly as the user's own `docker` does;
`docker import` of a rootfs tar, `--platform`, and `commit --change` are one line each;
and every call is a plain argv that proc.run can time out. The SDK has no exec timeout
either, so it would not save the kill-on-timeout logic below. The cost is a process per
call (~20-50 ms), which is noise next to container work.

A session is one idle container (auditwheel/cibuildwheel style) and ``docker exec`` per
command: ``--network none``, the recipe's non-root user, memory/pid limits, mounts
read-only unless asked. It is named before it is created, so cleanup (``docker rm -f``)
works even when Ctrl-C lands while ``docker run`` is still starting it; every live
container is also removed at interpreter exit, and its idle process exits by itself after
``Limits.lifetime_s`` with ``--rm``, so nothing outlives a killed harness for long.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness import proc
from harness.envs.base import (
    ExecResult,
    Limits,
    Mount,
    Probe,
)
from harness.errors import InfraError, InputError

LABEL = "org.wheel-harness"
SESSION_LABEL = f"{LABEL}.session"
PROBE_SOURCE = Path(__file__).with_name("probe.py")
SESSION_UID = "1000"  # registry images may have no named non-root user: use a bare uid


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


_daemon_ok: set[str] = set()  # the DOCKER_HOSTs that answered (checked once per process)
_daemon_lock = threading.Lock()


def ensure_daemon() -> None:
    """InfraError (exit 3) with one line saying how to get a daemon, if none answers."""
    with _daemon_lock:
        if docker_host() in _daemon_ok:
            return
        try:
            done = proc.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                timeout=20,
                check=False,
            )
        except InfraError as exc:  # the CLI itself is missing
            raise InfraError(
                f"{exc}: install Docker (Debian: apt-get install docker.io) "
                "or run tests/engines.d/10-docker.sh"
            ) from exc
        if done.returncode != 0 or done.timed_out or not done.stdout.strip():
            raise InfraError(
                f"no Docker daemon reachable at {docker_host()} (DOCKER_HOST or "
                "/var/run/docker.sock): start it (as root: `dockerd &`, or "
                "bash tests/engines.d/10-docker.sh) or point DOCKER_HOST at one"
            )
        _daemon_ok.add(docker_host())


def docker(
    args: Sequence[str | Path],
    *,
    timeout: float | None = 600,
    check: bool = True,
    input_text: str | None = None,
) -> proc.Completed:
    return proc.run(["docker", *args], timeout=timeout, check=check, input_text=input_text)


def error_line(done: proc.Completed) -> str:
    """The informative line of a failed docker CLI call (not "Run 'docker run --help'...")."""
    lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
    for line in lines:
        if "rror" in line and "--help" not in line:
            return line[:300]
    useful = [ln for ln in lines if "--help" not in ln]
    return (useful[-1] if useful else "no output")[:300]


def image_inspect(ref: str) -> dict[str, object] | None:
    """`docker image inspect` of ``ref``, or None if there is no such image here."""
    done = docker(["image", "inspect", ref], check=False, timeout=60)
    if done.returncode != 0:
        return None
    data = json.loads(done.stdout)
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    first: dict[str, object] = data[0]
    return first


def image_labels(info: Mapping[str, object]) -> dict[str, str]:
    config = info.get("Config")
    labels = config.get("Labels") if isinstance(config, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def run_probe(image: str, *, interpreter: str, platform: str | None, user: str | None) -> Probe:
    """Run the probe in a throwaway container with no network and parse its JSON."""
    args: list[str] = ["run", "--rm", "--network", "none"]
    if platform:
        args += ["--platform", platform]
    if user:
        args += ["--user", user]
    args += ["--entrypoint", interpreter, image, "-c", PROBE_SOURCE.read_text("utf-8")]
    done = docker(args, check=False, timeout=600)
    if done.returncode != 0:
        raise InfraError(f"probe of {image} failed (exit {done.returncode}): {error_line(done)}")
    try:
        return Probe.from_json(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError) as exc:
        raise InfraError(f"probe of {image} printed no usable JSON: {exc}") from exc


# ---------------------------------------------------------------- sessions

_live: set[str] = set()
_live_lock = threading.Lock()


def _remove_container(name: str) -> None:
    """`docker rm -f`, shielded from Ctrl-C (SIG_IGN is inherited by the docker child)."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        proc.run(["docker", "rm", "-f", "-v", name], check=False, timeout=120, cleanup=True)
    except InfraError:
        pass
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGINT, previous)
        with _live_lock:
            _live.discard(name)


def remove_live_sessions() -> None:
    """Remove every container this process still has (Ctrl-C in verify, and at exit)."""
    _remove_leftovers()


@atexit.register
def _remove_leftovers() -> None:
    with _live_lock:
        names = list(_live)
    for name in names:
        _remove_container(name)


class DockerSession:
    """A running idle container; see the module docstring."""

    def __init__(
        self, *, container: str, python: str, workdir: str, mounts: Sequence[Mount]
    ) -> None:
        self._container = container
        self._python = python
        self._workdir = workdir
        self._mounts = tuple(mounts)
        self._dead: str | None = None
        self._oom_seen = 0

    def _oom_kills(self) -> int:
        """The memory cgroup's oom_kill counter (cgroup v2 memory.events, v1 oom_control)."""
        done = proc.run(
            ["docker", "exec", "--user", "0", self._container, "cat",
             "/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"],
            check=False,
            timeout=60,
        )  # fmt: skip
        for line in done.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    @property
    def container(self) -> str:
        return self._container

    @property
    def python(self) -> str:
        return self._python

    @property
    def workdir(self) -> str:
        return self._workdir

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
        args: list[str] = ["docker", "exec", "--workdir", cwd or self._workdir]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        args += [self._container, *argv]
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
            kills = self._oom_kills()
            oom = kills > self._oom_seen
            self._oom_seen = kills
            state = proc.run(
                ["docker", "inspect", "--format", "{{.State.Running}}", self._container],
                check=False,
                timeout=60,
            )
            if state.stdout.strip() != "true":
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
    """One idle container for the ``with`` block; always removed afterwards."""
    ensure_daemon()
    for mount in mounts:
        if not mount.target.startswith("/") or "," in mount.target or "," in str(mount.source):
            raise InputError(f"mount target must be an absolute path without commas: {mount}")
        if not mount.source.exists():
            raise InputError(f"mount source does not exist: {mount.source}")
    name = f"wheel-harness-{env_name}-{uuid.uuid4().hex[:10]}"
    args: list[str] = [
        "docker", "run", "--detach", "--rm", "--name", name,
        "--label", f"{SESSION_LABEL}=1",
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
    args += ["--entrypoint", "sleep", image, str(limits.lifetime_s)]
    with _live_lock:
        _live.add(name)
    try:
        started = proc.run(args, check=False, timeout=300)
        if started.returncode != 0:
            raise InfraError(f"cannot start a container of {image}: {error_line(started)}")
        if home.startswith("/tmp/"):
            proc.run(["docker", "exec", name, "mkdir", "-p", home], check=True, timeout=60)
        yield DockerSession(container=name, python=python, workdir=home, mounts=mounts)
    finally:
        _remove_container(name)
