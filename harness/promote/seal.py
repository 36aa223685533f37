"""What promote does not take on the report's word: signature, run coverage, re-inspection.

A report.json is a file anyone with write access to the artifact can edit (runs and
findings removed, ``verdict`` set to pass). Promote therefore
- checks the report's HMAC signature when ``HARNESS_REPORT_KEY`` is set (verify writes
  ``report.json.sig`` with the same key; a missing or wrong signature refuses everything);
- requires at least one run per wheel (a passed one, or the static-only record of a wheel
  no environment could run): a wheel whose runs were removed is refused;
- re-inspects every file it is about to send (its private copy): an error finding today
  refuses the file whatever the report says.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from harness.promote.gate import GateFile, GateResult, Report
from harness.report.model import RunStatus
from harness.report.signature import KEY_ENV, SIG_SUFFIX, verify_signature


def signature_problems(report: Report, env: Mapping[str, str] | None = None) -> list[str]:
    """Report-level problems with the signature (none when no key is configured)."""
    key = (env if env is not None else os.environ).get(KEY_ENV, "")
    if not key:
        return []
    sig_path = report.source.with_name(report.source.name + SIG_SUFFIX)
    try:
        raw = report.source.read_bytes()
        sig = sig_path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return [f"{sig_path}: missing; {KEY_ENV} is set, so only a signed report is promoted"]
    except OSError as exc:
        return [f"{sig_path}: cannot read: {exc.strerror or exc}"]
    if hashlib.sha256(raw).hexdigest() != report.sha256:
        return [f"{report.source}: changed since it was read"]
    if not verify_signature(raw, sig, key):
        return [
            f"{report.source}: the signature in {sig_path.name} does not match (edited after "
            f"verify, or signed with another {KEY_ENV})"
        ]
    return []


def coverage_reasons(report: Report, filename: str) -> list[str]:
    """A wheel needs a run: a passed one, or the static-only record (skipped)."""
    runs = report.runs_of(filename)
    if not runs:
        return ["the report has no run of it (never installed, not even recorded static-only)"]
    if not any(r.status in (RunStatus.PASSED, RunStatus.SKIPPED) for r in runs):
        return ["no run of it passed"]
    return []


Inspector = Callable[[Path], list[tuple[str, str | None, str]]]


def _inspect_errors(path: Path) -> list[tuple[str, str | None, str]]:
    from harness.findings import Severity
    from harness.inspect import inspect_wheel

    wr = inspect_wheel(path)
    return [(f.code, f.path, f.message) for f in wr.findings if f.severity is Severity.ERROR]


def seal(gate: GateResult, *, inspector: Inspector = _inspect_errors) -> GateResult:
    """The gate's result with the coverage rule and today's inspection of each file added."""
    files: list[GateFile] = []
    for f in gate.files:
        reasons = list(f.reasons)
        if not reasons and f.recorded_sha256 is not None:
            reasons += coverage_reasons(gate.report, f.filename)
        source = f.source
        if not reasons and source is not None:
            for code, where, message in inspector(source):
                at = f" in {where}" if where else ""
                reasons.append(f"re-inspected at promote: error finding {code}{at}: {message}")
        files.append(replace(f, reasons=tuple(reasons)) if reasons != list(f.reasons) else f)
    problems = list(gate.problems) + signature_problems(gate.report)
    return replace(gate, files=tuple(files), problems=tuple(problems))
