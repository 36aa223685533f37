"""The sweep's own report: summary.md (and $GITHUB_STEP_SUMMARY) and report.html, both
leading with the diff, then one line per release linking to its full verify report.
Every string from wheels, envs, servers and smoke runs is escaped (Markdown and HTML)."""

from __future__ import annotations

from html import escape

from harness.report import text
from harness.report.html import _asset, _csp_hash
from harness.report.markdown import MAX_BYTES, esc
from harness.sweep.diff import CellChange, SweepDiff
from harness.sweep.history import Cell, Sweep

LIST_LIMIT = 200  # cells listed per section; the rest are counted


def _cell_name(c: Cell) -> str:
    return f"{c.project} {c.version} · {c.env} · {c.wheel}"


def _release_lines(sweep: Sweep) -> list[tuple[str, str, str]]:
    """(project, version, one-line status) per release."""
    out = []
    for project, version in sweep.releases:
        cells = [c for c in sweep.cells if (c.project, c.version) == (project, version)]
        ran = [c for c in cells if c.status != "skipped"]
        bad = [c for c in cells if c.bad]
        state = "FAIL" if bad else "pass"
        out.append(
            (project, version,
             f"{state}: {len(ran) - len(bad)} of {len(ran)} cell(s) passed, "
             f"{len(cells) - len(ran)} untested")
        )  # fmt: skip
    return out


# ---------------------------------------------------------------- markdown


def _md_change(c: CellChange, *, cause: bool) -> str:
    line = f"- **{esc(_cell_name(c.cell))}**: {esc(c.cell.status)} (was {esc(c.was)})"
    if c.cell.reason:
        line += f" — {esc(c.cell.reason)}"
    if cause:
        if c.wheel_changed:
            line += "\n  - the file changed on the index (other sha256 than last sweep)"
        if c.env_changes:
            line += f"\n  - env **{esc(c.cell.env)}** changed: " + "; ".join(
                esc(x) for x in c.env_changes
            )
        elif c.was == "passed" and not c.wheel_changed:
            line += "\n  - nothing recorded changed in the env or the file"
    return line


def _md_section(title: str, items: list[str], empty: str | None = None) -> list[str]:
    if not items and empty is None:
        return []
    out = [f"### {title}", ""]
    shown = items[:LIST_LIMIT]
    out += shown or [empty or ""]
    if len(items) > LIST_LIMIT:
        out.append(f"- ... and {len(items) - LIST_LIMIT} more (see sweep.json)")
    return [*out, ""]


def render_markdown(sweep: Sweep, diff: SweepDiff, report_dirs: dict[str, str]) -> str:
    n = len(diff.new_failures)
    verdict = f"{n} NEW FAILURE(S)" if n else "no new failure"
    first = all(v is None for v in diff.baselines.values())
    lines = [
        f"## Nightly sweep: {verdict}",
        "",
        f"{len(sweep.releases)} release(s) of {esc(', '.join(sweep.projects))} on matrix "
        f"`{esc(sweep.matrix)}` ({len(sweep.envs)} env(s)), sweep {esc(sweep.id)}; "
        + ("first sweep (no history to compare with)." if first else "compared with the "
           "previous sweep of each project."),
        "",
    ]  # fmt: skip
    lines += _md_section(
        "New failures",
        [_md_change(c, cause=True) for c in diff.new_failures],
        "- none",
    )
    lines += _md_section("Fixed", [_md_change(c, cause=False) for c in diff.fixed])
    lines += _md_section(
        "Changed environments",
        [f"- **{esc(k)}**: " + "; ".join(esc(x) for x in v) for k, v in diff.changed_envs.items()],
    )
    lines += _md_section("New releases", [f"- {esc(p)} {esc(v)}" for p, v in diff.new_releases])
    lines += _md_section(
        "Releases no longer swept", [f"- {esc(p)} {esc(v)}" for p, v in diff.gone_releases]
    )
    lines += _md_section("New environments", [f"- {esc(e)}" for e in diff.new_envs])
    lines += _md_section("Environments gone", [f"- {esc(e)}" for e in diff.gone_envs])
    lines += _md_section(
        "Newly untested wheels",
        [f"- {esc(_cell_name(c))}: {esc(c.reason)}" for c in diff.newly_untested],
    )
    lines += _md_section(
        "Unchanged failures", [_md_change(c, cause=False) for c in diff.unchanged_failures]
    )
    lines += ["### Releases", "", "| release | result | report |", "|---|---|---|"]
    for project, version, status in _release_lines(sweep):
        where = report_dirs.get(f"{project}=={version}", "")
        lines.append(f"| {esc(project)} {esc(version)} | {esc(status)} | {esc(where)} |")
    lines += ["", "### Environments", "", "| env | python | libc | os |", "|---|---|---|---|"]
    for name, ident in sorted(sweep.envs.items()):
        lines.append(
            f"| {esc(name)} | {esc(str(ident.get('python', '')))} | "
            f"{esc(str(ident.get('libc', '')))} | {esc(str(ident.get('os', '')))} |"
        )
    body = "\n".join(lines) + "\n"
    if len(body.encode()) > MAX_BYTES:
        cut = body.encode()[: MAX_BYTES - 200].decode("utf-8", "ignore")
        body = cut[: cut.rfind("\n") + 1] + "\n_... truncated: see report.html._\n"
    return body


