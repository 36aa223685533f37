"""`harness verify`: install each wheel in the environments its tags promise, smoke-test it
there, and write one report.

plan:  inspect (static) -> envs (prepare + probe) -> coverage (which file pip picks where)
run:   per (env, picked wheel), in parallel: fresh venv, `pip install --no-index` from a
       read-only wheelhouse holding every wheel of the release, check pip took exactly the
       expected file (name + sha256), then the smoke suites.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from packaging.utils import parse_wheel_filename

from harness import __version__, console
from harness import config as config_mod
from harness.checks.platforms import OS, parse_platform
from harness.coverage import WheelFile, compute
from harness.coverage import parse_wheel as parse_wheel_name
from harness.envs import Environment, EnvKind, EnvSpec, Mount, Probe, Session, environment
from harness.errors import HarnessError, InfraError, UsageError
from harness.fsutil import sha256_file
from harness.inspect import InspectResult, inspect_paths
from harness.redact import Redactor
from harness.report.model import Report, Run, RunStatus, Step, Verdict

SMOKE_DIR = Path(__file__).parent / "smoke"
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


# ---------------------------------------------------------------- one run


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


# ---------------------------------------------------------------- plan


def static_only_reason(filename: str) -> str:
    """Why no environment here can run a wheel (for the skipped cell)."""
    wf = parse_wheel_name(filename)
    kinds = {parse_platform(t.platform).os for t in wf.tags}
    if OS.MACOS in kinds:
        return "static only: macOS wheel; runs in host mode on a macOS runner (--matrix host)"
    if OS.WINDOWS in kinds:
        return "static only: Windows wheel; runs in host mode on a Windows runner (--matrix host)"
    return "static only: no environment of this matrix installs this wheel"


def prepare_envs(
    specs: Sequence[EnvSpec], log: Callable[[str], None]
) -> tuple[list[tuple[Environment, Probe]], list[tuple[EnvSpec, str]]]:
    """Build/probe every env; envs that cannot be had become (spec, reason) pairs."""
    ready: list[tuple[Environment, Probe]] = []
    broken: list[tuple[EnvSpec, str]] = []
    if any(spec.kind is not EnvKind.HOST for spec in specs):
        from harness.envs.docker import ensure_daemon

        ensure_daemon()  # no daemon: one line and exit 3, not a grid of error cells
    for spec in specs:
        env = environment(spec)
        try:
            if not env.is_ready():
                log(f"{spec.name}: preparing (building or pulling the image once, cached)")
                env.prepare(log=lambda m, n=spec.name: log(f"{n}: {m}"))
            ready.append((env, env.probe()))
        except HarnessError as exc:
            if isinstance(exc, UsageError):
                raise
            broken.append((spec, str(exc)))
    return ready, broken


def _prepare_deps(
    cfg: config_mod.Config, probe: Probe, dest: Path, log: Callable[[str], None]
) -> Path | None:
    """Host-side `pip download` of test-requires for one env's platform and Python."""
    if not cfg.test_requires:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    plats: list[str] = []
    for t in probe.tags:
        p = t.rsplit("-", 1)[-1]
        if p not in plats and p != "any":
            plats.append(p)
    argv = [
        os.environ.get("HARNESS_PIP_PYTHON", sys.executable),
        "-m",
        "pip",
        "download",
        "--only-binary=:all:",
        "--python-version",
        probe.python_short,
        "--implementation",
        "cp",
        "-d",
        str(dest),
        "--disable-pip-version-check",
    ]
    for p in plats[:60]:
        argv += ["--platform", p]
    from harness import proc

    log(f"downloading test-requires for {probe.platform} py{probe.python_short}")
    r = proc.run([*argv, *cfg.test_requires], check=False, timeout=600)
    if r.returncode != 0:
        raise InfraError(f"pip download of test-requires failed: {tail(r.stderr, 1)}")
    return dest


