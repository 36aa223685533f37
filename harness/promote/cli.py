"""`harness promote REPORT_DIR --to TARGET... [--dry-run]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from harness import console
from harness.errors import HarnessError, InputError, UsageError, WheelsFailed
from harness.promote.destination import Destination
from harness.promote.engine import (
    Action,
    Engine,
    Outcome,
    Promotion,
    Refusal,
    Step,
    items_from_gate,
)
from harness.promote.engine import refusals as find_refusals
from harness.promote.gate import (
    MAX_REPORT_BYTES,
    REPORT_FILENAME,
    InvalidReport,
    evaluate,
    load_report,
)
from harness.promote.journal import JOURNAL_FILENAME, Journal, RunOutcome, locked
from harness.promote.policy import Policy
from harness.promote.policy import build as build_policy
from harness.promote.seal import seal
from harness.promote.snapshot import Snapshot
from harness.promote.targets import Target, TargetKind, parse_target
from harness.redact import Redactor

HELP = "publish exactly the files a report passed, to PyPI and/or an S3 mirror"
DESCRIPTION = """\
Publish the wheels that `harness verify` passed, and nothing else.

The gate: report.json must be valid, its verdict pass, and every file must have today the
sha256 the report recorded (no error finding, no failed run, at least one run). Each file
is read once into a private copy, re-inspected (an error finding today refuses it,
whatever the report says), and that copy is what is uploaded. With HARNESS_REPORT_KEY set,
the report must carry verify's signature (report.json.sig, HMAC-SHA256 with that key).
Anything else is refused with the reason per file, exit 1, nothing uploaded. Each
destination is asked first what it already has: same name and sha256 is skipped, same
name with other content is an error.
An interrupted promotion is completed by running the same command again; REPORT_DIR/
promote-journal.json records what went where.

Per target, --exclude/--include TARGET=SELECTOR (or [tool.harness.promote] exclude/include
in pyproject.toml) decide which files go there; --dry-run shows each file's reason.
SELECTOR: free-threaded, prerelease-python, prerelease, abi3, pure, python:SPEC,
platform:GLOB, abi:GLOB, or a file-name GLOB.

TARGET: pypi | testpypi | an upload URL (any PyPI-compatible index) | s3://bucket/prefix
Credentials: TWINE_USERNAME/TWINE_PASSWORD (TWINE_PASSWORD alone: an API token) for
PyPI targets; the usual AWS variables, profile or role for S3. Never printed.

