"""summary.md: the verdict, counts, the env x wheel table, failures with output tails, and
inspect error findings. Also what `$GITHUB_STEP_SUMMARY` gets, so it stays compact: GitHub
refuses a step summary over 1 MiB, so tails are short and the whole text has a budget."""

from __future__ import annotations

import re

from harness.report import text
from harness.report.model import Report, Run, RunStatus, Verdict

ICONS = {
    RunStatus.PASSED: "\u2705",  # white heavy check mark
    RunStatus.FAILED: "\u274c",  # cross mark
    RunStatus.ERROR: "\U0001f4a5",  # collision
    RunStatus.SKIPPED: "\u23ed",  # next track
}
TAIL_LINES = 25
TAIL_CHARS = 2_500
# Detailed failures (with tails) stop at DETAIL_BUDGET; the remaining ones get one line each
# until LIST_BUDGET; and the whole text is cut (at a line) at MAX_BYTES, below GitHub's
# 1 MiB step-summary limit, whatever the inspect part adds.
DETAIL_BUDGET = 128 * 1024
LIST_BUDGET = 512 * 1024
MAX_BYTES = 900 * 1024

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def esc(value: str) -> str:
    """Inline Markdown text that renders literally (no markup, no HTML, no table breaks)."""
    return _SPECIAL.sub(r"\\\1", text.one_line(value, 500))


