"""Each environment's own pip, compiled once: built on an env's first cell, then mounted
read-only into every cell of that env (see harness/smoke/mkvenv.py for why: running pip
from its wheel recompiles pip on every start, seconds natively and ~20x under qemu).

It is the env's own bundled pip wheel, unpacked and compiled by the env's own interpreter,
so a cell still proves what *that* pip picks; only its start-up gets cheaper. Cached
under the harness cache by env, image, interpreter and pip version."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.envs import Environment, Mount, Probe
from harness.envs.paths import cache_dir
from harness.fsutil import atomic_write_bytes
from harness.report.model import RunStatus, Step

READY = "READY"
TARGET = "/harness-pip"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def cache_root(env: Environment, probe: Probe, smoke_dir: Path) -> Path:
    """One directory per env identity and version of the builder (mkvenv.py)."""
    builder = hashlib.sha256((smoke_dir / "mkvenv.py").read_bytes()).hexdigest()
    identity = "\0".join(
        (
            builder,
            env.spec.name,
            env.image or "host",
            probe.executable,
            probe.python_version,
            probe.machine,
            probe.pip_version,
        )
    )
    return cache_dir() / "pip" / hashlib.sha256(identity.encode()).hexdigest()[:24]


def _lock(root: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(root, threading.Lock())


def ensure(
    env: Environment, probe: Probe, *, smoke_dir: Path, smoke_target: str, timeout: float
) -> tuple[Path | None, Step | None]:
    """The env's compiled-pip directory (None: could not be built, cells run pip from its
    wheel) and the Step of the build when this call built it (None when it was cached)."""
    root = cache_root(env, probe, smoke_dir)
    with _lock(root):
        if (root / READY).is_file():
            return root, None
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o777)  # noqa: S103 - written by the env's non-root user (uid 1000)
        mounts = [
            Mount(source=smoke_dir, target=smoke_target),
            Mount(source=root, target=TARGET, read_only=False),
        ]
        with env.session(mounts) as session:
            smoke, out = session.path(mounts[0]), session.path(mounts[1])
            argv = [session.python, f"{smoke}/mkvenv.py", "--build-pip-cache", out]
            r = session.exec(argv, timeout=timeout, env={"PYTHONDONTWRITEBYTECODE": "1"})
        text = (r.stdout + "\n" + r.stderr).strip()
        step = Step(
            name="pip cache",
            # a failed build costs speed, not correctness: the cell goes on without it
            status=RunStatus.PASSED if r.ok else RunStatus.SKIPPED,
            duration_s=r.duration_s,
            command=" ".join(argv),
            returncode=r.returncode,
            output_tail="\n".join(text.splitlines()[-20:]),
            detail={"timed_out": r.timed_out, "oom": r.oom},
        )
        if not r.ok:
            return None, step
        atomic_write_bytes(root / READY, text.encode())
        return root, step


@dataclass(frozen=True, kw_only=True)
class VenvTemplate:
    """The env's venv as its own ``venv`` module made it (harness/smoke/mkvenv.py), on
    the host: ``venv`` (the tree), ``made_at`` (its path when made, in the env: rewritten
    to the cell's venv path in the copy) and ``paths`` (the install scheme, relative to
    the venv: purelib, platlib, scripts, data, include, ...)."""

    venv: Path
    made_at: str
    paths: dict[str, str]


def template(root: Path) -> VenvTemplate | None:
    """The venv template of the env whose compiled-pip directory is ``root`` (None: the
    build made none; its cells make their venv in the env)."""
    try:
        text = (root / READY).read_text("utf-8", errors="replace")
    except OSError:
        return None
    lines = [ln for ln in text.splitlines() if ln.startswith("VENV-TEMPLATE ")]
    if not lines:
        return None
    where = root / PurePosixPath(lines[-1][len("VENV-TEMPLATE ") :].strip()).name
    try:
        doc = json.loads((where / "layout.json").read_text("utf-8"))
        paths = {str(k): str(v) for k, v in dict(doc["paths"]).items()}
        made_at = str(doc["made_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    wanted = {"purelib", "platlib", "scripts", "data"}
    if not wanted <= paths.keys() or not (where / "venv").is_dir():
        return None
    return VenvTemplate(venv=where / "venv", made_at=made_at, paths=paths)
