"""One cell: a fresh venv in one environment, the install of the expected wheel, the proof
that the env's pip picks that exact file, then the smoke suites. ``run_one`` never raises.

The venv and install are done from the host when the cell's directory is on it (a shared
container's bind-mounted cell directory, a host session) and the cell needs no pip:
harness.verify.hostinstall; otherwise in the env, by the env's own pip (`pip install`,
whose "Processing" line the pick proof reads).

The stages are functions of a :class:`CellRun` (the live session plus the steps recorded
so far); a stage that fails raises :class:`CellStop` with the cell's status and reason,
and ``run_one`` turns that into the Run. The session is the cell's place in its env's
shared container (harness.verify.share), or a session of its own: host envs, and a cell
retried alone after its shared container hit a limit."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pkginfo
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from harness import config as config_mod
from harness import coverage
from harness.envs import Environment, Limits, Mount, Probe, Session, cpumodel
from harness.errors import HarnessError
from harness.fsutil import sha256_file
from harness.redact import Redactor
from harness.report.model import Run, RunStatus, Step
from harness.verify import deps as deps_mod
from harness.verify import hostinstall, pipcache
from harness.verify.share import EnvContainers

SMOKE_DIR = Path(__file__).resolve().parent.parent / "smoke"
WHEELHOUSE = "/wheelhouse"
SMOKE = "/harness-smoke"
SOURCES = "/project"
DEPS = "/deps"
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
    sources_dir: Path | None = None


class CellStop(Exception):
    """A stage ended the cell early: ``status`` and ``reason`` become the Run's (control
    flow inside a cell; never escapes ``run_one``)."""

    def __init__(self, status: RunStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---------------------------------------------------------------- pure helpers

_DATA_LIBS = re.compile(r"^[^/]+\.data/(purelib|platlib)/")


def _top_level_modules(wheel: Path) -> list[str]:
    """What the import suite imports by default: the wheel's top-level packages and
    modules, then every extension module it ships (each .so/.pyd by its dotted name, e.g.
    ``msgpack._cmsgpack``), so a package whose __init__ swallows a broken extension's
    ImportError (a pure-Python fallback) still fails the cell."""
    import zipfile

    names: set[str] = set()
    extensions: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        for raw in zf.namelist():
            member = _DATA_LIBS.sub("", raw)
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
            if member.endswith((".so", ".pyd")):
                parts = member.split("/")
                dotted = [*parts[:-1], parts[-1].split(".", 1)[0]]
                if all(p.isidentifier() for p in dotted):
                    extensions.add(".".join(dotted))
    tops = sorted(n for n in names if n.isidentifier() and n != "__init__")
    return tops + sorted(extensions - set(tops))


def _venv_python(session: Session, probe: Probe) -> str:
    sep = "\\" if probe.os == "windows" else "/"
    sub = "Scripts\\python.exe" if probe.os == "windows" else "bin/python"
    return f"{session.workdir}{sep}venv{sep}{sub}"


def _classify(result_ok: bool, timed_out: bool, oom: bool) -> RunStatus:
    if timed_out or oom:
        return RunStatus.ERROR
    return RunStatus.PASSED if result_ok else RunStatus.FAILED


def _parse_result(out: str) -> dict[str, object] | None:
    for line in reversed(out.splitlines()):
        if line.startswith("HARNESS-RESULT "):
            try:
                doc = json.loads(line[len("HARNESS-RESULT ") :])
            except json.JSONDecodeError:
                return None
            return doc if isinstance(doc, dict) else None
    return None


def _mkvenv_line(out: str, prefix: str) -> str:
    """The value of mkvenv.py's "PIP-DIR <dir>" / "PIP-WHEEL <path>" line ("" if none)."""
    for line in out.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def _processed_wheel(install_output: str, name: str) -> str | None:
    """The path of ``name``'s wheel pip processed ("Processing /x/y.whl", every pip since 9),
    with forward slashes, as pip printed it."""
    wanted = name.replace("_", "-")
    for taken in re.findall(r"Processing\s+(\S+\.whl)", install_output):
        path = str(taken).replace("\\", "/")
        if path.rsplit("/", 1)[-1].split("-", 1)[0].lower().replace("_", "-") == wanted:
            return path
    return None


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


