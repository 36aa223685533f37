"""The report renderers: report.json, junit.xml, summary.md, report.html, write_report."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.report import REPORT_FILES, html, junit, markdown, write_report
from harness.report.model import REPORT_SCHEMA, Report, Run, RunStatus, Step

HOSTILE = "<script>alert(1)</script>"
SHA = "ab" * 32
W_OK = "tiny_ok-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
W_BAD = "yappi-1.7.6-cp311-cp311-manylinux_2_17_x86_64.whl"
W_MAC = "yappi-1.7.6-cp311-cp311-macosx_11_0_arm64.whl"
W_EVIL = f"evil{HOSTILE}-1.0-py3-none-any.whl"
ENVS = ("debian-bullseye", "debian-bookworm", "musl-3.13")


def step(
    name: str, status: RunStatus, tail: str = "", command: str = "", rc: int | None = 0
) -> Step:
    return Step(
        name=name, status=status, duration_s=0.25, command=command, returncode=rc, output_tail=tail
    )


def run(
    env: str, wheel: str, status: RunStatus, *, reason: str = "", steps: tuple[Step, ...] = ()
) -> Run:
    return Run(
        env=env,
        python="3.11.2",
        platform=f"{env}-x86_64",
        wheel_filename=wheel,
        wheel_sha256=SHA,
        status=status,
        duration_s=1.5,
        steps=steps,
        reason=reason,
    )


def finding(code: str, severity: str = "error", message: str = "bad") -> dict[str, object]:
    return {
        "code": code,
        "severity": severity,
        "message": message,
        "path": "x/y.so",
        "evidence": {},
    }


FAILED_TAIL = "\n".join(f"line {i}" for i in range(1, 500)) + f"\nSegmentation fault {HOSTILE}"


def sample_report() -> Report:
    install = step("install", RunStatus.PASSED, "Successfully installed", "pip install x.whl")
    runs = (
        run("debian-bullseye", W_OK, RunStatus.PASSED, steps=(install,)),
        run("debian-bookworm", W_OK, RunStatus.PASSED, steps=(install,)),
        run(
            "debian-bullseye",
            W_BAD,
            RunStatus.FAILED,
            reason=f"smoke:profiler crashed {HOSTILE}",
            steps=(
                install,
                step(
                    "smoke:profiler",
                    RunStatus.FAILED,
                    FAILED_TAIL + "\n```\n\x1b[31mred\x1b[0m \x00nul",
                    f"python -c 'import yappi' {HOSTILE}",
                    rc=-11,
                ),
            ),
        ),
        run(
            "debian-bookworm",
            W_BAD,
            RunStatus.ERROR,
            reason="container died (OOM)",
            steps=(step("venv", RunStatus.ERROR, "Killed", "python3 -m venv /v", rc=137),),
        ),
        run("musl-3.13", W_MAC, RunStatus.SKIPPED, reason="macOS wheel: static checks only"),
        run("musl-3.13", W_EVIL, RunStatus.PASSED, steps=(install,)),
    )
    inspect = {
        "schema": "harness-inspect/1",
        "wheels": [
            {"filename": W_OK, "sha256": SHA, "tags": [], "findings": []},
            {
                "filename": W_BAD,
                "sha256": SHA,
                "tags": [],
                "findings": [
                    finding("manylinux.symbol-too-new", message=f"GLIBC_2.34 {HOSTILE}"),
                    finding("wheel.root-is-purelib", severity="warning"),
                ],
            },
            {"filename": W_MAC, "sha256": SHA, "tags": [], "findings": []},
            {"filename": W_EVIL, "sha256": SHA, "tags": [], "findings": []},
        ],
    }
    envs = tuple({"name": e, "python": "3.11.2", "platform": f"{e}-x86_64"} for e in ENVS)
    return Report(
        harness_version="0.1.0",
        created="2024-05-01T12:00:00Z",
        config={"wheels": "dist/", "matrix": ["linux"]},
        inspect=inspect,
        runs=runs,
        envs=envs,
        untested=(),
    )


def passing_report() -> Report:
    ok = step("install", RunStatus.PASSED, "ok", "pip install")
    return Report(
        harness_version="0.1.0",
        created="2024-05-01T12:00:00Z",
        config={},
        inspect={"schema": "harness-inspect/1", "wheels": [{"filename": W_OK, "findings": []}]},
        runs=(run("debian-bookworm", W_OK, RunStatus.PASSED, steps=(ok,)),),
        envs=({"name": "debian-bookworm"},),
    )


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return write_report(sample_report(), tmp_path / "a" / "b")


# -- write_report ------------------------------------------------------------------------


def test_write_report_creates_directory_and_all_files(written: dict[str, Path]) -> None:
    assert set(written) == set(REPORT_FILES)
    for key, path in written.items():
        assert path.name == REPORT_FILES[key]
        assert path.is_file()
        assert path.stat().st_size > 0
    directory = written["json"].parent
    assert sorted(p.name for p in directory.iterdir()) == sorted(REPORT_FILES.values())
    assert not list(directory.glob("*.tmp"))
    assert not list(directory.glob(".*"))


def test_write_report_replaces_existing_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    first = write_report(sample_report(), tmp_path)
    inode = first["json"].stat().st_ino
    second = write_report(passing_report(), tmp_path)
    doc = json.loads(second["json"].read_text())  # one document, not two appended
    assert doc["verdict"] == "pass"
    assert second["json"].stat().st_ino != inode  # a new file renamed over the old one
    assert "FAIL" not in second["markdown"].read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(REPORT_FILES.values())


def test_write_report_into_a_file_is_a_harness_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HarnessError, match="report directory"):
        write_report(sample_report(), blocker / "reports")


def test_failed_write_leaves_previous_report_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_report(passing_report(), tmp_path)
    before = (tmp_path / "report.json").read_text()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(HarnessError, match="No space left"):
        write_report(sample_report(), tmp_path)
    assert (tmp_path / "report.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_github_step_summary_is_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "step_summary.md"
    target.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    paths = write_report(sample_report(), tmp_path / "r")
    summary = paths["markdown"].read_text(encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "# earlier step\n" + summary
    write_report(passing_report(), tmp_path / "r")
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n" + summary)
    assert text.count("## wheel-harness verify") == 2


def test_no_step_summary_env_writes_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "")
    write_report(passing_report(), tmp_path / "r")
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


# -- report.json -------------------------------------------------------------------------


def test_json_round_trips_with_design_fields(written: dict[str, Path]) -> None:
    report = sample_report()
    doc = json.loads(written["json"].read_text(encoding="utf-8"))
    assert doc == json.loads(json.dumps(report.to_json()))
    assert doc["schema"] == REPORT_SCHEMA == "harness-report/1"
    assert doc["verdict"] == "fail"
    assert doc["harness"]["version"] == "0.1.0"
    assert doc["created"] == "2024-05-01T12:00:00Z"
    assert doc["inspect"]["schema"] == "harness-inspect/1"
    assert doc["counts"] == {"passed": 3, "failed": 1, "error": 1, "skipped": 1}
    assert len(doc["runs"]) == 6
    for r in doc["runs"]:
        assert {"env", "python", "wheel", "status", "duration_s", "steps"} <= set(r)
        assert set(r["wheel"]) == {"filename", "sha256"}
        assert r["status"] in {"passed", "failed", "error", "skipped"}
    failed = next(r for r in doc["runs"] if r["status"] == "failed")
    assert failed["steps"][1]["output_tail"].endswith("\x00nul")  # JSON keeps it all


# -- junit.xml ---------------------------------------------------------------------------


def test_junit_parses_and_counts_match(written: dict[str, Path]) -> None:
    root = ET.parse(written["junit"]).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["inspect", *ENVS]
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        for kind, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr, "-1")) == sum(c.find(kind) is not None for c in cases)
        assert float(suite.get("time", "x")) >= 0
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "10",
        "2",
        "1",
        "1",
    )
    bullseye = suites["debian-bullseye"]
    assert bullseye.get("failures") == "1"
    assert bullseye.get("tests") == "2"
    case = next(c for c in bullseye.findall("testcase") if c.get("name") == W_BAD)
    assert case.get("classname") == "debian-bullseye"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == f"smoke:profiler crashed {HOSTILE}"
    body = failure.text or ""
    assert f"Segmentation fault {HOSTILE}" in body
    assert "line 1\n" not in body
    assert "\x1b" not in body
    assert "\x00" not in body
    assert "red" in body
    error = suites["debian-bookworm"].find("testcase/error")
    assert error is not None
    assert error.get("message") == "container died (OOM)"
    assert error.text == "Killed"
    skipped = suites["musl-3.13"].find("testcase/skipped")
    assert skipped is not None
    assert "static checks only" in (skipped.get("message") or "")


def test_junit_inspect_suite_fails_wheels_with_error_findings(written: dict[str, Path]) -> None:
    root = ET.parse(written["junit"]).getroot()
    suite = root.find("testsuite[@name='inspect']")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {W_OK, W_BAD, W_MAC, W_EVIL}
    assert suite.get("failures") == "1"
    failure = cases[W_BAD].find("failure")
    assert failure is not None
    assert "manylinux.symbol-too-new" in (failure.get("message") or "")
    assert "wheel.root-is-purelib" not in (failure.text or "")  # a warning is not a failure
    assert cases[W_OK].find("failure") is None


def test_junit_survives_control_characters_everywhere() -> None:
    nasty = "a\x00b\x1bc\x07d\udce9e\ufffe"
    report = Report(
        harness_version="0.1.0",
        created="now",
        config={},
        inspect={"wheels": [{"filename": nasty, "findings": [finding("x", message=nasty)]}]},
        runs=(
            run(
                nasty,
                nasty,
                RunStatus.FAILED,
                reason=nasty,
                steps=(step("s", RunStatus.FAILED, nasty),),
            ),
        ),
    )
    root = ET.fromstring(junit.render(report).encode("utf-8"))
    assert int(root.get("failures", "0")) == 2


# -- summary.md --------------------------------------------------------------------------


def test_markdown_has_verdict_counts_and_table(written: dict[str, Path]) -> None:
    md = written["markdown"].read_text(encoding="utf-8")
    assert md.startswith("## wheel-harness verify: \u274c FAIL\n")
    assert (
        "\u2705 3 passed \u00b7 \u274c 1 failed \u00b7 \U0001f4a5 1 error \u00b7 \u23ed 1 untested"
        in md
    )
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| wheel |"))
    cols = [c.strip() for c in lines[header].strip("|").split("|")]
    assert cols == ["wheel", "inspect", *(markdown.esc(e) for e in ENVS)]
    rows = {}
    for line in lines[header + 2 : header + 6]:
        cells = [c.strip() for c in line.strip()[2:-2].split(" | ")]
        rows[cells[0]] = cells[1:]
    # the inspect column first: W_BAD has an error finding
    assert rows[markdown.esc(W_OK)] == ["\u2705", "\u2705", "\u2705", ""]
    assert rows[markdown.esc(W_BAD)] == ["\u274c", "\u274c", "\U0001f4a5", ""]
    assert rows[markdown.esc(W_MAC)] == ["\u2705", "", "", "\u23ed"]
    assert rows[markdown.esc(W_EVIL)] == ["\u2705", "", "", "\u2705"]


def test_markdown_untested_rows_carry_reason_and_inspect_failure() -> None:
    base = sample_report()
    bad_mac = "x-1.0-cp311-cp311-win_amd64.whl"
    report = dataclasses.replace(
        base,
        runs=(
            *base.runs,
            run("static", bad_mac, RunStatus.SKIPPED, reason="untested here: Windows wheel"),
        ),
        inspect={
            "schema": "harness-inspect/1",
            "wheels": [
                *base.inspect["wheels"],
                {
                    "filename": bad_mac,
                    "sha256": SHA,
                    "tags": [],
                    "findings": [finding("windows.dll", message="imports evil.dll")],
                },
            ],
        },
        untested=(W_MAC, bad_mac),
    )
    md = markdown.render(report)
    assert f"- {markdown.esc(W_MAC)}: macOS wheel: static checks only" in md
    assert (
        f"- {markdown.esc(bad_mac)}: \u274c failed inspection; untested here: Windows wheel" in md
    )
    row = next(line for line in md.splitlines() if line.startswith(f"| {markdown.esc(bad_mac)} |"))
    assert row.split(" | ")[1] == "\u274c"
    assert "skipped" not in md  # one word for never-run wheels: untested


def test_markdown_failures_have_reason_and_safe_fenced_tail(written: dict[str, Path]) -> None:
    md = written["markdown"].read_text(encoding="utf-8")
    assert "### Failures (2)" in md
    prose = re.sub(r"^(`{3,})text\n.*?\n\1$", "", md, flags=re.MULTILINE | re.DOTALL)
    assert HOSTILE in md
    assert HOSTILE not in prose
    assert "smoke:profiler crashed \\<script\\>alert\\(1\\)\\</script\\>" in md
    # the tail contains ``` so the fence is longer, and it is a tail, not the whole output
    block = re.search(r"^(`{4,})text\n(.*?)\n\1$", md, flags=re.MULTILINE | re.DOTALL)
    assert block is not None
    assert "Segmentation fault" in block.group(2)
    assert "```" in block.group(2)
    assert "line 1\n" not in block.group(2)
    assert "omitted" in block.group(2)
    assert "\x1b" not in md
    assert "\x00" not in md
    assert "### Inspect error findings" in md
    assert "manylinux.symbol-too-new" in md
    assert "root\\-is\\-purelib" not in md
    assert "root-is-purelib" not in md


def test_markdown_clamp_cuts_at_a_line_and_closes_the_fence() -> None:
    body = "## head\n```text\n" + ("y" * 99 + "\n") * 20_000
    out = markdown._clamp(body)
    assert len(out.encode()) <= markdown.MAX_BYTES
    assert out.count("```") == 2
    assert "summary truncated" in out
    assert all(line in ("## head", "```text", "```", "y" * 99) for line in out.splitlines()[:-2])


def test_markdown_passing_report() -> None:
    md = markdown.render(passing_report())
    assert md.startswith("## wheel-harness verify: \u2705 PASS\n")
    assert "Failures" not in md
    assert "Inspect error findings" not in md


def test_markdown_stays_under_github_limit_with_many_huge_failures() -> None:
    huge = ("x" * 5000 + "\n") * 200  # one 1 MB string shared by every run
    runs = tuple(
        run(
            f"env{e}",
            f"pkg{w}-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            RunStatus.FAILED,
            reason="boom " * 100,
            steps=(step("smoke:import", RunStatus.FAILED, huge),),
        )
        for e in range(20)
        for w in range(60)
    )
    report = Report(
        harness_version="0.1.0", created="now", config={}, inspect={"wheels": []}, runs=runs
    )
    md = markdown.render(report)
    size = len(md.encode("utf-8"))
    assert size <= markdown.LIST_BUDGET + 4096
    assert re.search(r"_\.\.\. \d+ more failure\(s\) not shown", md)
    blocks = re.findall(r"^```text\n(.*?)\n```$", md, flags=re.MULTILINE | re.DOTALL)
    assert blocks
    assert all(len(b) <= markdown.TAIL_CHARS + 100 for b in blocks)
    assert md.count("```") % 2 == 0  # no fence left open


# -- report.html -------------------------------------------------------------------------


class _Cells(HTMLParser):
    """Collects the grid cells, every tag/attribute, and the text of <pre> and <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if "cell" in (a.get("class") or "").split():
            self.cells.append(a)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html_text: str) -> _Cells:
    parser = _Cells()
    parser.feed(html_text)
    parser.close()
    return parser


