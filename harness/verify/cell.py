"""One cell: a fresh venv in one environment, pip install of the expected wheel, the proof
that pip took that exact file, then the smoke suites. ``run_one`` never raises."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import parse_wheel_filename

from harness import config as config_mod
from harness.envs import Environment, Mount, Probe, Session, cpumodel
from harness.errors import HarnessError
from harness.fsutil import sha256_file
from harness.redact import Redactor
from harness.report.model import Run, RunStatus, Step

SMOKE_DIR = Path(__file__).resolve().parent.parent / "smoke"
WHEELHOUSE = "/wheelhouse"
SMOKE = "/harness-smoke"
SOURCES = "/project"
TAIL_LINES = 40


def redact(text: str) -> str:
    """Mask secrets of this process's environment (tokens, passwords, keys) in ``text``."""
    return Redactor.from_env(os.environ)(text)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return redact("\n".join(text.rstrip().splitlines()[-lines:]))


@dataclass(frozen=True, kw_only=True)
class Task:
    env: Environment
    probe: Probe
    wheel: Path
    sha256: str
    deps_dir: Path | None
    sources_dir: Path | None = None


def _top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names of a wheel: packages, modules and extension modules."""
    import zipfile

    names: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            first = member.split("/", 1)[0]
            if first.endswith((".dist-info", ".data")):
                continue
            if "/" in member:
                if member == f"{first}/__init__.py":
                    names.add(first)
            elif first.endswith(".py"):
                names.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                names.add(first.split(".", 1)[0])
    return sorted(n for n in names if n.isidentifier() and n != "__init__")


def _venv_python(session: Session, probe: Probe) -> str:
    sep = "\\" if probe.os == "windows" else "/"
    sub = "Scripts\\python.exe" if probe.os == "windows" else "bin/python"
    return f"{session.workdir}{sep}venv{sep}{sub}"


def _classify(result_ok: bool, timed_out: bool, oom: bool) -> RunStatus:
    if timed_out or oom:
        return RunStatus.ERROR
    return RunStatus.PASSED if result_ok else RunStatus.FAILED


def run_one(task: Task, cfg: config_mod.Config) -> Run:
    """Everything for one (env, wheel) cell. Never raises: problems become the Run's status."""
    spec, probe = task.env.spec, task.probe
    t0 = time.perf_counter()
    steps: list[Step] = []
    name, version, _, _ = parse_wheel_filename(task.wheel.name)

    def finish(status: RunStatus, reason: str) -> Run:
        return Run(
            env=spec.name,
            python=probe.python_version,
            platform=probe.platform,
            wheel_filename=task.wheel.name,
            wheel_sha256=task.sha256,
            status=status,
            duration_s=time.perf_counter() - t0,
            steps=tuple(steps),
            reason=redact(reason),
        )

    wheelhouse = task.wheel.parent
    mounts = [
        Mount(source=wheelhouse, target=WHEELHOUSE),
        Mount(source=SMOKE_DIR, target=SMOKE),
    ]
    if task.deps_dir is not None:
        mounts.append(Mount(source=task.deps_dir, target="/deps"))
    try:
        mounts.extend(cpumodel.mounts(spec))  # cpu = "...": qemu-user for the smoke steps
    except HarnessError as exc:
        return finish(RunStatus.ERROR, f"environment error: {exc}")
    if task.sources_dir is not None:
        mounts.append(Mount(source=task.sources_dir, target=SOURCES))  # always last
    timeout = float(cfg.timeout_s)
    try:
        with task.env.session(mounts) as session:
            wh = session.path(mounts[0])
            smoke = session.path(mounts[1])
            py = _venv_python(session, probe)

            def step(
                label: str, argv: Sequence[str], *, fail_as: RunStatus = RunStatus.FAILED
            ) -> tuple[Step, str]:
                r = session.exec(argv, timeout=timeout, env={"PYTHONDONTWRITEBYTECODE": "1"})
                status = _classify(r.ok, r.timed_out, r.oom)
                if status is RunStatus.FAILED:
                    status = fail_as
                output = (r.stdout + ("\n" + r.stderr if r.stderr.strip() else "")).strip()
                s = Step(
                    name=label,
                    status=status,
                    duration_s=r.duration_s,
                    command=redact(" ".join(argv)),
                    returncode=r.returncode,
                    output_tail=tail(output),
                    detail={"timed_out": r.timed_out, "oom": r.oom},
                )
                steps.append(s)
                return s, output

            def why(s: Step, what: str) -> str:
                detail = s.detail
                if detail.get("timed_out"):
                    return f"{what}: timed out after {timeout:.0f}s"
                if detail.get("oom"):
                    return f"{what}: killed by the OOM killer"
                last = s.output_tail.strip().splitlines()[-1:] or [f"exit {s.returncode}"]
                return f"{what}: {last[0][:300]}"

            s, out = step(
                "venv",
                [session.python, f"{smoke}/mkvenv.py", f"{session.workdir}/venv"],
                fail_as=RunStatus.ERROR,
            )
            if s.status is not RunStatus.PASSED:
                return finish(s.status, why(s, "creating the venv failed"))
            pip_wheel = next(
                (
                    ln[len("PIP-WHEEL ") :].strip()
                    for ln in out.splitlines()
                    if ln.startswith("PIP-WHEEL ")
                ),
                "",
            )
            # the env's own pip: from its bundled wheel (fast venv), else the venv's copy
            pip = [py, f"{pip_wheel}/pip"] if pip_wheel else [py, "-m", "pip"]
            pip_install = [*pip, "install", "--no-index", "--disable-pip-version-check"]

            links = ["--find-links", wh]
            if task.deps_dir is not None:
                links += ["--find-links", session.path(mounts[2])]
            s, out = step(
                "install",
                [*pip_install, "--no-cache-dir", "-v", *links, f"{name}=={version}"],
            )
            if s.status is not RunStatus.PASSED:
                return finish(s.status, why(s, f"pip install {name}=={version} failed"))

            # which file did pip take? ("Processing /wheelhouse/x.whl" in every pip since 9)
            taken = re.findall(r"Processing\s+(\S+\.whl)", out)
            taken_names = [t.replace("\\", "/").rsplit("/", 1)[-1] for t in taken]
            mine = [
                t
                for t in taken_names
                if t.split("-", 1)[0].lower().replace("_", "-") == name.replace("_", "-")
            ]
            picked = mine[0] if mine else None
            ok = picked == task.wheel.name
            actual_sha = (
                sha256_file(wheelhouse / picked)
                if picked and (wheelhouse / picked).is_file()
                else None
            )
            ok = ok and actual_sha == task.sha256
            steps.append(
                Step(
                    name="pick",
                    status=RunStatus.PASSED if ok else RunStatus.FAILED,
                    duration_s=0.0,
                    detail={"expected": task.wheel.name, "picked": picked, "sha256": actual_sha},
                    output_tail="" if ok else f"pip installed {picked}, expected {task.wheel.name}",
                )
            )
            if not ok:
                return finish(RunStatus.FAILED, f"pip picked {picked}, expected {task.wheel.name}")

            if cfg.test_requires:
                s, _ = step("install test-requires", [*pip_install, *links, *cfg.test_requires])
                if s.status is not RunStatus.PASSED:
                    return finish(s.status, why(s, "installing test-requires failed"))

            if spec.cpu:  # from here on, the venv's python runs under the env's CPU model
                venv = f"{session.workdir}/venv"
                s, _ = step(
                    "cpu", cpumodel.wrap_argv(spec, py, smoke, venv), fail_as=RunStatus.ERROR
                )
                if s.status is not RunStatus.PASSED:
                    return finish(s.status, why(s, f"running the venv as cpu {spec.cpu} failed"))

            for suite in cfg.suites_for(name):
                if suite == "import":
                    modules = list(cfg.import_modules) or _top_level_modules(task.wheel)
                    argv = [py, f"{smoke}/run.py", "import", *modules]
                elif suite == "profiler":
                    adapter = cfg.adapter_for(name) or "cprofile"
                    argv = [py, f"{smoke}/run.py", "profiler", "--adapter", adapter]
                else:
                    if not cfg.test_command:
                        continue
                    project = session.path(mounts[-1]) if task.sources_dir else SOURCES
                    command = cfg.test_command.replace("{project}", project)
                    if probe.os == "windows":  # host mode on a Windows runner
                        activate = f"{session.workdir}\\venv\\Scripts\\activate.bat"
                        argv = ["cmd", "/c", f"call {activate} && {command}"]
                    else:
                        activate = f"{session.workdir}/venv/bin/activate"
                        argv = ["sh", "-c", f". {activate} && {command}"]
                s, out = step(f"smoke:{suite}", argv)
                result = _parse_result(out)
                if result is not None:
                    steps[-1] = replace(s, detail={**s.detail, "checks": result.get("checks", [])})
                sigill = cpumodel.sigill_reason(
                    spec, s.returncode, out, machine=probe.machine, wheel=task.wheel
                )
                if s.status is RunStatus.FAILED and sigill is not None:
                    steps[-1] = replace(steps[-1], detail={**steps[-1].detail, "sigill": sigill[1]})
                    return finish(RunStatus.FAILED, sigill[0])
                if s.status is not RunStatus.PASSED:
                    checks = (result or {}).get("checks", [])
                    failed = [
                        c for c in (checks if isinstance(checks, list) else []) if not c.get("ok")
                    ]
                    if failed:
                        first = failed[0]
                        return finish(
                            s.status,
                            f"{suite} suite: {first['name']}: {first.get('error', '')}"[:400],
                        )
                    return finish(s.status, why(s, f"{suite} suite failed"))
    except HarnessError as exc:
        return finish(RunStatus.ERROR, f"environment error: {exc}")
    except Exception as exc:  # noqa: BLE001 - one broken cell must not stop the others
        return finish(RunStatus.ERROR, f"harness error: {type(exc).__name__}: {exc}")
    return finish(RunStatus.PASSED, "")


def _parse_result(out: str) -> dict[str, object] | None:
    for line in reversed(out.splitlines()):
        if line.startswith("HARNESS-RESULT "):
            try:
                doc = json.loads(line[len("HARNESS-RESULT ") :])
            except json.JSONDecodeError:
                return None
            return doc if isinstance(doc, dict) else None
    return None