def _wheel_metadata(path: Path) -> dict[str, str]:
    """Name and version from a wheel's own METADATA (pkginfo reads any metadata version)."""
    meta = pkginfo.Wheel(str(path))
    return {"name": str(meta.name or ""), "version": str(meta.version or "")}


@dataclass(frozen=True, kw_only=True)
class CellMounts:
    """What a cell's session sees: all read-only."""

    wheelhouse: Mount
    smoke: Mount
    deps: Mount | None = None
    sources: Mount | None = None
    pip: Mount | None = None  # the env's compiled pip (harness.verify.pipcache)
    cpu: tuple[Mount, ...] = ()  # cpu = "...": qemu-user for the smoke steps (envs.cpumodel)

    @classmethod
    def of(cls, task: Task, pip_cache: Path | None, deps_dir: Path | None) -> CellMounts:
        return cls(
            wheelhouse=Mount(source=task.wheel.parent, target=WHEELHOUSE),
            smoke=Mount(source=SMOKE_DIR, target=SMOKE),
            deps=None if deps_dir is None else Mount(source=deps_dir, target=DEPS),
            sources=(
                None if task.sources_dir is None else Mount(source=task.sources_dir, target=SOURCES)
            ),
            pip=None if pip_cache is None else Mount(source=pip_cache, target=pipcache.TARGET),
            cpu=tuple(cpumodel.mounts(task.env.spec)),
        )

    def all(self) -> list[Mount]:
        optional = (self.deps, self.sources, self.pip)
        return [self.wheelhouse, self.smoke, *(m for m in optional if m is not None), *self.cpu]


# ---------------------------------------------------------------- the live cell


@dataclass(kw_only=True)
class CellRun:
    """One cell's live state: its session, paths inside it, and the steps so far."""

    task: Task
    cfg: config_mod.Config
    session: Session
    mounts: CellMounts
    steps: list[Step] = field(default_factory=list)

    @property
    def timeout(self) -> float:
        return float(self.cfg.timeout_s)

    @property
    def wheelhouse(self) -> str:
        return self.session.path(self.mounts.wheelhouse)

    @property
    def smoke(self) -> str:
        return self.session.path(self.mounts.smoke)

    @property
    def deps(self) -> str | None:
        return None if self.mounts.deps is None else self.session.path(self.mounts.deps)

    @property
    def project(self) -> str:
        return SOURCES if self.mounts.sources is None else self.session.path(self.mounts.sources)

    @property
    def pip_cache(self) -> str | None:
        return None if self.mounts.pip is None else self.session.path(self.mounts.pip)

    @property
    def python(self) -> str:
        """The venv's interpreter."""
        return _venv_python(self.session, self.task.probe)

    def step(
        self,
        label: str,
        argv: Sequence[str],
        *,
        fail_as: RunStatus = RunStatus.FAILED,
        bytecode: bool = False,
    ) -> tuple[Step, str]:
        """Run ``argv`` in the session and record it as a step; returns it and its output.
        ``bytecode``: Python may write .pyc files (the harness suites in a container: into
        the cell's own venv, so the first suite compiles the wheel's modules for the next
        one, as pip's install did)."""
        env = {} if bytecode else {"PYTHONDONTWRITEBYTECODE": "1"}
        r = self.session.exec(argv, timeout=self.timeout, env=env)
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
        self.steps.append(s)
        return s, output

    def why(self, s: Step, what: str) -> str:
        """One line on why step ``s`` failed, prefixed with ``what``."""
        if s.detail.get("timed_out"):
            return f"{what}: timed out after {self.timeout:.0f}s"
        if s.detail.get("oom"):
            return f"{what}: killed by the OOM killer"
        last = s.output_tail.strip().splitlines()[-1:] or [f"exit {s.returncode}"]
        return f"{what}: {last[0][:300]}"

    def require(self, s: Step, what: str) -> None:
        """Stop the cell unless ``s`` passed."""
        if s.status is not RunStatus.PASSED:
            raise CellStop(s.status, self.why(s, what))


# ---------------------------------------------------------------- stages


