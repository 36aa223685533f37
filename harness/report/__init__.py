"""Renderers of one Report value: report.json, junit.xml, summary.md, report.html.

``write_report`` writes them all into a directory, each atomically (a reader sees the
previous file or the new one, never a partial one), and appends summary.md to
``$GITHUB_STEP_SUMMARY`` when that is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness import console
from harness.errors import InfraError, UsageError
from harness.fsutil import atomic_write_text
from harness.redact import scrub
from harness.report import html, junit, markdown, signature
from harness.report.model import Report, Run, RunStatus, Step, Verdict

__all__ = [
    "REPORT_FILES",
    "Report",
    "Run",
    "RunStatus",
    "Step",
    "Verdict",
    "render_json",
    "write_report",
]

# key in write_report's result -> file name in the report directory
REPORT_FILES = {
    "json": "report.json",
    "junit": "junit.xml",
    "markdown": "summary.md",
    "html": "report.html",
}


def render_json(report: Report) -> str:
    return json.dumps(scrub(report.to_json()), indent=2) + "\n"


def write_report(report: Report, directory: Path) -> dict[str, Path]:
    """Write the four renderings into ``directory`` (created with its parents if missing).

    Returns ``{"json": .../report.json, "junit": .../junit.xml, "markdown": .../summary.md,
    "html": .../report.html}``. report.json is written last, so a directory whose
    report.json is new has every other file of the same report.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"report directory {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise UsageError(f"report directory {directory}: not a directory")

    # The one boundary: every string of the report (smoke output, check errors, reasons,
    # commands) is redacted here, whichever renderer draws it.
    report = scrub(report)
    summary = markdown.render(report)
    texts = {
        "junit": junit.render(report),
        "markdown": summary,
        "html": html.render(report),
        "json": render_json(report),
    }
    paths: dict[str, Path] = {}
    for key, body in texts.items():
        path = directory / REPORT_FILES[key]
        try:
            atomic_write_text(path, body)
        except OSError as exc:
            raise InfraError(f"cannot write {path}: {exc.strerror or exc}") from None
        paths[key] = path
    _sign(directory / REPORT_FILES["json"], texts["json"].encode("utf-8"))
    _append_step_summary(summary)
    return {key: paths[key] for key in REPORT_FILES}


def _sign(path: Path, data: bytes) -> None:
    """report.json.sig when $HARNESS_REPORT_KEY is set (promote then checks it)."""
    sig_path = path.with_name(path.name + signature.SIG_SUFFIX)
    key = os.environ.get(signature.KEY_ENV, "")
    try:
        if key:
            atomic_write_text(sig_path, signature.sign(data, key) + "\n")
        elif sig_path.exists():
            sig_path.unlink()  # a stale signature of an older report
    except OSError as exc:
        raise InfraError(f"cannot write {sig_path}: {exc.strerror or exc}") from None


def _append_step_summary(summary: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY", "")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(summary if summary.endswith("\n") else summary + "\n")
    except OSError as exc:
        # The report itself is written; a CI page that cannot take the summary is not a
        # reason to fail the gate, but it is said.
        console.warn(
            f"cannot append the summary to $GITHUB_STEP_SUMMARY ({target}): {exc.strerror or exc}"
        )