def fenced(body: str) -> str:
    """A fenced code block whose fence no backtick run inside ``body`` can close."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def _icon(status: RunStatus | None) -> str:
    return "" if status is None else ICONS[status]


def _run_title(run: Run) -> str:
    return (
        f"{ICONS[run.status]} **{esc(run.wheel_filename)}** on **{esc(run.env)}** "
        f"({LABELS[run.status]})"
    )


def _failure_detail(run: Run) -> str:
    step = text.failing_step(run)
    lines = [f"#### {_run_title(run)}", ""]
    if run.reason:
        lines.append(f"Reason: {esc(run.reason)}")
    if step is not None:
        rc = "" if step.returncode is None else f", exit code {step.returncode}"
        lines.append(
            f"Step `{esc(step.name)}` {step.status}{rc} after {text.duration(step.duration_s)}"
        )
        if step.output_tail.strip():
            lines += [
                "",
                fenced(text.tail(step.output_tail, max_lines=TAIL_LINES, max_chars=TAIL_CHARS)),
            ]
    return "\n".join(lines) + "\n"


def _failure_line(run: Run) -> str:
    reason = f": {esc(run.reason)}" if run.reason else ""
    return f"- {_run_title(run)}{reason}\n"


# What the summary calls each status: a wheel no env ran is "untested" (one word everywhere;
# JSON keeps the status value "skipped").
LABELS = {
    RunStatus.PASSED: "passed",
    RunStatus.FAILED: "failed",
    RunStatus.ERROR: "error",
    RunStatus.SKIPPED: "untested",
}


def _counts_line(report: Report) -> str:
    counts = report.counts()
    parts = [f"{ICONS[s]} {counts[str(s)]} {LABELS[s]}" for s in RunStatus]
    parts.append(f"{report.inspect_errors} inspect error finding(s)")
    if report.untested and len(report.untested) != counts[str(RunStatus.SKIPPED)]:
        parts.append(f"{len(report.untested)} untested wheel(s)")
    return " \u00b7 ".join(parts)


def _inspect_status(report: Report) -> dict[str, RunStatus]:
    """wheel -> FAILED when inspect reported an error finding, else PASSED."""
    return {
        str(w.get("filename", "")): RunStatus.FAILED if text.error_findings(w) else RunStatus.PASSED
        for w in text.inspect_wheels(report)
    }


def _table(report: Report) -> list[str]:
    grid = text.grid(report)
    if not grid.wheels or not grid.envs:
        return ["_No runs._", ""]
    inspected = _inspect_status(report)
    # the pseudo-env of runs no env executed ("static" in report.json) is shown by its word
    names = ["untested" if e == "static" else esc(e) for e in grid.envs]
    head = "| wheel | inspect | " + " | ".join(names) + " |"
    rule = "|---|:-:|" + "|".join(":-:" for _ in grid.envs) + "|"
    rows = [head, rule]
    for wheel in grid.wheels:
        cells = " | ".join(_icon(grid.status(wheel, env)) for env in grid.envs)
        rows.append(f"| {esc(wheel)} | {_icon(inspected.get(wheel))} | {cells} |")
    legend = (
        " \u00b7 ".join(f"{ICONS[s]} {LABELS[s]}" for s in RunStatus)
        + " \u00b7 blank: not applicable"
    )
    return [*rows, "", legend, ""]


def _untested(report: Report) -> list[str]:
    """Every untested wheel with its reason (and whether it failed inspection)."""
    reasons = {r.wheel_filename: r.reason for r in report.runs if r.status is RunStatus.SKIPPED}
    inspected = _inspect_status(report)
    out = ["**Untested** (no environment here ran them; inspected statically):", ""]
    for w in report.untested:
        mark = (
            f"{ICONS[RunStatus.FAILED]} failed inspection; "
            if inspected.get(w) is RunStatus.FAILED
            else ""
        )
        why = reasons.get(w) or "no environment of this matrix installs this wheel"
        required = " **(required: fails the verdict)**" if w in report.uncovered else ""
        out.append(f"- {esc(w)}: {mark}{esc(why)}{required}")
    return [*out, ""]


def _inspect(report: Report) -> list[str]:
    out: list[str] = []
    for wheel in text.inspect_wheels(report):
        errors = text.error_findings(wheel)
        if not errors:
            continue
        out.append(f"#### {esc(str(wheel.get('filename', '')))}")
        out.append("")
        for f in errors:
            path = f" `{esc(str(f['path']))}`" if f.get("path") else ""
            out.append(
                f"- **{esc(str(f.get('code', '')))}**{path}: {esc(str(f.get('message', '')))}"
            )
        out.append("")
    return out


def render(report: Report) -> str:
    verdict = report.verdict
    mark = "\u2705 PASS" if verdict is Verdict.PASS else "\u274c FAIL"
    if report.coverage:
        ran, total = report.ran()
        mark += f" ({ran} of {total} wheels ran)"
    parts: list[str] = [
        f"## wheel-harness verify: {mark}",
        "",
        _counts_line(report),
        "",
        f"harness {esc(report.harness_version)} \u00b7 {esc(report.created)}",
        "",
        *_table(report),
    ]
    gaps = [str(e.get("name")) for e in report.envs if "picked" in e and e.get("picked") is None]
    if gaps:
        parts += [
            "**Gaps**: no wheel of the release installs in " + ", ".join(esc(g) for g in gaps),
            "",
        ]
    if report.untested:
        parts += _untested(report)
    head = "\n".join(parts) + "\n"

    bad = [r for r in report.runs if r.status in (RunStatus.FAILED, RunStatus.ERROR)]
    bad.sort(key=lambda r: (r.status is not RunStatus.FAILED, r.wheel_filename, r.env))
    body = ""
    if bad:
        body += f"### Failures ({len(bad)})\n\n"
        listed = 0
        size = len(head.encode()) + len(body.encode())
        for run in bad:
            piece = _failure_detail(run) + "\n" if size < DETAIL_BUDGET else _failure_line(run)
            piece_size = len(piece.encode())
            if size + piece_size > LIST_BUDGET:
                break
            body += piece
            size += piece_size
            listed += 1
        if listed < len(bad):
            body += f"\n_... {len(bad) - listed} more failure(s) not shown: see report.html._\n"
        body += "\n"
    inspect = _inspect(report)
    if inspect:
        body += "### Inspect error findings\n\n" + "\n".join(inspect) + "\n"
    return _clamp(head + body)


def _clamp(markdown: str) -> str:
    """At most MAX_BYTES of UTF-8, cut at a line, with a note; fences closed."""
    data = markdown.encode()
    if len(data) <= MAX_BYTES:
        return markdown
    cut = data[: MAX_BYTES - 200].decode("utf-8", "ignore")
    cut = cut[: cut.rfind("\n") + 1]
    fences = re.findall(r"^(`{3,})", cut, flags=re.MULTILINE)
    if len(fences) % 2:
        cut += fences[-1] + "\n"
    return cut + "\n_... summary truncated to stay under GitHub's 1 MiB limit: see report.html._\n"