def make_venv(cell: CellRun) -> list[str]:
    """A fresh venv; returns the argv prefix of the env's own pip for it."""
    argv = [cell.session.python, f"{cell.smoke}/mkvenv.py", f"{cell.session.workdir}/venv"]
    if cell.pip_cache is not None:
        argv += ["--pip-cache", cell.pip_cache]
    s, out = cell.step("venv", argv, fail_as=RunStatus.ERROR)
    cell.require(s, "creating the venv failed")
    # the env's own pip: compiled once per env, else from its bundled wheel, else the venv's
    pip_dir = _mkvenv_line(out, "PIP-DIR ")
    if pip_dir:
        return [cell.python, f"{pip_dir}/pip"]
    pip_wheel = _mkvenv_line(out, "PIP-WHEEL ")
    return [cell.python, f"{pip_wheel}/pip"] if pip_wheel else [cell.python, "-m", "pip"]


def _pip_install(pip: Sequence[str]) -> list[str]:
    # --isolated: no PIP_* variables, no user config (the env also sets PIP_CONFIG_FILE to
    # the null device, so no global or site config either): the cell sees its wheelhouse only
    return [*pip, "--isolated", "install", "--no-index", "--disable-pip-version-check"]


def _links(cell: CellRun) -> list[str]:
    links = ["--find-links", cell.wheelhouse]
    if cell.deps is not None:
        links += ["--find-links", cell.deps]
    return links


def install_wheel(cell: CellRun, pip: Sequence[str]) -> str:
    """`pip install NAME==VERSION` from the wheelhouse; returns pip's (verbose) output."""
    name, version, _, _ = parse_wheel_filename(cell.task.wheel.name)
    argv = [*_pip_install(pip), "--no-cache-dir", "-v", *_links(cell), f"{name}=={version}"]
    s, out = cell.step("install", argv)
    cell.require(s, f"pip install {name}=={version} failed")
    return out


def prove_pick(cell: CellRun, install_output: str) -> None:
    """The "pick" step: pip took exactly the expected file, from the cell's wheelhouse
    (nowhere else), with the expected sha256, and its metadata is the requested release.
    The step's detail also names the interpreter the wheel was installed for (the venv's,
    made from the env's own, whose pip made the choice)."""
    t0 = time.perf_counter()
    task = cell.task
    name, version, _, _ = parse_wheel_filename(task.wheel.name)
    path = _processed_wheel(install_output, name)
    picked = path.rsplit("/", 1)[-1] if path else None
    where = path.rsplit("/", 1)[0] if path and "/" in path else ""
    wheelhouse = cell.wheelhouse.replace("\\", "/").rstrip("/")
    if task.probe.os == "windows":  # case-insensitive paths
        where, wheelhouse = where.lower(), wheelhouse.lower()
    from_wheelhouse = where.rstrip("/") == wheelhouse
    local = task.wheel.parent / picked if picked else None
    actual_sha = sha256_file(local) if local is not None and local.is_file() else None
    meta = _wheel_metadata(local) if local is not None and actual_sha else {}
    ok = (
        picked == task.wheel.name
        and from_wheelhouse
        and actual_sha == task.sha256
        and canonicalize_name(meta.get("name", "")) == name
        and _same_version(meta.get("version", ""), version)
    )
    if picked != task.wheel.name:
        problem = f"pip installed {picked}, expected {task.wheel.name}"
    elif not from_wheelhouse:
        problem = f"pip took {path}, not the file in the cell's wheelhouse"
    else:
        problem = f"{picked}: sha256 or metadata differ from the inspected file"
    detail = {"path": path, "sha256": actual_sha, "metadata": meta}
    _record_pick(cell, ok=ok, problem=problem, picked=picked, detail=detail, started=t0)


def _record_pick(
    cell: CellRun,
    *,
    ok: bool,
    problem: str,
    picked: str | None,
    detail: Mapping[str, object],
    started: float,
) -> None:
    """The pick step (both ways of proving it), with the interpreter the wheel is for;
    stops the cell unless ``ok``."""
    task = cell.task
    cell.steps.append(
        Step(
            name="pick",
            status=RunStatus.PASSED if ok else RunStatus.FAILED,
            duration_s=time.perf_counter() - started,
            detail={
                "expected": task.wheel.name,
                "picked": picked,
                **detail,
                "interpreter": {
                    "venv": cell.python,
                    "base": task.probe.executable,
                    "version": task.probe.python_version,
                    "implementation": task.probe.implementation,
                },
            },
            output_tail="" if ok else problem,
        )
    )
    if not ok:
        raise CellStop(RunStatus.FAILED, problem)


# ---------------------------------------------------------------- on the host


