"""A cell's dependencies: the wheel's own Requires-Dist and ``test-requires``, resolved by
the env's own pip in the env itself, before the cell's sealed install.

A cell installs with ``--no-index``: it sees its wheelhouse and this directory, nothing
else. So the runtime dependencies of a wheel (cryptography needs cffi, cffi needs
pycparser) must be there, chosen the way that env's pip would choose them: only the env's
own pip evaluates ``python_version``/``platform_machine``/libc markers and wheel tags
for that interpreter (``pip download --platform --python-version`` on the host evaluates
markers for the *host* interpreter, so a 3.9 env would miss ``tomli; python_version <
"3.11"``). Hence one ``pip wheel`` of the wheel file plus test-requires, run in a session
of the env *with* network, into a directory the cell then mounts read-only:

- ``pip wheel``, not ``pip download``: a dependency published only as an sdist is built
  here, once, so the offline install never needs a build backend;
- ``--isolated`` with an explicit ``--index-url`` (``verify --index-url``, else
  ``$PIP_INDEX_URL``, else PyPI): no pip config and no ``PIP_FIND_LINKS`` of this machine
  reach the env, so a decoy wheel there cannot become a dependency;
- the CA bundle the harness itself trusts (``PIP_CERT``/``REQUESTS_CA_BUNDLE``/
  ``SSL_CERT_FILE``) is mounted and passed as ``--cert``, so an env built from a bare
  Debian rootfs works behind the same TLS-inspecting proxy as the host;
- files of the project under test are removed from the result, so the cell's wheel can
  only come from its own wheelhouse (the pick proof checks that).

Wheels with no Requires-Dist (other than extras) and no test-requires skip all of this.
The result is cached under the harness cache by env identity, wheel sha256, requirements,
index and UTC day: a re-run the same day is warm, a nightly sweep resolves afresh.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pkginfo
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from harness import config as config_mod
from harness.envs import Environment, Limits, Mount, Probe
from harness.envs.paths import cache_dir
from harness.fsutil import atomic_write_bytes
from harness.release import DEFAULT_INDEX
from harness.report.model import RunStatus, Step

READY = "READY"
OUT = "/harness-deps-out"
WHEEL = "/harness-deps-wheel"
PIP = "/harness-pip"
CA = "/harness-ca.pem"
CA_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class DepsError(Exception):
    """The dependencies could not be had: ``step`` says what ran, ``reason`` why."""

    def __init__(self, reason: str, step: Step | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step


def runtime_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist entries pip installs by default (not extras-only ones)."""
    out: list[str] = []
    for line in pkginfo.Wheel(str(wheel)).requires_dist or ():
        try:
            req = Requirement(str(line))
        except InvalidRequirement:
            out.append(str(line))  # pip will say what is wrong with it, in the env
            continue
        if req.marker is not None and "extra" in str(req.marker):
            continue
        out.append(str(line))
    return out


def index_url(cfg: config_mod.Config) -> str:
    return cfg.index_url or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX


def ca_bundle() -> Path | None:
    """The CA bundle this process's pip/requests trust, when one is named."""
    for name in CA_VARIABLES:
        value = os.environ.get(name)
        if value and Path(value).is_file():
            return Path(value)
    return None