def expected_cells() -> dict[tuple[str, str], str]:
    """(wheel, env) -> data-status for the sample report's full grid."""
    out = {(w, e): "n/a" for w in (W_OK, W_BAD, W_MAC, W_EVIL) for e in ENVS}
    for r in sample_report().runs:
        out[(r.wheel_filename, r.env)] = str(r.status)
    return out


def test_html_has_every_cell_with_status(written: dict[str, Path]) -> None:
    page = parse(written["html"].read_text(encoding="utf-8"))
    got = {(c["data-wheel"], c["data-env"]): c["data-status"] for c in page.cells}
    assert len(page.cells) == len(got) == 12
    assert got == expected_cells()
    for c in page.cells:
        if c["data-status"] != "n/a":
            assert c["data-run"], c  # clickable: names the run's details element
    ids = {a.get("id") for _, a in page.tags}
    assert {c["data-run"] for c in page.cells if c.get("data-run")} <= ids
    runs = [a for t, a in page.tags if t == "details" and "run" in (a.get("class") or "").split()]
    assert len(runs) == 6


def test_html_escapes_hostile_strings(written: dict[str, Path]) -> None:
    source = written["html"].read_text(encoding="utf-8")
    assert HOSTILE not in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    page = parse(source)
    scripts = [t for t, _ in page.tags if t == "script"]
    assert scripts == ["script"]  # only the page's own
    text = "".join(page.text)
    assert f"Segmentation fault {HOSTILE}" in text  # shown, as text
    assert f"import yappi' {HOSTILE}" in text  # the command, as text
    assert W_EVIL in {c["data-wheel"] for c in page.cells}