def host_template(cell: CellRun) -> pipcache.VenvTemplate | None:
    """The env's venv template when this cell's venv and install can be done on the host
    (harness.verify.hostinstall): its directory is on this machine, the env's template
    exists, the cell needs no pip (no dependencies, no test-requires) and the project did
    not ask for pip (``install = "pip"``). None: in the env, with the env's pip."""
    if (
        cell.cfg.install != "host"
        or cell.session.host_workdir is None
        or cell.mounts.pip is None
        or cell.mounts.deps is not None
        or cell.cfg.test_requires
        or cell.task.probe.os == "windows"
    ):
        return None
    return pipcache.template(cell.mounts.pip.source)


def _host_step(cell: CellRun, name: str, t0: float, command: str, **detail: object) -> Step:
    s = Step(
        name=name,
        status=RunStatus.PASSED,
        duration_s=time.perf_counter() - t0,
        command=command,
        detail={"where": "host", **detail},
    )
    cell.steps.append(s)
    return s


def host_venv(cell: CellRun, template: pipcache.VenvTemplate) -> None:
    """Step "venv" on the host: a copy of the env's venv template in the cell's directory."""
    t0 = time.perf_counter()
    host = cell.session.host_workdir
    assert host is not None
    host.mkdir(mode=0o700, exist_ok=True)
    venv_in_env = f"{cell.session.workdir}/venv"
    try:
        rewritten = hostinstall.copy_venv(template, host / "venv", venv_in_env)
    except OSError as exc:
        raise CellStop(RunStatus.ERROR, f"copying the env's venv template failed: {exc}") from exc
    _host_step(
        cell, "venv", t0, f"harness: copy of the env's venv template -> {venv_in_env}",
        template=str(template.venv), rewritten=rewritten,
    )  # fmt: skip


def host_install(cell: CellRun, template: pipcache.VenvTemplate) -> hostinstall.Installed:
    """Step "install" on the host: pypa/installer unpacks the cell's wheel into its venv,
    reading exactly the bytes whose sha256 the cell expects."""
    t0 = time.perf_counter()
    host = cell.session.host_workdir
    assert host is not None
    venv_in_env = f"{cell.session.workdir}/venv"
    task = cell.task
    command = f"harness: pypa/installer {task.wheel.name} -> {venv_in_env}"
    try:
        done = hostinstall.install_wheel(
            task.wheel,
            sha256=task.sha256,
            template=template,
            venv=host / "venv",
            venv_in_env=venv_in_env,
            python_short=task.probe.python_short,
        )
        cell.session.adopt()
    except hostinstall.InstallError as exc:
        cell.steps.append(
            Step(
                name="install",
                status=RunStatus.FAILED,
                duration_s=time.perf_counter() - t0,
                command=command,
                output_tail=redact(str(exc)),
                detail={"where": "host"},
            )
        )
        raise CellStop(RunStatus.FAILED, redact(f"install failed: {exc}"[:400])) from exc
    except OSError as exc:
        raise CellStop(RunStatus.ERROR, f"installing on the host failed: {exc}") from exc
    _host_step(cell, "install", t0, command, sha256=done.sha256, files=done.files)
    return done


def _candidates(
    wheelhouse: Path, name: str, version: Version, tags: Sequence[str]
) -> list[coverage.WheelFile]:
    """The wheelhouse's wheels of ``name==version`` the env's tags support (what `pip
    install name==version --no-index --find-links` chooses among), each with its
    Requires-Python (read only for these: a release has dozens of wheels)."""
    found = []
    for path in sorted(wheelhouse.glob("*.whl")):
        try:
            wheel = coverage.parse_wheel(path.name)
        except HarnessError:
            continue  # pip ignores a file whose name is no wheel's
        if wheel.project == name and wheel.version == version:
            found.append(wheel)
    supported = {w.filename for w in found if coverage.pick([w], tags) is not None}
    return [
        coverage.parse_wheel(w.filename, coverage.read_requires_python(wheelhouse / w.filename))
        for w in found
        if w.filename in supported
    ]


