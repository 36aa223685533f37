"""Text helpers shared by the renderers: what the grid shows, which step failed, and
output tails made safe for XML/Markdown/HTML (no ANSI escapes, no control characters,
no lone surrogates, bounded size)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.report.model import Report, Run, RunStatus, Step

# CSI/OSC and other ANSI escape sequences (colour, cursor movement, hyperlinks).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Characters XML 1.0 forbids, plus lone surrogates (undecodable bytes) and the C1 controls.
_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Worst first: a cell holding several runs shows the worst of them.
_SEVERITY = {
    RunStatus.ERROR: 0,
    RunStatus.FAILED: 1,
    RunStatus.SKIPPED: 2,
    RunStatus.PASSED: 3,
}


def clean(text: str) -> str:
    """Text any renderer can emit: ANSI stripped, CRLF/CR folded, unsafe chars replaced."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub("\ufffd", text)


def tail(text: str, *, max_lines: int, max_chars: int) -> str:
    """The last ``max_lines`` lines of cleaned ``text``, at most ``max_chars`` characters;
    says how much it dropped on a first line of its own."""
    # Look only at the end of a huge output (ANSI escapes may shrink it; 4x is ample).
    window = max_chars * 4 + 4096
    cut_early = len(text) > window
    if cut_early:
        text = text[-window:]
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    text = clean(text).rstrip("\n")
    lines = text.split("\n") if text else []
    dropped = max(0, len(lines) - max_lines)
    kept = "\n".join(lines[dropped:])
    if len(kept) > max_chars:
        cut = kept[len(kept) - max_chars :]
        nl = cut.find("\n")
        if 0 <= nl < len(cut) - 1:
            cut = cut[nl + 1 :]
        dropped += kept.count("\n") - cut.count("\n")
        kept = cut
    if cut_early:
        return f"[... earlier output omitted ...]\n{kept}"
    if dropped:
        return f"[... {dropped} earlier line(s) omitted ...]\n{kept}"
    return kept


def one_line(text: str, max_chars: int = 300) -> str:
    """A reason or message as one bounded line."""
    line = " ".join(clean(text).split())
    return line if len(line) <= max_chars else line[: max_chars - 1] + "\u2026"


def failing_step(run: Run) -> Step | None:
    """The step that explains the run's status: the first failed/errored step, else the last
    step with output (for a failed run whose steps all passed, which verify should not make)."""
    for step in run.steps:
        if step.status in (RunStatus.FAILED, RunStatus.ERROR):
            return step
    for step in reversed(run.steps):
        if step.output_tail:
            return step
    return None


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True, kw_only=True)
class Grid:
    """The env x wheel grid: rows are wheels, columns are envs, a cell is the runs of that
    wheel in that env (empty: not applicable)."""

    wheels: tuple[str, ...]
    envs: tuple[str, ...]
    cells: dict[tuple[str, str], tuple[Run, ...]]  # (wheel, env) -> runs

    def runs(self, wheel: str, env: str) -> tuple[Run, ...]:
        return self.cells.get((wheel, env), ())

    def status(self, wheel: str, env: str) -> RunStatus | None:
        runs = self.runs(wheel, env)
        if not runs:
            return None
        return min((r.status for r in runs), key=lambda s: _SEVERITY[s])


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def grid(report: Report) -> Grid:
    """Wheels in inspect order, then any only seen in runs or untested; envs in the order
    of ``report.envs``, then any only seen in runs."""
    wheels = _unique(
        [str(w.get("filename", "")) for w in report.inspect.get("wheels", [])]
        + [r.wheel_filename for r in report.runs]
        + list(report.untested)
    )
    envs = _unique([str(e.get("name", "")) for e in report.envs] + [r.env for r in report.runs])
    cells: dict[tuple[str, str], tuple[Run, ...]] = {}
    for run in report.runs:
        key = (run.wheel_filename, run.env)
        cells[key] = (*cells.get(key, ()), run)
    return Grid(wheels=tuple(w for w in wheels if w), envs=tuple(e for e in envs if e), cells=cells)


def inspect_wheels(report: Report) -> list[dict[str, object]]:
    wheels = report.inspect.get("wheels", [])
    return [w for w in wheels if isinstance(w, dict)]


def error_findings(wheel: dict[str, object]) -> list[dict[str, object]]:
    findings = wheel.get("findings", [])
    if not isinstance(findings, list):
        return []
    return [f for f in findings if isinstance(f, dict) and f.get("severity") == "error"]


def env_info(report: Report) -> dict[str, dict[str, str]]:
    """env name -> python, platform (from report.envs, completed from the runs)."""
    info: dict[str, dict[str, str]] = {}
    for env in report.envs:
        name = str(env.get("name", ""))
        info[name] = {
            "python": str(env.get("python", "") or ""),
            "platform": str(env.get("platform", "") or ""),
            # coverage found no wheel pip would install there: a gap in the release
            "gap": "yes" if "picked" in env and env.get("picked") is None else "",
        }
    for run in report.runs:
        entry = info.setdefault(run.env, {"python": "", "platform": "", "gap": ""})
        entry["python"] = entry["python"] or run.python
        entry["platform"] = entry["platform"] or run.platform
    return info