def _stage_sources(cfg: config_mod.Config, dest: Path) -> Path | None:
    """Copy test-sources (relative to the pyproject.toml) into a dir mounted read-only."""
    if not cfg.test_sources:
        return None
    base = Path(cfg.source).parent if cfg.source else Path.cwd()
    dest.mkdir(parents=True)
    for rel in cfg.test_sources:
        src = base / rel
        if not src.exists():
            where = cfg.source or "pyproject.toml"
            raise UsageError(f"{where}: [tool.harness] test-sources: {src} does not exist")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, target)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the containers' user
    return dest


@dataclass(frozen=True, kw_only=True)
class VerifyOutcome:
    report: Report
    report_dir: Path


def verify(
    wheels: Sequence[Path],
    specs: Sequence[EnvSpec],
    cfg: config_mod.Config,
    report_dir: Path,
    *,
    matrix_name: str,
    log: Callable[[str], None] = console.info,
) -> VerifyOutcome:
    inspected: InspectResult = inspect_paths(wheels)
    files = [w.wheel.path for w in inspected.wheels]
    wheel_files: list[WheelFile] = [parse_wheel_name(p.name) for p in files]
    ready, broken = prepare_envs(specs, log)
    cov = compute(wheel_files, [(env.spec, probe) for env, probe in ready])
    sha = {w.wheel.filename: w.wheel.sha256 for w in inspected.wheels}

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="harness-wheelhouse-") as tmp:
        wheelhouse = Path(tmp) / "wheelhouse"
        wheelhouse.mkdir()
        # readable by the containers' non-root user (mounted read-only)
        os.chmod(tmp, 0o755)  # noqa: S103
        os.chmod(wheelhouse, 0o755)  # noqa: S103
        for p in files:
            target = wheelhouse / p.name
            try:
                os.link(p, target)
            except OSError:
                shutil.copyfile(p, target)
            os.chmod(target, 0o644)
        sources = _stage_sources(cfg, Path(tmp) / "project")
        tasks: list[Task] = []
        for env, probe in ready:
            deps = _prepare_deps(cfg, probe, Path(tmp) / f"deps-{env.spec.name}", log)
            for pick in cov.envs:
                if pick.env == env.spec.name and pick.picked:
                    tasks.append(
                        Task(
                            env=env,
                            probe=probe,
                            wheel=wheelhouse / pick.picked,
                            sha256=sha[pick.picked],
                            deps_dir=deps,
                            sources_dir=sources,
                        )
                    )
        for spec, reason in broken:
            # one error cell per env that could not be had (its picks are unknown)
            runs.append(
                Run(
                    env=spec.name,
                    python="",
                    platform="",
                    wheel_filename="-",
                    wheel_sha256="",
                    status=RunStatus.ERROR,
                    duration_s=0.0,
                    reason=redact(f"environment unavailable: {reason}"),
                )
            )
        runs.extend(_execute(tasks, cfg, log))

    for filename in cov.untested:
        runs.append(
            Run(
                env="static",
                python="",
                platform="",
                wheel_filename=filename,
                wheel_sha256=sha[filename],
                status=RunStatus.SKIPPED,
                duration_s=0.0,
                reason=static_only_reason(filename),
            )
        )
    report = Report(
        harness_version=__version__,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        config={"matrix": matrix_name, "envs": [s.name for s in specs], **cfg.to_json()},
        inspect=inspected.to_json(),
        runs=tuple(runs),
        envs=tuple(
            {"name": p.env, "python": p.python, "platform": p.platform, "picked": p.picked}
            for p in cov.envs
        ),
        untested=cov.untested,
    )
    from harness.report import write_report

    report_dir.mkdir(parents=True, exist_ok=True)
    write_report(report, report_dir)
    return VerifyOutcome(report=report, report_dir=report_dir)


def _execute(
    tasks: Sequence[Task], cfg: config_mod.Config, log: Callable[[str], None]
) -> list[Run]:
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
                        progress.console.print(line, markup=False, highlight=False)
                        progress.advance(task_id)
                    else:
                        log(line)
        except KeyboardInterrupt:
            # Ctrl-C: run nothing more, and remove the live containers now so the cells
            # in flight end at once instead of after their step's timeout.
            pool.shutdown(wait=False, cancel_futures=True)
            from harness.envs import docker

            docker.remove_live_sessions()
            raise
        pool.shutdown(wait=True)
    finally:
        if progress is not None:
            progress.stop()
    order = {(t.env.spec.name, t.wheel.name): i for i, t in enumerate(tasks)}
    return sorted(results, key=lambda r: order.get((r.env, r.wheel_filename), 0))