def prove_pick_host(cell: CellRun, installed: hostinstall.Installed) -> None:
    """The "pick" step without running pip: the file pip would take from the cell's
    wheelhouse, by the env's own pip's tag list (probed in the env with pip's
    ``get_supported()``) and pip's candidate order (harness.coverage.pick), is the
    expected one; the install read exactly its bytes (sha256) and its metadata is the
    requested release. tests/integration/test_pick_replica.py holds it to the env's
    real pip."""
    t0 = time.perf_counter()
    task = cell.task
    name, version, _, _ = parse_wheel_filename(task.wheel.name)
    group = _candidates(task.wheel.parent, name, version, task.probe.tags)
    numeric = re.match(r"\d+(\.\d+)*", task.probe.python_version)
    ranked = coverage.pick(group, task.probe.tags, numeric.group(0) if numeric else None)
    picked = ranked.filename if ranked is not None else None
    meta = _wheel_metadata(task.wheel)
    ok = (
        picked == task.wheel.name
        and installed.sha256 == task.sha256
        and canonicalize_name(meta.get("name", "")) == name
        and _same_version(meta.get("version", ""), version)
    )
    if picked != task.wheel.name:
        problem = f"pip would install {picked}, expected {task.wheel.name}"
    else:
        problem = f"{picked}: sha256 or metadata differ from the inspected file"
    detail = {
        "path": f"{cell.wheelhouse}/{picked}" if picked else None,
        "sha256": installed.sha256,
        "metadata": meta,
        "chosen_by": {
            "pip": task.probe.pip_version,
            "tags": "the env's pip: get_supported(), probed in the env",
            "order": "pip's CandidateEvaluator (version, tag rank, build tag)",
            "candidates": [w.filename for w in group],  # the supported ones
        },
    }
    _record_pick(cell, ok=ok, problem=problem, picked=picked, detail=detail, started=t0)


def install_test_requires(cell: CellRun, pip: Sequence[str]) -> None:
    if not cell.cfg.test_requires:
        return
    argv = [*_pip_install(pip), *_links(cell), *cell.cfg.test_requires]
    s, _ = cell.step("install test-requires", argv)
    cell.require(s, "installing test-requires failed")


def emulate_cpu(cell: CellRun) -> None:
    """An env with ``cpu``: from here on the venv's python runs under that CPU model."""
    spec = cell.task.env.spec
    if not spec.cpu:
        return
    venv = f"{cell.session.workdir}/venv"
    argv = cpumodel.wrap_argv(spec, cell.python, cell.smoke, venv)
    s, _ = cell.step("cpu", argv, fail_as=RunStatus.ERROR)
    cell.require(s, f"running the venv as cpu {spec.cpu} failed")


def suite_argv(cell: CellRun, suite: str, token: str = "") -> list[str] | None:
    """The command of one smoke suite in the venv (None: nothing to run). ``token``: the
    completion token run.py must echo in its result line (harness suites only)."""
    cfg, py, smoke = cell.cfg, cell.python, cell.smoke
    name = parse_wheel_filename(cell.task.wheel.name)[0]
    if suite == "import":
        modules = list(cfg.import_modules) or _top_level_modules(cell.task.wheel)
        return [py, f"{smoke}/run.py", "import", "--token", token, *modules]
    if suite == "profiler":
        adapter = cfg.adapter_for(name) or "cprofile"
        return [py, f"{smoke}/run.py", "profiler", "--token", token, "--adapter", adapter]
    if not cfg.test_command:
        return None
    command = cfg.test_command.replace("{project}", cell.project)
    workdir = cell.session.workdir
    if cell.task.probe.os == "windows":  # host mode on a Windows runner
        return ["cmd", "/c", f"call {workdir}\\venv\\Scripts\\activate.bat && {command}"]
    return ["sh", "-c", f". {workdir}/venv/bin/activate && {command}"]


