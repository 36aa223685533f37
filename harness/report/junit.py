"""JUnit XML for CI test-result views (GitHub, GitLab, Jenkins).

One <testsuite> per env with one <testcase> per run (classname = env, name = wheel file
name), plus a testsuite "inspect" with one testcase per wheel that fails with its error
findings. Every suite and the root carry tests/failures/errors/skipped/time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import assert_never

from harness.report import text
from harness.report.model import Report, Run, RunStatus

INSPECT_SUITE = "inspect"
_TAIL_LINES = 200
_TAIL_CHARS = 32_000


def _time(seconds: float) -> str:
    return f"{max(0.0, seconds):.3f}"


def _steps_out(run: Run) -> str:
    lines = [f"env {run.env} (python {run.python or '?'}, {run.platform or '?'})"]
    lines.append(f"wheel {run.wheel_filename} sha256 {run.wheel_sha256}")
    for step in run.steps:
        rc = "" if step.returncode is None else f" rc={step.returncode}"
        lines.append(f"{step.name}: {step.status} in {step.duration_s:.3f} s{rc}")
        if step.command:
            lines.append(f"  $ {text.one_line(step.command, 2000)}")
    return text.clean("\n".join(lines))


def _testcase(run: Run) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": text.one_line(run.env),
            "name": text.one_line(run.wheel_filename),
            "time": _time(run.duration_s),
        },
    )
    step = text.failing_step(run)
    body = ""
    if step is not None and step.output_tail:
        body = text.tail(step.output_tail, max_lines=_TAIL_LINES, max_chars=_TAIL_CHARS)
    reason = text.one_line(run.reason or (f"step {step.name} {step.status}" if step else ""))
    match run.status:
        case RunStatus.PASSED:
            pass
        case RunStatus.FAILED:
            el = ET.SubElement(
                case, "failure", {"message": reason, "type": step.name if step else "failed"}
            )
            el.text = body
        case RunStatus.ERROR:
            el = ET.SubElement(
                case, "error", {"message": reason, "type": step.name if step else "error"}
            )
            el.text = body
        case RunStatus.SKIPPED:
            ET.SubElement(case, "skipped", {"message": reason})
        case _:
            assert_never(run.status)
    ET.SubElement(case, "system-out").text = _steps_out(run)
    return case


def _suite(name: str, cases: Iterable[ET.Element], timestamp: str) -> ET.Element:
    suite = ET.Element("testsuite", {"name": text.one_line(name)})
    tests = failures = errors = skipped = 0
    total = 0.0
    for case in cases:
        suite.append(case)
        tests += 1
        failures += case.find("failure") is not None
        errors += case.find("error") is not None
        skipped += case.find("skipped") is not None
        total += float(case.get("time", "0"))
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", _time(total))
    if timestamp:
        suite.set("timestamp", timestamp)
    return suite


def _inspect_case(wheel: dict[str, object]) -> ET.Element:
    name = text.one_line(str(wheel.get("filename", "")))
    case = ET.Element("testcase", {"classname": INSPECT_SUITE, "name": name, "time": _time(0)})
    errors = text.error_findings(wheel)
    findings = wheel.get("findings", [])
    all_findings = (
        [f for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []
    )
    if errors:
        codes = ", ".join(dict.fromkeys(str(f.get("code", "")) for f in errors))
        failure = ET.SubElement(
            case,
            "failure",
            {
                "message": text.one_line(f"{len(errors)} error finding(s): {codes}"),
                "type": "inspect",
            },
        )
        failure.text = text.clean("\n".join(_finding_line(f) for f in errors))
    others = [f for f in all_findings if f.get("severity") != "error"]
    if others:
        ET.SubElement(case, "system-out").text = text.clean(
            "\n".join(_finding_line(f) for f in others)
        )
    return case


def _finding_line(finding: dict[str, object]) -> str:
    path = f" {finding['path']}" if finding.get("path") else ""
    return (
        f"{finding.get('severity', '?')} {finding.get('code', '?')}{path}: "
        f"{text.one_line(str(finding.get('message', '')), 2000)}"
    )


def render(report: Report) -> str:
    stamp = text.one_line(report.created)
    grid = text.grid(report)
    suites = [_suite(INSPECT_SUITE, (_inspect_case(w) for w in text.inspect_wheels(report)), stamp)]
    for env in grid.envs:
        suites.append(_suite(env, (_testcase(r) for r in report.runs if r.env == env), stamp))
    root = ET.Element("testsuites", {"name": "wheel-harness"})
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", _time(sum(float(s.get("time", "0")) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