examples:
  harness promote report/ --to pypi --dry-run
  harness promote report/ --dist dist/ --to pypi s3://my-wheels/simple-mirror
  harness promote report/ --to s3://wheels --endpoint-url http://127.0.0.1:9000
  harness promote report/ --to pypi s3://wheels/mirror --exclude pypi=free-threaded \
      --exclude pypi=prerelease-python --dry-run
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report_dir", metavar="REPORT_DIR", help="the report of harness verify")
    parser.add_argument(
        "--to",
        metavar="TARGET",
        nargs="+",
        action="extend",
        required=True,
        help="pypi, testpypi, an upload URL, or s3://bucket/prefix (repeatable)",
    )
    parser.add_argument(
        "--dist",
        metavar="DIR",
        help="where the wheels are (default: the paths recorded in the report); every wheel "
        "in DIR must be in the report",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan, upload and write nothing"
    )
    parser.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint")
    parser.add_argument(
        "--simple-url",
        metavar="URL",
        help="where a repository URL target lists its files (default: <upload URL>simple/)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        metavar="N",
        help="retries per file after a 5xx or a dropped connection (default 3)",
    )
    parser.add_argument(
        "--exclude",
        metavar="TARGET=SELECTOR",
        action="append",
        default=[],
        help="keep matching files away from TARGET (repeatable). SELECTOR: free-threaded, "
        "prerelease-python, abi3, pure, python:SPEC (python:>=3.15), platform:GLOB, "
        "abi:GLOB, or a file-name GLOB; e.g. pypi=free-threaded mirrors free-threaded wheels "
        "to S3 but not PyPI",
    )
    parser.add_argument(
        "--include",
        metavar="TARGET=SELECTOR",
        action="append",
        default=[],
        help="send TARGET only the files matching one of its --include selectors "
        "(repeatable; --exclude wins)",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="pyproject.toml whose [tool.harness.promote] include/exclude = {TARGET = "
        "[SELECTOR...]} add to the options (default: ./pyproject.toml when its [project] "
        "name is the report's distribution, or it names none)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


# --------------------------------------------------------------------------- output


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


class _Output:
    def __init__(
        self, *, fmt: str, redact: Redactor, total: int = 0, policy: Policy | None = None
    ) -> None:
        self.policy = policy or Policy()
        self.fmt = fmt
        self.redact = redact
        self.total = total
        self.done = 0

    def err(self, line: str) -> None:
        # soft_wrap: long file names and paths stay on one line (greppable in CI logs)
        console.line(self.redact(line))

    def out(self, line: str) -> None:
        if self.fmt == "text":
            console.line(self.redact(line), stdout=True)

    def progress(self, step: Step) -> None:
        self.done += 1
        what = {
            Outcome.UPLOADED: "uploaded",
            Outcome.PRESENT: "present ",
            Outcome.FAILED: "FAILED  ",
        }.get(step.outcome, str(step.outcome))
        tail = (
            f"{_size(step.item.size)} in {step.duration_s:.2f} s"
            if step.outcome is Outcome.UPLOADED
            else "same sha256, not sent again"
            if step.outcome is Outcome.PRESENT
            else (step.error or "")
        )
        width = len(str(self.total))
        self.err(
            f"[{self.done:>{width}}/{self.total}] {step.target.label}: {what} "
            f"{step.item.filename} ({tail})"
        )

    def refused(self, problems: Sequence[str], refusals: Sequence[Refusal]) -> None:
        self.out("REFUSED: nothing was uploaded")
        for p in problems:
            self.out(f"  report: {p}")
        for r in refusals:
            self.out(f"  {r.filename}:")
            for why in r.reasons:
                self.out(f"    - {why}")

    def table(self, promotion: Promotion, *, dry_run: bool) -> None:
        """Per target: which files go (and, in a dry run, why the others do not)."""
        targets: dict[str, list[Step]] = {}
        for step in promotion.steps:
            targets.setdefault(step.target.label, []).append(step)
        for label, steps in targets.items():
            going = sum(1 for st in steps if st.action is not Action.EXCLUDED)
            rules = self.policy.describe(label)
            self.out(f"{label}: {going} of {len(steps)} file(s)" + (f" ({rules})" if rules else ""))
            rows = []
            for st in steps:
                result = str(st.action) if dry_run else str(st.outcome)
                if st.action is Action.EXCLUDED:
                    why = st.reason
                elif st.action is Action.SKIP:
                    why = "already there, same sha256"
                elif st.outcome is Outcome.UPLOADED:
                    why = f"{st.duration_s:.2f} s"
                else:
                    why = st.reason
                rows.append((result, st.item.filename, _size(st.item.size), why))
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            for r in rows:
                cells = [c.ljust(w) for c, w in zip(r[:3], widths, strict=True)]
                self.out(("  " + "  ".join([*cells, r[3]])).rstrip())
        if promotion.indexes:
            self.out(f"index pages written: {len(promotion.indexes)}")
            for target, key in promotion.indexes:
                self.out(f"  {target}: {key}")


def _json_doc(
    *,
    report_dir: Path,
    report_sha256: str | None,
    dry_run: bool,
    outcome: str,
    problems: Sequence[str] = (),
    refusals: Sequence[Refusal] = (),
    promotion: Promotion | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    steps = promotion.steps if promotion else []
    return {
        "schema": "harness-promote/1",
        "report": str(report_dir / REPORT_FILENAME),
        "report_sha256": report_sha256,
        "journal": None if dry_run else str(report_dir / JOURNAL_FILENAME),
        "dry_run": dry_run,
        "outcome": outcome,
        "error": error,
        "problems": list(problems),
        "refused": [{"filename": r.filename, "reasons": list(r.reasons)} for r in refusals],
        "files": [
            {
                "target": s.target.label,
                "filename": s.item.filename,
                "sha256": s.item.sha256,
                "size": s.item.size,
                "action": str(s.action),
                "result": str(s.outcome),
                "location": s.location,
                "attempts": s.attempts,
                "duration_s": round(s.duration_s, 3),
                "error": s.error,
                "reason": s.reason,
            }
            for s in steps
        ],
        "indexes": [{"target": t, "key": k} for t, k in (promotion.indexes if promotion else [])],
    }


# --------------------------------------------------------------------------- run


def _targets(args: argparse.Namespace) -> list[Target]:
    targets = [parse_target(spec, endpoint_url=args.endpoint_url) for spec in args.to]
    labels = [t.label for t in targets]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise UsageError(f"--to: {', '.join(dupes)} given twice")
    if args.endpoint_url and not any(t.kind is TargetKind.S3 for t in targets):
        raise UsageError("--endpoint-url is only for s3:// targets")
    if args.simple_url:
        repos = [t for t in targets if t.kind is TargetKind.PYPI]
        if len(repos) != 1:
            raise UsageError("--simple-url needs exactly one PyPI-compatible target")
        parsed = parse_target(args.simple_url)
        if parsed.kind is not TargetKind.PYPI:
            raise UsageError(f"--simple-url {args.simple_url}: not an http(s) URL")
        simple = args.simple_url if args.simple_url.endswith("/") else args.simple_url + "/"
        targets = [replace(t, simple_url=simple) if t is repos[0] else t for t in targets]
    return targets


POLICY_KEYS = ("include", "exclude")


def config_policy(path: Path) -> dict[str, dict[str, list[str]]]:
    """[tool.harness.promote] include/exclude = {"pypi" = ["free-threaded"], ...} of a
    pyproject.toml: ``{"include": {...}, "exclude": {...}}`` (selectors checked later)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    table = doc.get("tool", {}).get("harness", {}).get("promote", {})
    where = f"{path}: [tool.harness.promote]"
    if not isinstance(table, dict):
        raise InputError(f"{where}: expected a table")
    unknown = sorted(set(table) - set(POLICY_KEYS))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(POLICY_KEYS)})"
        )
    out: dict[str, dict[str, list[str]]] = {}
    for key in POLICY_KEYS:
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(selectors, list) and all(isinstance(x, str) and x for x in selectors)
            for selectors in value.values()
        ):
            raise InputError(f"{where} {key}: expected {{TARGET = [SELECTOR, ...]}}")
        if value:
            out[key] = {str(label): list(selectors) for label, selectors in value.items()}
    return out


def _config_file(args: argparse.Namespace, report_dir: Path) -> tuple[Path | None, str | None]:
    """The pyproject.toml whose policy applies, and a note when ./pyproject.toml does not:
    the rule of every command (docs/reference.md, "whose pyproject.toml")."""
    from harness.config import project_name

    if args.config is not None:
        path = Path(args.config)
        if not path.is_file():
            raise UsageError(f"--config {path}: no such file")
        return path, None
    path = Path("pyproject.toml")
    if not path.is_file():
        return None, None
    name = project_name(path)
    if name is None:
        return path, None
    try:
        with (report_dir / REPORT_FILENAME).open("rb") as fh:
            raw = fh.read(MAX_PEEK + 1)
        doc = json.loads(raw) if len(raw) <= MAX_PEEK else {}
        wheels = doc["inspect"]["wheels"]
        names = {canonicalize_name(parse_wheel_filename(w["filename"])[0]) for w in wheels}
    except (OSError, ValueError, KeyError, TypeError, InvalidWheelFilename, RecursionError):
        names = set()  # the gate reports what is wrong with the report
    if name in names:
        return path, None
    if not config_policy(path):
        return None, None  # nothing it would have said: no note
    return None, (
        f"{path}: [tool.harness.promote] not used (project {name!r}, promoting "
        f"{', '.join(sorted(names)) or 'another'}); pass --config to apply it"
    )


MAX_PEEK = MAX_REPORT_BYTES


def _policy(args: argparse.Namespace, targets: Sequence[Target], config: Path | None) -> Policy:
    configured = config_policy(config) if config is not None else {}
    labels = [t.label for t in targets]
    return build_policy(
        labels,
        cli_include=args.include,
        cli_exclude=args.exclude,
        configured=configured,
        config_source=str(config) if config is not None else "pyproject.toml",
    )


def _destinations(
    targets: Sequence[Target], *, redact: Redactor, dry_run: bool
) -> list[Destination]:
    from harness.promote.pypi import PypiIndex, credentials_from_env

    dests: list[Destination] = []
    for t in targets:
        match t.kind:
            case TargetKind.PYPI:
                dests.append(
                    PypiIndex(
                        t,
                        credentials=credentials_from_env(os.environ),
                        redact=redact,
                        need_upload=not dry_run,
                    )
                )
            case TargetKind.S3:
                from harness.promote.s3 import S3Mirror

                dests.append(S3Mirror(t, redact=redact))
    return dests


@contextlib.contextmanager
def _redacting(redact: Redactor) -> Iterator[None]:
    """No HarnessError leaves this command with a secret in its message."""
    try:
        yield
    except HarnessError as exc:
        exc.args = (redact(str(exc)),)
        raise


class _Refused(Exception):
    """A destination will refuse files (found while planning): already reported and
    journaled; carries the error to raise."""

    def __init__(self, error: WheelsFailed) -> None:
        super().__init__(str(error))
        self.error = error


def run(args: argparse.Namespace) -> int:
    redact = Redactor.from_env(os.environ)
    with _redacting(redact):
        return _run(args, redact)


def _run(args: argparse.Namespace, redact: Redactor) -> int:
    report_dir = Path(args.report_dir)
    if not report_dir.is_dir():
        raise UsageError(f"{report_dir}: not a directory")
    if not (report_dir / REPORT_FILENAME).is_file():
        raise UsageError(
            f"{report_dir / REPORT_FILENAME}: no such file (write it with harness verify "
            "--report-dir)"
        )
    dist = Path(args.dist) if args.dist else None
    if dist is not None and not dist.is_dir():
        raise UsageError(f"--dist {dist}: not a directory")
    if args.retries < 0 or args.retries > 20:
        raise UsageError("--retries: expected 0..20")
    targets = _targets(args)
    config, note = _config_file(args, report_dir)
    policy = _policy(args, targets, config)
    out = _Output(fmt=args.format, redact=redact, policy=policy)
    if note:
        out.err(note)
    for key, table in (config_policy(config) if config else {}).items():
        for label in sorted(set(table) - {t.label for t in targets}):
            out.err(f"{config}: [tool.harness.promote] {key} for {label!r}: not a --to target")
    lock = contextlib.nullcontext() if args.dry_run else locked(report_dir)
    # every file is read once, into a private copy that is re-inspected, hashed and sent
    with lock, Snapshot() as snapshot:
        journal = None if args.dry_run else Journal.load(report_dir)
        labels = tuple(t.label for t in targets)

        def refuse(
            problems: Sequence[str],
            refusals: Sequence[Refusal],
            sha: str | None,
            *,
            started: bool = False,
        ) -> WheelsFailed:
            if journal is not None:
                if not started:
                    journal.start_run(report_sha256=sha or "", targets=labels)
                why = "; ".join([*problems, *(f"{r.filename}: {r.reasons[0]}" for r in refusals)])
                journal.finish_run(RunOutcome.REFUSED, redact(why) or None)
            if args.format == "json":
                doc = _json_doc(
                    report_dir=report_dir,
                    report_sha256=sha,
                    dry_run=args.dry_run,
                    outcome="refused",
                    problems=problems,
                    refusals=refusals,
                )
                console.write_stdout(redact(json.dumps(doc, indent=2)) + "\n")
            else:
                out.refused(problems, refusals)
            n = len(refusals)
            what = f"{n} file(s) refused" if n else "; ".join(problems)
            first = f" ({refusals[0].filename}: {refusals[0].reasons[0]})" if refusals else ""
            return WheelsFailed(f"promotion refused, nothing uploaded: {what}{first}")

        try:
            report = load_report(report_dir)
        except InvalidReport as exc:
            raise refuse([f"{exc.source}: {p}" for p in exc.problems], [], None) from None
        gate = seal(evaluate(report, dist=dist, snapshot=snapshot))
        refusals = find_refusals(gate, targets, policy)
        if gate.problems or refusals:
            raise refuse(list(gate.problems), refusals, report.sha256)

        items = items_from_gate(gate)
        out.total = len(items) * len(targets)
        dests = _destinations(targets, redact=redact, dry_run=args.dry_run)
        engine = Engine(
            destinations=dests,
            journal=journal,
            redact=redact,
            retries=args.retries,
            progress=out.progress,
            policy=policy,
        )
        promotion: Promotion | None = None

        def plan() -> Promotion:
            planned = engine.plan(items)
            if planned.refusals:
                raise _Refused(refuse([], planned.refusals, report.sha256, started=True))
            return planned

        if journal is not None:
            last = journal.runs[-1] if journal.runs else None
            if last is not None and last.outcome in (
                RunOutcome.FAILED,
                RunOutcome.INTERRUPTED,
                RunOutcome.RUNNING,
            ):
                out.err(
                    f"resuming the promotion of {last.started} ({last.outcome}); "
                    "asking each destination what it already has"
                )
            journal.start_run(report_sha256=report.sha256, targets=labels)
        try:
            promotion = plan()
            out.total = sum(1 for s in promotion.steps if s.action is not Action.EXCLUDED)
            if args.dry_run:
                _finish(
                    out,
                    args,
                    report_dir=report_dir,
                    report_sha256=report.sha256,
                    promotion=promotion,
                    outcome="planned",
                )
                return 0
            engine.execute(promotion)
        except _Refused as refused:
            raise refused.error from None
        except KeyboardInterrupt:
            if journal is not None:
                journal.finish_run(RunOutcome.INTERRUPTED, "interrupted")
            raise
        except HarnessError as exc:
            exc.args = (redact(str(exc)),)
            if journal is not None:
                outcome = RunOutcome.REFUSED if isinstance(exc, WheelsFailed) else RunOutcome.FAILED
                journal.finish_run(outcome, str(exc))
            if promotion is not None:
                for s in promotion.steps:
                    if s.outcome is Outcome.PLANNED:
                        s.outcome = Outcome.PENDING
            _finish(
                out,
                args,
                report_dir=report_dir,
                report_sha256=report.sha256,
                promotion=promotion,
                outcome="failed",
                error=str(exc),
            )
            raise
        finally:
            for d in dests:
                d.close()
        if journal is not None:
            journal.finish_run(RunOutcome.COMPLETE)
        _finish(
            out,
            args,
            report_dir=report_dir,
            report_sha256=report.sha256,
            promotion=promotion,
            outcome="complete",
        )
        return 0


def _finish(
    out: _Output,
    args: argparse.Namespace,
    *,
    report_dir: Path,
    report_sha256: str,
    promotion: Promotion | None,
    outcome: str,
    error: str | None = None,
) -> None:
    if args.format == "json":
        doc = _json_doc(
            report_dir=report_dir,
            report_sha256=report_sha256,
            dry_run=args.dry_run,
            outcome=outcome,
            promotion=promotion,
            error=error,
        )
        console.write_stdout(out.redact(json.dumps(doc, indent=2)) + "\n")
        return
    if promotion is not None:
        out.table(promotion, dry_run=args.dry_run)
    if outcome == "planned":
        out.out("dry run: nothing uploaded, nothing written")
    elif outcome == "complete":
        sent = sum(1 for s in promotion.steps if s.outcome is Outcome.UPLOADED) if promotion else 0
        kept = sum(1 for s in promotion.steps if s.outcome is Outcome.PRESENT) if promotion else 0
        out.out(
            f"promoted: {sent} uploaded, {kept} already present; "
            f"journal: {report_dir / JOURNAL_FILENAME}"
        )