# ---------------------------------------------------------------- html


def _e(value: object) -> str:
    return escape(text.clean(str(value)), quote=True)


_CSS_EXTRA = """
.diff li { margin: .3em 0; } .cause { color: #8a4b00; font-size: .9em; }
section.diff { margin-bottom: 1.5em; }
"""


def _html_change(c: CellChange, *, cause: bool) -> str:
    out = (
        f'<li data-status="{_e(c.cell.status)}" data-env="{_e(c.cell.env)}" '
        f'data-wheel="{_e(c.cell.wheel)}"><b>{_e(_cell_name(c.cell))}</b>: '
        f'<span class="pill" data-status="{_e(c.cell.status)}">{_e(c.cell.status)}</span> '
        f"(was {_e(c.was)})"
    )
    if c.cell.reason:
        out += f" — <code>{_e(c.cell.reason)}</code>"
    if cause:
        notes = []
        if c.wheel_changed:
            notes.append("the file changed on the index (other sha256 than last sweep)")
        if c.env_changes:
            notes.append(f"env {c.cell.env} changed: " + "; ".join(c.env_changes))
        for note in notes:
            out += f'<div class="cause">{_e(note)}</div>'
    return out + "</li>"


def _html_section(sid: str, title: str, items: list[str], empty: str | None = None) -> str:
    if not items and empty is None:
        return ""
    body = "".join(items[:LIST_LIMIT]) or f'<li class="muted">{_e(empty or "")}</li>'
    more = (
        f'<li class="muted">... and {len(items) - LIST_LIMIT} more (see sweep.json)</li>'
        if len(items) > LIST_LIMIT
        else ""
    )
    return (
        f'<section class="diff" id="{sid}"><h2>{_e(title)} ({len(items)})</h2>'
        f"<ul>{body}{more}</ul></section>"
    )


def render_html(sweep: Sweep, diff: SweepDiff, report_dirs: dict[str, str]) -> str:
    css = _asset("report.css") + _CSS_EXTRA
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    n = len(diff.new_failures)
    verdict = f"{n} new failure(s)" if n else "no new failure"
    li = "<li>{}</li>".format
    parts = [
        _html_section(
            "new-failures", "New failures",
            [_html_change(c, cause=True) for c in diff.new_failures], "none",
        ),
        _html_section("fixed", "Fixed", [_html_change(c, cause=False) for c in diff.fixed]),
        _html_section(
            "changed-envs", "Changed environments",
            [li(f"<b>{_e(k)}</b>: " + "; ".join(_e(x) for x in v))
             for k, v in diff.changed_envs.items()],
        ),
        _html_section("new-releases", "New releases",
                      [li(_e(f"{p} {v}")) for p, v in diff.new_releases]),
        _html_section("gone-releases", "Releases no longer swept",
                      [li(_e(f"{p} {v}")) for p, v in diff.gone_releases]),
        _html_section("new-envs", "New environments", [li(_e(e)) for e in diff.new_envs]),
        _html_section("gone-envs", "Environments gone", [li(_e(e)) for e in diff.gone_envs]),
        _html_section(
            "newly-untested", "Newly untested wheels",
            [li(f"{_e(_cell_name(c))}: {_e(c.reason)}") for c in diff.newly_untested],
        ),
        _html_section(
            "unchanged-failures", "Unchanged failures",
            [_html_change(c, cause=False) for c in diff.unchanged_failures],
        ),
    ]  # fmt: skip
    rows = "".join(
        f"<tr><td>{_e(p)} {_e(v)}</td><td>{_e(s)}</td><td>"
        + (
            f'<a href="{_e(report_dirs[f"{p}=={v}"])}/report.html">report</a>'
            if f"{p}=={v}" in report_dirs
            else ""
        )
        + "</td></tr>"
        for p, v, s in _release_lines(sweep)
    )
    envs = "".join(
        f"<tr><td>{_e(name)}</td><td>{_e(i.get('python', ''))}</td>"
        f"<td>{_e(i.get('libc', ''))}</td><td>{_e(i.get('os', ''))}</td>"
        f"<td>{_e(i.get('image', '') or i.get('executable', ''))}</td>"
        f"<td>{len(i.get('packages') or {})}</td></tr>"
        for name, i in sorted(sweep.envs.items())
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>wheel-harness sweep: {_e(verdict)}</title><style>{css}</style></head>\n<body>"
        f'<header><h1>Nightly sweep: <span class="pill" data-status='
        f'"{"failed" if n else "passed"}">{_e(verdict)}</span></h1>'
        f'<p class="muted">sweep {_e(sweep.id)} · matrix {_e(sweep.matrix)} · '
        f"{_e(sweep.created)}</p></header><main>"
        + "".join(parts)
        + '<h2 id="releases">Releases</h2><table><thead><tr><th>release</th><th>result</th>'
        + f"<th>report</th></tr></thead><tbody>{rows}</tbody></table>"
        + '<h2 id="envs">Environments</h2><table><thead><tr><th>env</th><th>python</th>'
        + "<th>libc</th><th>os</th><th>image / interpreter</th><th>packages</th></tr></thead>"
        + f"<tbody>{envs}</tbody></table></main></body></html>\n"
    )