def test_html_is_self_contained(written: dict[str, Path]) -> None:
    source = written["html"].read_text(encoding="utf-8")
    page = parse(source)
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, href)
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    assert "@import" not in source
    assert "url(" not in source
    csp = next(
        a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp


def test_html_header_and_inspect_section(written: dict[str, Path]) -> None:
    page = parse(written["html"].read_text(encoding="utf-8"))
    header = next(a for t, a in page.tags if t == "header")
    assert header["data-verdict"] == "fail"
    text = " ".join("".join(page.text).split())
    assert "harness 0.1.0" in text
    assert "created 2024-05-01T12:00:00Z" in text
    for n, word in ((3, "passed"), (1, "failed"), (1, "error"), (1, "untested")):
        assert f"{n} {word}" in text
    sections = {
        a["data-wheel"]: a["data-errors"]
        for t, a in page.tags
        if t == "section" and "wheel-findings" in (a.get("class") or "")
    }
    assert sections == {W_OK: "0", W_BAD: "1", W_MAC: "0", W_EVIL: "0"}
    assert "manylinux.symbol-too-new" in text
    assert "wheel.root-is-purelib" in text
    assert "GLIBC_2.34 <script>alert(1)</script>" in text


def test_html_passing_and_empty_reports() -> None:
    page = parse(html.render(passing_report()))
    assert [c["data-status"] for c in page.cells] == ["passed"]
    empty = Report(harness_version="0.1.0", created="now", config={}, inspect={}, runs=())
    page = parse(html.render(empty))
    assert page.cells == []
    assert "No runs." in "".join(page.text)


def test_html_marks_envs_where_no_wheel_installs() -> None:
    from dataclasses import replace

    report = replace(
        passing_report(),
        envs=(
            {"name": "debian-bookworm", "python": "3.11", "platform": "x", "picked": W_OK},
            {"name": "i686", "python": "3.11", "platform": "linux-i686", "picked": None},
        ),
    )
    page = html.render(report)
    heads = re.findall(r'<th scope="col" data-env="([^"]+)">(.*?)</th>', page)
    marked = {env: "gap: no wheel for this env" in body for env, body in heads}
    assert marked == {"debian-bookworm": False, "i686": True}


def test_markdown_names_the_gaps() -> None:
    from dataclasses import replace

    report = replace(
        passing_report(),
        envs=({"name": "debian-bookworm", "picked": W_OK}, {"name": "i686", "picked": None}),
    )
    text = markdown.render(report)
    assert "**Gaps**: no wheel of the release installs in i686" in text
    assert "**Gaps**" not in markdown.render(passing_report())


def test_verdict_says_how_much_ran_and_require_coverage_fails_it(tmp_path: Path) -> None:
    from dataclasses import replace

    mac = "yappi-1.7.6-cp311-cp311-macosx_11_0_arm64.whl"
    arm = "yappi-1.7.6-cp311-cp311-musllinux_1_2_aarch64.whl"
    rows = (
        {"filename": W_OK, "family": "linux", "ran_in": ["debian-bookworm"], "reason": None},
        {"filename": arm, "family": "linux", "ran_in": [], "reason": "no env <b>is</b> musl"},
        {"filename": mac, "family": "macos", "ran_in": [], "reason": "macOS wheel: a runner"},
    )
    rep = replace(passing_report(), coverage=rows, untested=(arm, mac))
    assert rep.verdict_line == "PASS (1 of 3 wheels ran)"
    assert "\u2705 PASS (1 of 3 wheels ran)" in markdown.render(rep)
    assert ">1 of 3 wheels ran</span>" in html.render(rep)
    assert "(required: fails the verdict)" not in html.render(rep)
    linux = replace(rep, required=("linux",))
    assert linux.uncovered == (arm,)
    assert str(linux.verdict) == "fail"
    assert linux.verdict_line == "FAIL (1 of 3 wheels ran); 1 required wheel(s) untested"
    assert "(required: fails the verdict)" in markdown.render(linux)
    assert "(required: fails the verdict)" in html.render(linux)
    data = linux.to_json()
    assert data["coverage"]["ran"] == 1
    assert data["coverage"]["of"] == 3
    assert data["coverage"]["uncovered"] == [arm]
    assert data["verdict"] == "fail"
    every = replace(rep, required=("linux", "macos", "windows", "any", "other"))
    assert set(every.uncovered) == {arm, mac}