# ---------------------------------------------------------------- CLI

HELP = "install wheels in the environments their tags promise, smoke-test, write a report"
DESCRIPTION = """\
Inspect the wheels, then install each one into every environment of the matrix where pip
would pick it (a fresh venv, --no-index from a read-only wheelhouse holding all the
wheels), check pip took exactly the expected file (name + sha256), and run the smoke
suites there (import; profiler for known profilers; the project's test-command).
Wheels no environment here can run (macOS, Windows on Linux) are reported "static only".
Writes DIR/report.json, junit.xml, summary.md (+ $GITHUB_STEP_SUMMARY) and report.html.

Smoke suites and test settings come from [tool.harness] in ./pyproject.toml (--config).
exit codes: 0 verdict pass, 1 a wheel failed, 2 bad input, 3 infrastructure error.

examples:
  harness verify --release yappi==1.7.6 --matrix host      # no Docker needed
  harness verify dist/ --matrix linux --report-dir reports/
  harness verify dist/*.whl --matrix nightly --env bullseye --env trixie --jobs 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "wheels",
        nargs="*",
        type=Path,
        metavar="WHEELS",
        help="wheel files or directories of wheels",
    )
    parser.add_argument(
        "--release",
        metavar="NAME==VERSION",
        help="verify every wheel of a published release instead",
    )
    parser.add_argument(
        "--index-url",
        default=None,
        metavar="URL",
        help="simple index for --release (default: PyPI, or $PIP_INDEX_URL)",
    )
    parser.add_argument(
        "--matrix",
        "-m",
        default=None,
        metavar="M",
        help="matrix name (matrices/M.toml) or path; default: this machine (host, no Docker)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME",
        help="only these envs of the matrix (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="parallel runs (default: [tool.harness] jobs, else cores)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the report goes (default: ./reports)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("pyproject.toml"),
        metavar="FILE",
        help="pyproject.toml with [tool.harness] (default: ./pyproject.toml)",
    )
    parser.add_argument(
        "--timeout", type=int, default=None, metavar="S", help="seconds per step (default 600)"
    )


def run(args: argparse.Namespace) -> int:
    from harness import matrix as matrix_mod
    from harness.release import DEFAULT_INDEX, download_release

    if bool(args.wheels) == bool(args.release):
        raise UsageError("give WHEELS or --release NAME==VERSION (one of them)")
    cfg = config_mod.load(args.config if args.config.is_file() else None)
    if args.jobs is not None:
        if args.jobs < 1:
            raise UsageError("--jobs must be at least 1")
        cfg = replace(cfg, jobs=args.jobs)
    if args.timeout is not None:
        cfg = replace(cfg, timeout_s=args.timeout)
    mx = matrix_mod.load(args.matrix) if args.matrix else matrix_mod.embedded_default()
    specs = list(mx.envs)
    if args.env:
        known = {s.name for s in specs}
        unknown = [e for e in args.env if e not in known]
        if unknown:
            raise UsageError(
                f"--env {', '.join(unknown)}: not in matrix {mx.name} "
                f"(has: {', '.join(sorted(known))})"
            )
        specs = [s for s in specs if s.name in args.env]
    if args.release:
        index = args.index_url or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX
        wheels = download_release(args.release, index)
    else:
        wheels = list(args.wheels)
    outcome = verify(wheels, specs, cfg, args.report_dir, matrix_name=mx.name)
    rep = outcome.report
    counts = rep.counts()
    console.out().print(
        f"verdict: {rep.verdict.upper()}  ({counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} error, {counts['skipped']} static only; "
        f"{rep.inspect_errors} inspect error finding(s))  report: {outcome.report_dir}/",
        markup=False,
        highlight=False,
    )
    return 0 if rep.verdict is Verdict.PASS else 1
