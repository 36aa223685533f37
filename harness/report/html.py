"""report.html: one self-contained page (inline CSS and JS, no external URL of any kind).

Header with the verdict, harness version, creation time and counts; the env x wheel grid
(rows wheels, columns envs), each cell a ``td.cell`` with ``data-env``, ``data-wheel`` and
``data-status`` (passed|failed|error|skipped|n/a) that links to the run's expandable
details (steps with status, duration, command, output tail); the inspect findings per
wheel. Every string from the report is HTML-escaped; a Content-Security-Policy allows
only the page's own style and script (by hash), so even an escaping slip could not run
injected script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import escape
from importlib import resources

from harness.report import text
from harness.report.model import Report, Run, RunStatus, Step, Verdict

NA = "n/a"
TAIL_LINES = 400
TAIL_CHARS = 64_000


def _asset(name: str) -> str:
    return resources.files("harness.report").joinpath(name).read_text(encoding="utf-8")


_BREAK_AFTER = re.compile(r"([-_.+])")


def _e(value: object) -> str:
    return escape(text.clean(str(value)), quote=True)


def _name(value: str) -> str:
    """An escaped file/env name with break opportunities after - _ . + (escaping first:
    entities contain none of those characters)."""
    return _BREAK_AFTER.sub(r"\1<wbr>", _e(value))


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _pill(status: str, label: str | None = None) -> str:
    return f'<span class="pill" data-status="{_e(status)}">{_e(label or status)}</span>'


def _run_ids(report: Report) -> dict[int, str]:
    """id(run) -> the element id of its details (the first, should one Run object repeat)."""
    ids: dict[int, str] = {}
    for i, run in enumerate(report.runs, 1):
        ids.setdefault(id(run), f"run-{i}")
    return ids


def _header(report: Report) -> str:
    verdict = report.verdict
    counts = report.counts()
    # a run not executed here is "untested" in every word users read (status value: skipped)
    items = [
        f'<li data-status="{s}"><b>{counts[str(s)]}</b> '
        f"{'untested' if s is RunStatus.SKIPPED else s}</li>"
        for s in RunStatus
    ]
    items.append(
        f'<li data-status="inspect"><b>{report.inspect_errors}</b> inspect error finding(s)</li>'
    )
    if report.untested:
        items.append(
            f'<li data-status="untested"><b>{len(report.untested)}</b> untested wheel(s)</li>'
        )
    cls = "verdict-pass" if verdict is Verdict.PASS else "verdict-fail"
    ran_note = ""
    if report.coverage:
        ran, total = report.ran()
        ran_note = (
            f'<span class="ran" data-ran="{ran}" data-of="{total}">'
            f"{ran} of {total} wheels ran</span>"
        )
    return (
        f'<header class="{cls}" data-verdict="{verdict}">'
        f'<h1>wheel-harness verify<span class="verdict">{str(verdict).upper()}</span>'
        f"{ran_note}</h1>"
        f'<p class="meta"><span>harness {_e(report.harness_version)}</span>'
        f"<span>created {_e(report.created)}</span>"
        f"<span>{len(report.runs)} run(s)</span></p>"
        f'<ul class="counts">{"".join(items)}</ul></header>'
    )


def _legend() -> str:
    entries = [(str(s), str(s)) for s in RunStatus] + [(NA, "not applicable")]
    return (
        '<div class="legend">'
        + "".join(
            f'<span><span class="swatch" data-status="{s}"></span>{_e(label)}</span>'
            for s, label in entries
        )
        + "<span>click a cell for its steps and output</span></div>"
    )


def _grid(report: Report, ids: dict[int, str], inspect_ids: dict[str, str]) -> str:
    grid = text.grid(report)
    if not grid.wheels or not grid.envs:
        return '<p class="muted">No runs.</p>'
    info = text.env_info(report)
    head = ['<th class="corner">wheel \\ environment</th>']
    for env in grid.envs:
        sub = " \u00b7 ".join(
            x
            for x in (
                f"Python {info[env]['python']}" if info[env]["python"] else "",
                info[env]["platform"],
            )
            if x
        )
        gap = (
            '<span class="env-gap" title="no wheel of the release installs here">'
            "gap: no wheel for this env</span>"
            if info[env].get("gap")
            else ""
        )
        head.append(
            f'<th scope="col" data-env="{_e(env)}"><span class="env-name">{_name(env)}</span>'
            f'<span class="env-sub">{_name(sub)}</span>{gap}</th>'
        )
    errors = {
        str(w.get("filename", "")): len(text.error_findings(w)) for w in text.inspect_wheels(report)
    }
    rows = []
    for wheel in grid.wheels:
        cells = []
        problem = errors.get(wheel, 0) > 0 or wheel in report.untested
        for env in grid.envs:
            runs = grid.runs(wheel, env)
            status = grid.status(wheel, env)
            attrs = f'class="cell" data-env="{_e(env)}" data-wheel="{_e(wheel)}"'
            if status is None:
                cells.append(f'<td {attrs} data-status="{NA}" title="not applicable"></td>')
                continue
            problem = problem or status in (RunStatus.FAILED, RunStatus.ERROR)
            run = next(r for r in runs if r.status is status)
            rid = ids[id(run)]
            title = f"{status}: {run.reason}" if run.reason else str(status)
            more = f" (+{len(runs) - 1})" if len(runs) > 1 else ""
            cells.append(
                f'<td {attrs} data-status="{status}" data-run="{rid}"'
                f' title="{_e(text.one_line(title))}"><a href="#{rid}">{status}{more}'
                f"<small>{_e(text.duration(run.duration_s))}</small></a></td>"
            )
        badge = ""
        n = errors.get(wheel, 0)
        if n:
            badge = f'<a class="badge" href="#{inspect_ids[wheel]}">{n} inspect error(s)</a>'
        if wheel in report.untested:
            badge += '<span class="badge">untested</span>'
        rows.append(
            f'<tr data-wheel="{_e(wheel)}" data-problem="{"yes" if problem else "no"}">'
            f'<th scope="row" class="wheel">{_name(wheel)}{badge}</th>{"".join(cells)}</tr>'
        )
    return (
        '<p class="tools"><label><input type="checkbox" id="only-problems"> '
        "show only wheels with problems</label></p>"
        '<div class="grid-wrap"><table class="grid"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _step_row(step: Step) -> str:
    rc = "" if step.returncode is None else str(step.returncode)
    command = f"<code>{_e(step.command)}</code>" if step.command else '<span class="muted">-</span>'
    return (
        f"<tr><td><code>{_e(step.name)}</code></td><td>{_pill(str(step.status))}</td>"
        f'<td class="num">{_e(text.duration(step.duration_s))}</td><td class="num">{_e(rc)}</td>'
        f"<td>{command}</td></tr>"
    )


def _run(run: Run, rid: str) -> str:
    failing = text.failing_step(run) if run.status in (RunStatus.FAILED, RunStatus.ERROR) else None
    reason = (
        f' <span class="reason">\u2014 {_e(text.one_line(run.reason))}</span>' if run.reason else ""
    )
    parts = [
        f'<details class="run box" id="{rid}" data-env="{_e(run.env)}"'
        f' data-wheel="{_e(run.wheel_filename)}" data-status="{run.status}">',
        f"<summary>{_pill(str(run.status))} <code>{_e(run.wheel_filename)}</code>"
        f" on <b>{_e(run.env)}</b>"
        f' <span class="muted">({_e(text.duration(run.duration_s))})</span>{reason}</summary>',
        '<div class="body">',
        f'<p class="muted">Python {_e(run.python or "?")} \u00b7 {_e(run.platform or "?")} \u00b7 '
        f"sha256 <code>{_e(run.wheel_sha256)}</code> \u00b7 "
        '<a href="#grid">back to the grid</a></p>',
    ]
    if run.steps:
        parts.append(
            '<table class="steps"><thead><tr><th>step</th><th>status</th><th>duration</th>'
            "<th>exit</th><th>command</th></tr></thead><tbody>"
            + "".join(_step_row(s) for s in run.steps)
            + "</tbody></table>"
        )
    else:
        parts.append('<p class="muted">No steps ran.</p>')
    for step in run.steps:
        if not step.output_tail.strip():
            continue
        opened = " open" if step is failing else ""
        tail = text.tail(step.output_tail, max_lines=TAIL_LINES, max_chars=TAIL_CHARS)
        parts.append(
            f'<details class="output"{opened}><summary>output of <code>{_e(step.name)}</code> '
            f"({_e(step.status)})</summary><pre>{_e(tail)}</pre></details>"
        )
    parts.append("</div></details>")
    return "".join(parts)


def _finding_row(finding: dict[str, object]) -> str:
    severity = str(finding.get("severity", ""))
    path = finding.get("path") or ""
    return (
        f"<tr><td>{_pill('failed' if severity == 'error' else severity, severity)}</td>"
        f"<td><code>{_e(finding.get('code', ''))}</code></td>"
        f"<td><code>{_e(path)}</code></td>"
        f"<td>{_e(text.one_line(str(finding.get('message', '')), 4000))}</td></tr>"
    )


def _inspect(report: Report, inspect_ids: dict[str, str]) -> str:
    wheels = text.inspect_wheels(report)
    if not wheels:
        return '<p class="muted">No inspect results in this report.</p>'
    out = []
    order = {"error": 0, "warning": 1}
    for wheel in wheels:
        name = str(wheel.get("filename", ""))
        raw = wheel.get("findings", [])
        findings = [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
        findings.sort(key=lambda f: order.get(str(f.get("severity")), 2))
        n_err = len(text.error_findings(wheel))
        state = _pill("failed", f"{n_err} error(s)") if n_err else _pill("passed", "no errors")
        out.append(
            f'<section class="wheel-findings" id="{inspect_ids[name]}" data-wheel="{_e(name)}"'
            f' data-errors="{n_err}">'
            f"<h3>{_name(name)} {state}</h3>"
            f'<p class="muted">sha256 <code>{_e(wheel.get("sha256", ""))}</code></p>'
        )
        if findings:
            out.append(
                '<table class="findings"><thead><tr><th>severity</th><th>code</th><th>path</th>'
                "<th>message</th></tr></thead><tbody>"
                + "".join(_finding_row(f) for f in findings)
                + "</tbody></table>"
            )
        else:
            out.append('<p class="muted">No findings.</p>')
        out.append("</section>")
    return "".join(out)


def render(report: Report) -> str:
    ids = _run_ids(report)
    inspect_ids = {
        str(w.get("filename", "")): f"inspect-{i}"
        for i, w in enumerate(text.inspect_wheels(report), 1)
    }
    verdict = str(report.verdict).upper()
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    rank = {"error": 0, "failed": 1, "skipped": 2, "passed": 3}
    runs = sorted(
        ((f"run-{i}", r) for i, r in enumerate(report.runs, 1)),
        key=lambda p: (rank[str(p[1].status)], p[1].wheel_filename, p[1].env),
    )
    untested = ""
    required = set(report.uncovered)
    if report.untested:
        reasons = {r.wheel_filename: r.reason for r in report.runs if r.status is RunStatus.SKIPPED}
        untested = (
            '<h2 id="untested">Untested wheels</h2>'
            '<p class="muted">No environment here ran them; they were inspected statically.</p>'
            "<ul>"
            + "".join(
                f"<li><code>{_e(w)}</code>"
                + (f": {_e(reasons[w])}" if reasons.get(w) else "")
                + (" <b>(required: fails the verdict)</b>" if w in required else "")
                + "</li>"
                for w in report.untested
            )
            + "</ul>"
        )
    config = _e(json.dumps(report.config, indent=2, sort_keys=True, default=str))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>wheel-harness report: {verdict}</title>"
        f"<style>{css}</style></head>\n<body>"
        + _header(report)
        + '<main><h2 id="grid">Environments \u00d7 wheels</h2>'
        + _legend()
        + _grid(report, ids, inspect_ids)
        + untested
        + f'<h2 id="runs">Runs ({len(report.runs)})</h2>'
        + ("".join(_run(r, rid) for rid, r in runs) or '<p class="muted">No runs.</p>')
        + '<h2 id="inspect">Inspect findings</h2>'
        + _inspect(report, inspect_ids)
        + '<h2 id="config">Configuration</h2>'
        + '<details class="box"><summary>config</summary>'
        + f'<div class="body"><pre>{config}</pre></div></details>'
        + f"</main>\n<script>{js}</script>\n</body></html>\n"
    )