def _key(env: Environment, probe: Probe, sha256: str, cfg: config_mod.Config) -> str:
    identity = "\0".join(
        (
            env.spec.name,
            env.image or "host",
            probe.executable,
            probe.python_version,
            probe.machine,
            probe.platform,
            sha256,
            "\n".join(cfg.test_requires),
            index_url(cfg),
            datetime.now(UTC).strftime("%Y-%m-%d"),
        )
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def _lock(root: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(root, threading.Lock())


def _pip_dir(pip_cache: Path | None) -> Path | None:
    """The compiled pip package directory inside the env's pip cache (pipcache.ensure)."""
    if pip_cache is None:
        return None
    for child in sorted(pip_cache.iterdir()):
        if not child.name.startswith(".") and (child / "pip" / "__main__.py").is_file():
            return child
    return None


def ensure(
    env: Environment,
    probe: Probe,
    *,
    wheel: Path,
    sha256: str,
    cfg: config_mod.Config,
    pip_cache: Path | None,
    redact: Callable[[str], str],
) -> tuple[Path | None, Step | None]:
    """The directory of dependency wheels for this cell (None: nothing to fetch) and the
    Step that filled it when this call did (None: not needed, or cached). Raises
    :class:`DepsError` when pip in the env cannot resolve them."""
    requires = runtime_requirements(wheel)
    if not requires and not cfg.test_requires:
        return None, None
    root = cache_dir() / "deps" / _key(env, probe, sha256, cfg)
    with _lock(root):
        if (root / READY).is_file():
            return root, None
        pip_dir = _pip_dir(pip_cache)
        if pip_dir is None:
            raise DepsError(
                "the env's pip could not be prepared, so its dependencies cannot be resolved",
                None,
            )
        root.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".fill-", dir=root.parent))
        try:
            os.chmod(work, 0o777)  # noqa: S103 - written by the env's non-root user (uid 1000)
            step = _fill(env, work, wheel=wheel, cfg=cfg, pip_dir=pip_dir, redact=redact)
            _keep_only_dependencies(work, wheel)
            atomic_write_bytes(work / READY, step.command.encode())
            try:
                work.rename(root)
            except OSError:  # another process filled it first: theirs is as good
                shutil.rmtree(work, ignore_errors=True)
            return root, step
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)


def _fill(
    env: Environment,
    out: Path,
    *,
    wheel: Path,
    cfg: config_mod.Config,
    pip_dir: Path,
    redact: Callable[[str], str],
) -> Step:
    ca = ca_bundle()
    mounts = [
        Mount(source=wheel.parent, target=WHEEL),
        Mount(source=pip_dir, target=PIP),
        Mount(source=out, target=OUT, read_only=False),
        *([Mount(source=ca, target=CA)] if ca is not None else []),
    ]
    with env.session(mounts, limits=Limits(network=True)) as session:
        where = [session.path(m) for m in mounts]
        argv = [
            session.python,
            f"{where[1]}/pip",
            "--isolated",
            "wheel",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--progress-bar",
            "off",
            "--wheel-dir",
            where[2],
            "--index-url",
            index_url(cfg),
            *(["--cert", where[3]] if ca is not None else []),
            f"{where[0]}/{wheel.name}",
            *cfg.test_requires,
        ]
        r = session.exec(argv, timeout=float(cfg.timeout_s), env={"PYTHONDONTWRITEBYTECODE": "1"})
    text = (r.stdout + "\n" + r.stderr).strip()
    lines = text.splitlines()
    step = Step(
        name="deps",
        status=RunStatus.PASSED if r.ok else RunStatus.ERROR,
        duration_s=r.duration_s,
        command=redact(" ".join(argv)),
        returncode=r.returncode,
        output_tail=redact("\n".join(lines[-40:])),
        detail={"timed_out": r.timed_out, "oom": r.oom},
    )
    if not r.ok:
        errors = [ln for ln in lines if ln.startswith("ERROR:")]
        last = (errors or lines or [f"exit {r.returncode}"])[-1]
        why = f"timed out after {cfg.timeout_s}s" if r.timed_out else last[:300]
        if "SSL module is not available" in text:
            why = f"the env's Python has no ssl module, so its pip cannot reach {index_url(cfg)}"
        raise DepsError(redact(f"resolving its dependencies in the env failed: {why}"), step)
    return step


def _keep_only_dependencies(out: Path, wheel: Path) -> None:
    """Drop the project's own files (the cell's wheel comes from its wheelhouse only) and
    make the rest readable by any uid of a later session."""
    project = parse_wheel_filename(wheel.name)[0]
    for child in out.iterdir():
        if child.suffix == ".whl":
            try:
                name = parse_wheel_filename(child.name)[0]
            except ValueError:
                child.unlink()
                continue
            if canonicalize_name(name) == project:
                child.unlink()
                continue
        child.chmod(0o644)
    out.chmod(0o755)
