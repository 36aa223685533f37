"""The docker daemon, driven through its CLI: calls, image inspection, probes.

The bottom layer of docker environments. ``envs/images.py`` (recipes -> images) and
``envs/containers.py`` (sessions) build on it and ``envs/docker.py`` (the Environment
kind) on those; nothing here imports any of them.

Docker environments: images built from containers/ recipes, or pulled from a registry.

Why the docker CLI (through harness.proc) and not the docker SDK: the CLI is what the
docker.io package installs next to the daemon and what users debug with; it honours
DOCKER_HOST, contexts and TLS settings exactly as the user's own `docker` does;
`docker import` of a rootfs tar, `--platform`, and `commit --change` are one line each;
and every call is a plain argv that proc.run can time out. The SDK has no exec timeout
either, so it would not save the kill-on-timeout logic of envs/containers.py. The cost is
a process per call (~20-50 ms), which is noise next to container work.

Sessions (an idle container, ``docker exec`` per command; dedicated or shared by an env's
cells) are in ``envs/containers.py``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness import proc
from harness.envs.base import Probe
from harness.errors import InfraError

LABEL = "org.wheel-harness"
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