def run_suite(cell: CellRun, suite: str, argv: Sequence[str], token: str = "") -> None:
    """One smoke suite as step "smoke:SUITE", its checks in the step's detail. A harness
    suite passes only when its result line carries this run's completion token."""
    # in a container, the harness suites may write bytecode (into the cell's venv: every
    # mount is read-only); not the project's command, and not in host mode, where the
    # sources and the smoke scripts are this machine's own directories
    bytecode = cell.task.env.image is not None and suite in ("import", "profiler")
    s, out = cell.step(f"smoke:{suite}", argv, bytecode=bytecode)
    result = _parse_result(out)
    if result is not None:
        cell.steps[-1] = replace(s, detail={**s.detail, "checks": result.get("checks", [])})
    if s.status is RunStatus.FAILED:
        task = cell.task
        sigill = cpumodel.sigill_reason(
            task.env.spec, s.returncode, out, machine=task.probe.machine, wheel=task.wheel
        )
        if sigill is not None:
            step = cell.steps[-1]
            cell.steps[-1] = replace(step, detail={**step.detail, "sigill": sigill[1]})
            raise CellStop(RunStatus.FAILED, sigill[0])
    unfinished = _unfinished(s, result, token)
    if unfinished:
        cell.steps[-1] = replace(cell.steps[-1], status=RunStatus.FAILED)
        raise CellStop(RunStatus.FAILED, f"{suite} suite: {unfinished}")
    if s.status is RunStatus.PASSED:
        return
    checks = (result or {}).get("checks", [])
    failed = [c for c in (checks if isinstance(checks, list) else []) if not c.get("ok")]
    if failed:
        first = failed[0]
        reason = f"{suite} suite: {first['name']}: {first.get('error', '')}"
        raise CellStop(s.status, reason[:400])
    cell.require(s, f"{suite} suite failed")


def run_stages(cell: CellRun) -> None:
    """venv -> install -> pick -> test-requires -> [cpu] -> smoke suites; CellStop on the
    first failure. The venv, install and pick are done on the host when they can be
    (:func:`host_template`), else in the env with its own pip."""
    template = host_template(cell)
    if template is not None:
        host_venv(cell, template)
        prove_pick_host(cell, host_install(cell, template))
    else:
        pip = make_venv(cell)
        prove_pick(cell, install_wheel(cell, pip))
        install_test_requires(cell, pip)
    emulate_cpu(cell)
    name = parse_wheel_filename(cell.task.wheel.name)[0]
    for suite in cell.cfg.suites_for(name):
        # harness suites must report their completion; the project's command is judged by
        # its exit status alone
        token = secrets.token_hex(8) if suite in ("import", "profiler") else ""
        argv = suite_argv(cell, suite, token)
        if argv is not None:
            run_suite(cell, suite, argv, token)


def _unfinished(s: Step, result: dict[str, object] | None, token: str) -> str | None:
    """Why a suite that exited 0 did not finish: no result line with this run's token and
    "complete" (code under test called sys.exit(0)/os._exit(0) or printed a fake one)."""
    if not token or s.status is not RunStatus.PASSED:
        return None
    if result is None:
        return (
            f"exited with status {s.returncode} without reporting completion: the code under "
            "test ended the process early (sys.exit/os._exit?)"
        )
    if result.get("token") != token or result.get("complete") is not True:
        return "its result line does not carry this run's completion token (forged or stale)"
    return None


# ---------------------------------------------------------------- entry point


def _guarded(cell: CellRun) -> tuple[RunStatus, str]:
    """Run the stages; whatever stops them becomes (status, reason)."""
    try:
        run_stages(cell)
    except CellStop as stop:
        return stop.status, stop.reason
    except HarnessError as exc:
        return RunStatus.ERROR, f"environment error: {exc}"
    except Exception as exc:  # noqa: BLE001 - one broken cell must not stop the others
        return RunStatus.ERROR, f"harness error: {type(exc).__name__}: {exc}"
    return RunStatus.PASSED, ""


def _container_step(seconds: float, detail: dict[str, object]) -> Step:
    """Step "container": starting the container this cell ran in (the env's first cell
    pays it for the env's shared container; a cell retried alone pays its own)."""
    return Step(name="container", status=RunStatus.PASSED, duration_s=seconds, detail=detail)


def _alone(
    task: Task,
    cfg: config_mod.Config,
    mounts: CellMounts,
    steps: list[Step],
    limits: Limits | None = None,
) -> None:
    """The stages in a session of the cell's own (CellStop or HarnessError end them)."""
    t0 = time.perf_counter()
    with task.env.session(mounts.all(), limits=limits) as session:
        if task.env.image is not None:
            steps.append(_container_step(time.perf_counter() - t0, {"shared_by": 1}))
        cell = CellRun(task=task, cfg=cfg, session=session, mounts=mounts, steps=steps)
        status, reason = _guarded(cell)
    if status is not RunStatus.PASSED:
        raise CellStop(status, reason)


def _timed_out(steps: Sequence[Step]) -> bool:
    return any(s.detail.get("timed_out") for s in steps)


