"""Host environments: an interpreter on this machine, used through fresh venvs.

The embedded default (no docker needed) and the way macOS and Windows runners verify
their own wheels. A session is a scratch directory; ``exec`` runs on this machine with
the user's environment minus variables that would leak into the env's Python
(PYTHONPATH, PYTHONHOME, VIRTUAL_ENV, ...). On timeout proc.run kills the command (not
its grandchildren); the network is not cut here.
"""

from __future__ import annotations

import dataclasses
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
from harness.envs.base import EnvKind, EnvSpec, ExecResult, Limits, Mount, Probe, ProgressLog
from harness.envs.docker import PROBE_SOURCE, _check_python
from harness.envs.paths import cache_dir
from harness.errors import InfraError

LEAKY_VARS = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "__PYVENV_LAUNCHER__",
)


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARS}
    env.update(extra or {})
    return env


class HostSession:
    def __init__(self, *, python: str, workdir: Path) -> None:
        self._python = python
        self._workdir = workdir

    @property
    def python(self) -> str:
        return self._python

    @property
    def workdir(self) -> str:
        return str(self._workdir)

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
            argv,
            cwd=Path(cwd) if cwd else self._workdir,
            env=clean_environ(env),
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
            _check_python(self._spec, self._probe)
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
                return Probe.from_json(json.loads(cache.read_text("utf-8")))
            except ValueError:
                pass
        source = PROBE_SOURCE.read_text("utf-8")
        with tempfile.TemporaryDirectory(prefix="wheel-harness-probe-") as tmp:
            proc.run([python, "-m", "venv", tmp], env=clean_environ(), timeout=300)
            bindir = "Scripts" if os.name == "nt" else "bin"
            venv_python = str(Path(tmp) / bindir / "python")
            done = proc.run([venv_python, "-c", source], env=clean_environ(), timeout=120)
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

    @contextmanager
    def session(
        self, mounts: Sequence[Mount] = (), *, limits: Limits | None = None
    ) -> Iterator[HostSession]:
        python = self._require_interpreter()
        workdir = Path(tempfile.mkdtemp(prefix=f"wheel-harness-{self._spec.name}-"))
        try:
            yield HostSession(python=python, workdir=workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
