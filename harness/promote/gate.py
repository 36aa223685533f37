"""The promotion gate: a typed reader of report.json and the per-file decision.

``load_report`` is the one reader of the ``harness-report/1`` contract (DESIGN.md): it
validates the whole document and reports every problem it finds, each naming the file and
the JSON path. ``evaluate`` decides, per wheel, whether it may go out: it is in the report's
inspect block with no error finding, none of its runs failed or errored, the report's
verdict is pass, and the file on disk still has the sha256 the report recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, assert_never

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from harness.errors import InputError
from harness.findings import Severity
from harness.fsutil import sha256_file
from harness.promote.snapshot import NotTaken, Snapshot, hash_regular
from harness.report.model import RunStatus, Verdict

REPORT_SCHEMA = "harness-report/1"
INSPECT_SCHEMA = "harness-inspect/1"
REPORT_FILENAME = "report.json"
MAX_REPORT_BYTES = 64 * 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, kw_only=True)
class ReportFinding:
    code: str
    severity: Severity
    message: str
    path: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReportWheel:
    filename: str
    sha256: str
    tags: tuple[str, ...]
    path: str | None
    findings: tuple[ReportFinding, ...]

    @property
    def error_findings(self) -> tuple[ReportFinding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)


@dataclass(frozen=True, kw_only=True)
class ReportRun:
    env: str
    python: str
    wheel_filename: str
    wheel_sha256: str
    status: RunStatus
    duration_s: float
    steps: tuple[Mapping[str, Any], ...] = ()
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Report:
    source: Path
    sha256: str  # of the report.json bytes: the journal pins which report it promoted
    harness_version: str
    created: datetime
    config: Mapping[str, Any]
    wheels: tuple[ReportWheel, ...]
    runs: tuple[ReportRun, ...]
    verdict: Verdict
    plan: Mapping[str, Any] | None = None  # harness-plan/1 + "job" (shard/merged reports)

    def runs_of(self, filename: str) -> tuple[ReportRun, ...]:
        return tuple(r for r in self.runs if r.wheel_filename == filename)


class InvalidReport(InputError):
    """report.json is missing, unreadable or does not follow harness-report/1."""

    def __init__(self, source: Path, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{source}: {first}{more}")


# --------------------------------------------------------------------------- loading


class _Reader:
    """Collects every schema problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def obj(self, value: object, where: str) -> Mapping[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.bad(where, f"expected an object, got {_kind(value)}")
        return None

    def lst(self, value: object, where: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.bad(where, f"expected a list, got {_kind(value)}")
        return []

    def text(self, parent: Mapping[str, Any], key: str, where: str) -> str:
        value = parent.get(key)
        if isinstance(value, str) and value:
            return value
        self.bad(f"{where}.{key}", f"expected a non-empty string, got {_kind(value)}")
        return ""

    def opt_text(self, parent: Mapping[str, Any], key: str, where: str) -> str | None:
        value = parent.get(key)
        if value is None or isinstance(value, str):
            return value
        self.bad(f"{where}.{key}", f"expected a string or null, got {_kind(value)}")
        return None

    def sha(self, parent: Mapping[str, Any], key: str, where: str) -> str:
        value = parent.get(key)
        if isinstance(value, str) and _SHA256.match(value):
            return value
        self.bad(f"{where}.{key}", "expected 64 lowercase hex digits (sha256)")
        return ""

    def filename(self, parent: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(parent, key, where)
        if not value:
            return ""
        if "/" in value or "\\" in value or value in (".", ".."):
            self.bad(f"{where}.{key}", f"{value!r} is not a bare file name")
            return ""
        try:
            parse_wheel_filename(value)
        except InvalidWheelFilename as exc:
            self.bad(f"{where}.{key}", f"{value!r} is not a valid wheel file name ({exc})")
            return ""
        return value

    def enum(self, cls: type[_E], parent: Mapping[str, Any], key: str, where: str) -> _E:
        value = parent.get(key)
        allowed = [m.value for m in cls]
        if isinstance(value, str) and value in allowed:
            return cls(value)
        self.bad(f"{where}.{key}", f"expected one of {'|'.join(allowed)}, got {value!r}")
        return next(iter(cls))


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return type(value).__name__


sha256_of = sha256_file


def load_report(path: Path) -> Report:
    """Read and validate REPORT_DIR/report.json (or a report.json path itself).

    Raises InvalidReport listing every problem (file and JSON path in each message).
    """
    source = path / REPORT_FILENAME if path.is_dir() else path
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise InvalidReport(source, ["no such file"]) from None
    except OSError as exc:
        raise InvalidReport(source, [f"cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_REPORT_BYTES:
        raise InvalidReport(source, [f"larger than {MAX_REPORT_BYTES} bytes"])
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidReport(source, [f"not valid JSON ({exc})"]) from None
    except RecursionError:
        raise InvalidReport(source, ["nested too deeply to be a report"]) from None
    r = _Reader()
    top = r.obj(doc, "$")
    if top is None:
        raise InvalidReport(source, r.problems)
    if top.get("schema") != REPORT_SCHEMA:
        r.bad("schema", f"expected {REPORT_SCHEMA!r}, got {top.get('schema')!r}")
        raise InvalidReport(source, r.problems)  # other shapes: nothing else is meaningful

    harness = r.obj(top.get("harness"), "harness") or {}
    version = r.text(harness, "version", "harness") if harness else ""
    created = _created(r, top.get("created"))
    config = r.obj(top.get("config"), "config") or {}
    verdict = r.enum(Verdict, top, "verdict", "$")
    wheels = tuple(_wheels(r, top.get("inspect")))
    runs = tuple(_runs(r, top.get("runs")))

    seen: set[str] = set()
    for i, w in enumerate(wheels):
        if w.filename and w.filename in seen:
            r.bad(f"inspect.wheels[{i}].filename", f"{w.filename} is listed twice")
        seen.add(w.filename)
    for i, run in enumerate(runs):
        if run.wheel_filename and run.wheel_filename not in seen:
            r.bad(f"runs[{i}].wheel.filename", f"{run.wheel_filename} is not in inspect.wheels")
    if r.problems:
        raise InvalidReport(source, r.problems)
    return Report(
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        harness_version=version,
        created=created,
        config=config,
        wheels=wheels,
        runs=runs,
        verdict=verdict,
        plan=top.get("plan") if isinstance(top.get("plan"), dict) else None,
    )


def _created(r: _Reader, value: object) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    r.bad("created", f"expected an ISO 8601 timestamp, got {value!r}")
    return datetime.min


def _wheels(r: _Reader, value: object) -> Iterator[ReportWheel]:
    inspect = r.obj(value, "inspect")
    if inspect is None:
        return
    if inspect.get("schema") != INSPECT_SCHEMA:
        r.bad("inspect.schema", f"expected {INSPECT_SCHEMA!r}, got {inspect.get('schema')!r}")
    for i, item in enumerate(r.lst(inspect.get("wheels"), "inspect.wheels")):
        where = f"inspect.wheels[{i}]"
        w = r.obj(item, where)
        if w is None:
            continue
        tags = r.lst(w.get("tags"), f"{where}.tags")
        if not all(isinstance(t, str) for t in tags):
            r.bad(f"{where}.tags", "expected a list of strings")
        findings = []
        for j, f_item in enumerate(r.lst(w.get("findings"), f"{where}.findings")):
            fwhere = f"{where}.findings[{j}]"
            f = r.obj(f_item, fwhere)
            if f is None:
                continue
            evidence = f.get("evidence", {})
            if not isinstance(evidence, dict):
                r.bad(f"{fwhere}.evidence", f"expected an object, got {_kind(evidence)}")
                evidence = {}
            findings.append(
                ReportFinding(
                    code=r.text(f, "code", fwhere),
                    severity=r.enum(Severity, f, "severity", fwhere),
                    message=r.opt_text(f, "message", fwhere) or "",
                    path=r.opt_text(f, "path", fwhere),
                    evidence=evidence,
                )
            )
        yield ReportWheel(
            filename=r.filename(w, "filename", where),
            sha256=r.sha(w, "sha256", where),
            tags=tuple(str(t) for t in tags),
            path=r.opt_text(w, "path", where),
            findings=tuple(findings),
        )


def _runs(r: _Reader, value: object) -> Iterator[ReportRun]:
    for i, item in enumerate(r.lst(value, "runs")):
        where = f"runs[{i}]"
        run = r.obj(item, where)
        if run is None:
            continue
        wheel = r.obj(run.get("wheel"), f"{where}.wheel") or {}
        duration = run.get("duration_s")
        if not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0:
            r.bad(f"{where}.duration_s", f"expected a non-negative number, got {duration!r}")
            duration = 0.0
        steps = r.lst(run.get("steps", []), f"{where}.steps")
        if not all(isinstance(s, dict) for s in steps):
            r.bad(f"{where}.steps", "expected a list of objects")
            steps = []
        yield ReportRun(
            env=r.text(run, "env", where),
            python=r.opt_text(run, "python", where) or "",  # "" for static and untested runs
            wheel_filename=r.filename(wheel, "filename", f"{where}.wheel") if wheel else "",
            wheel_sha256=r.sha(wheel, "sha256", f"{where}.wheel") if wheel else "",
            status=r.enum(RunStatus, run, "status", where),
            duration_s=float(duration),
            steps=tuple(steps),
            reason=r.opt_text(run, "reason", where),
        )


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True, kw_only=True)
class GateFile:
    """One file the promotion would send, and why it may not (empty reasons: it may)."""

    filename: str
    recorded_sha256: str | None  # None: the file is not in the report at all
    path: Path | None
    current_sha256: str | None
    size: int | None
    reasons: tuple[str, ...]
    copy: Path | None = None  # the private copy read once at the gate: what goes out

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def source(self) -> Path | None:
        """What later steps read: the private copy when there is one."""
        return self.copy or self.path


@dataclass(frozen=True, kw_only=True)
class GateResult:
    report: Report
    files: tuple[GateFile, ...]
    problems: tuple[str, ...]  # report-level: verdict fail, no wheels

    @property
    def ok(self) -> bool:
        return not self.problems and all(f.ok for f in self.files)


def evaluate(
    report: Report, *, dist: Path | None = None, snapshot: Snapshot | None = None
) -> GateResult:
    """Decide, per file, whether it may be promoted. Reads and hashes every file once
    (regular files only; into ``snapshot``'s private copies when given)."""
    problems: list[str] = []
    match report.verdict:
        case Verdict.PASS:
            pass
        case Verdict.FAIL:
            problems.append("the report's verdict is fail")
        case _ as unreachable:
            assert_never(unreachable)
    if not report.wheels:
        problems.append("the report lists no wheels")
    problems.extend(plan_coverage_problems(report))

    files = [_judge(report, w, dist, snapshot) for w in report.wheels]
    if dist is not None:
        known = {w.filename for w in report.wheels}
        for extra in sorted(p for p in dist.glob("*.whl") if p.name not in known):
            digest, size = _hash(extra)  # never blocks: a FIFO or device is not read
            files.append(
                GateFile(
                    filename=extra.name,
                    recorded_sha256=None,
                    path=extra,
                    current_sha256=digest,
                    size=size,
                    reasons=(f"{extra} is not in the report (never verified)",),
                )
            )
    return GateResult(report=report, files=tuple(files), problems=tuple(problems))


def _hash(path: Path) -> tuple[str | None, int | None]:
    try:
        return hash_regular(path)
    except NotTaken:
        return None, None


def _judge(
    report: Report, wheel: ReportWheel, dist: Path | None, snapshot: Snapshot | None
) -> GateFile:
    reasons: list[str] = []
    for f in wheel.error_findings:
        where = f" in {f.path}" if f.path else ""
        reasons.append(f"error finding {f.code}{where}: {f.message}")
    for run in report.runs_of(wheel.filename):
        label = f"{run.env}/{run.python}"
        match run.status:
            case RunStatus.FAILED | RunStatus.ERROR:
                why = f": {run.reason}" if run.reason else ""
                reasons.append(f"run {label} {run.status}{why}")
            case RunStatus.PASSED | RunStatus.SKIPPED:
                pass
            case _ as unreachable:
                assert_never(unreachable)
        if run.wheel_sha256 != wheel.sha256:
            reasons.append(
                f"run {label} tested sha256 {run.wheel_sha256[:12]}…, "
                f"inspected {wheel.sha256[:12]}…"
            )

    path: Path | None
    if dist is not None:
        path = dist / wheel.filename
    elif wheel.path:
        path = Path(wheel.path)
    else:
        path = None
    current: str | None = None
    size: int | None = None
    copy: Path | None = None
    if path is None:
        reasons.append("the report records no path for it and no --dist was given")
    elif not os.path.lexists(path):
        reasons.append(f"{path} does not exist")
    else:
        try:
            taken = snapshot.take(path) if snapshot is not None else None
            current, size = (taken.sha256, taken.size) if taken else hash_regular(path)
            copy = taken.copy if taken else None
        except NotTaken as exc:
            reasons.append(str(exc))
        if current is None:
            pass
        elif current != wheel.sha256:
            reasons.append(
                f"{path} has sha256 {current}, the report recorded {wheel.sha256} "
                "(changed after verification)"
            )
    return GateFile(
        filename=wheel.filename,
        recorded_sha256=wheel.sha256,
        path=path,
        current_sha256=current,
        size=size,
        reasons=tuple(reasons),
        copy=copy,
    )


def plan_coverage_problems(report: Report) -> list[str]:
    """A report that ran a plan (a shard, or a merge of shards) may promote only when its
    runs cover every cell of the plan with a pass and its wheels are the plan's wheels.
    A report without a plan (one machine, unsharded) covers what it ran."""
    if report.plan is None:
        return []
    from harness.ci.plan import from_json
    from harness.errors import HarnessError

    try:
        plan = from_json(report.plan, f"{report.source}: plan")
    except HarnessError as exc:
        return [str(exc)]
    problems: list[str] = []
    if report.plan.get("job") is not None:
        problems.append(
            f"this is the report of plan job {report.plan.get('job')!r} alone: "
            "promote the merged report (`harness merge`)"
        )
    if {(w.filename, w.sha256) for w in report.wheels} != set(plan.wheels):
        problems.append(f"the report's wheels (names, sha256) are not those of plan {plan.id[:12]}")
    passed = {(r.env, r.wheel_filename) for r in report.runs if r.status is RunStatus.PASSED}
    missing = [c for c in plan.cells if c.key not in passed]
    if missing:
        named = ", ".join(f"{c.env} x {c.wheel}" for c in missing[:3])
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        problems.append(
            f"{len(missing)} cell(s) of plan {plan.id[:12]} have no passing run: {named}{more}"
        )
    return problems