def _in_shared(
    task: Task, cfg: config_mod.Config, mounts: CellMounts, steps: list[Step], shared: EnvContainers
) -> str | None:
    """The stages in the env's shared container (or alone when the env has none to
    share). Returns what the container went through if the cell did not pass and a
    neighbour may be the cause (then the caller runs it again alone); else None, or
    CellStop / HarnessError as :func:`_alone`."""
    t0 = time.perf_counter()
    with shared.cell(task.env, mounts.all()) as leased:
        if leased is None:
            _alone(task, cfg, mounts, steps, shared.base)
            return None
        if leased.started_s is not None:
            limits = leased.container.limits
            detail = {"shared_by": leased.cells, "memory": limits.memory, "pids": limits.pids}
            if leased.prestarted:
                detail["prestarted"] = True
            steps.append(_container_step(leased.started_s, detail))
        cell = CellRun(task=task, cfg=cfg, session=leased.session, mounts=mounts, steps=steps)
        status, reason = _guarded(cell)
        if status is RunStatus.PASSED:
            return None
        incident = None if _timed_out(steps) else leased.session.incident()
        if incident is None:
            raise CellStop(status, reason)
        steps.append(
            Step(
                name="shared container",
                status=status,
                duration_s=time.perf_counter() - t0,
                output_tail=redact(reason),
                detail={"incident": incident, "retried": "alone, in a container of its own"},
            )
        )
        return incident


def prestart_mounts(task: Task, cfg: config_mod.Config) -> list[Mount] | None:
    """The mounts ``task``'s cell will have, when they can be known without running
    anything (the env's compiled pip is built already, the wheel needs no dependencies):
    for :meth:`EnvContainers.prestart`. None: the cell starts its container itself."""
    if cfg.test_requires or deps_mod.runtime_requirements(task.wheel):
        return None
    root = pipcache.cache_root(task.env, task.probe, SMOKE_DIR)
    if not (root / pipcache.READY).is_file():
        return None  # the first cell builds it, and its report has the "pip cache" step
    return CellMounts.of(task, root, None).all()


def run_one(task: Task, cfg: config_mod.Config, shared: EnvContainers | None = None) -> Run:
    """Everything for one (env, wheel) cell. Never raises: problems become the Run's status.

    With ``shared``, the cell runs in its env's shared container; a cell that did not pass
    while that container hit its memory or pid limit (or died) runs once more alone, its
    first attempt kept as the step "shared container" with the steps before it."""
    t0 = time.perf_counter()
    steps: list[Step] = []
    status, reason = RunStatus.PASSED, ""
    try:
        pip_cache, built = pipcache.ensure(
            task.env,
            task.probe,
            smoke_dir=SMOKE_DIR,
            smoke_target=SMOKE,
            timeout=float(cfg.timeout_s),
        )
        if built is not None:
            steps.append(built)
        try:
            deps_dir, filled = deps_mod.ensure(
                task.env,
                task.probe,
                wheel=task.wheel,
                sha256=task.sha256,
                cfg=cfg,
                pip_cache=pip_cache,
                redact=redact,
            )
        except deps_mod.DepsError as exc:
            if exc.step is not None:
                steps.append(exc.step)
            raise CellStop(RunStatus.ERROR, exc.reason) from exc
        if filled is not None:
            steps.append(filled)
        mounts = CellMounts.of(task, pip_cache, deps_dir)
        if shared is None:
            _alone(task, cfg, mounts, steps)
        else:
            k = len(steps)
            if _in_shared(task, cfg, mounts, steps, shared) is not None:
                attempt = steps[k:]
                del steps[k:]
                record = attempt[-1]
                earlier = [s.to_json() for s in attempt[:-1]]
                steps.append(replace(record, detail={**record.detail, "steps": earlier}))
                _alone(task, cfg, mounts, steps, shared.base)
    except CellStop as stop:
        status, reason = stop.status, stop.reason
    except HarnessError as exc:
        status, reason = RunStatus.ERROR, f"environment error: {exc}"
    except Exception as exc:  # noqa: BLE001 - one broken cell must not stop the others
        status, reason = RunStatus.ERROR, f"harness error: {type(exc).__name__}: {exc}"
    return Run(
        env=task.env.spec.name,
        python=task.probe.python_version,
        platform=task.probe.platform,
        wheel_filename=task.wheel.name,
        wheel_sha256=task.sha256,
        status=status,
        duration_s=time.perf_counter() - t0,
        steps=tuple(steps),
        reason=redact(reason),
    )
