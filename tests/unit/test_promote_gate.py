"""The report loader and the gate, on report.json files the tests write (no servers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.__main__ import main
from harness.promote.gate import InvalidReport, RunStatus, Verdict, evaluate, load_report
from tests.unit.promote_support import (
    REAL,
    YAPPI_CP311,
    make_wheel,
    report_doc,
    sha256,
    write_report,
)


def test_loads_a_valid_report(tmp_path: Path) -> None:
    w = REAL / YAPPI_CP311
    write_report(tmp_path, [w])
    report = load_report(tmp_path)
    assert report.verdict is Verdict.PASS
    assert report.wheels[0].filename == YAPPI_CP311
    assert report.wheels[0].sha256 == sha256(w)
    assert report.runs[0].status is RunStatus.PASSED
    gate = evaluate(report)
    assert gate.ok
    assert gate.files[0].path == w.resolve()


def test_every_schema_problem_is_reported(tmp_path: Path) -> None:
    doc = report_doc([make_wheel(tmp_path / "d")])
    doc["verdict"] = "maybe"
    doc["inspect"]["wheels"][0]["sha256"] = "xyz"
    doc["inspect"]["wheels"][0]["filename"] = "../evil.whl"
    doc["runs"][0]["status"] = "ok"
    doc["runs"][0]["duration_s"] = -1
    del doc["created"]
    (tmp_path / "report.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidReport) as info:
        load_report(tmp_path)
    text = "\n".join(info.value.problems)
    for where in (
        "$.verdict",
        "inspect.wheels[0].sha256",
        "inspect.wheels[0].filename",
        "runs[0].status",
        "runs[0].duration_s",
        "created",
    ):
        assert where in text
    assert str(tmp_path / "report.json") in str(info.value)


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "expected an object"),
        (json.dumps({"schema": "harness-report/2"}).encode(), "expected 'harness-report/1'"),
    ],
)
def test_unreadable_reports(tmp_path: Path, content: bytes, expect: str) -> None:
    (tmp_path / "report.json").write_bytes(content)
    with pytest.raises(InvalidReport, match=expect):
        load_report(tmp_path)


def test_gate_reasons_per_file(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    ok = make_wheel(dist, version="1.0.0")
    bad_finding = make_wheel(dist, version="1.0.1")
    bad_run = make_wheel(dist, version="1.0.2")
    tampered = make_wheel(dist, version="1.0.3")
    missing = make_wheel(dist, version="1.0.4")
    finding = {"code": "platform.arch", "severity": "error", "message": "arm in x86",
               "path": "x.so", "evidence": {}}  # fmt: skip
    warning = {**finding, "severity": "warning", "code": "wheel.root-is-purelib"}
    write_report(
        tmp_path / "r",
        [ok, bad_finding, bad_run, tampered, missing],
        findings={bad_finding.name: [finding], ok.name: [warning]},
        run_status={bad_run.name: "error"},
    )
    make_wheel(dist, version="1.0.3", payload="changed")
    missing.unlink()
    extra = make_wheel(dist, version="9.9.9")
    gate = evaluate(load_report(tmp_path / "r"), dist=dist)
    reasons = {f.filename: f.reasons for f in gate.files}
    assert reasons[ok.name] == ()
    assert reasons[bad_finding.name] == ("error finding platform.arch in x.so: arm in x86",)
    assert reasons[bad_run.name] == ("run host/3.11 error: smoke test crashed",)
    assert "changed after verification" in reasons[tampered.name][0]
    assert "does not exist" in reasons[missing.name][0]
    assert "is not in the report" in reasons[extra.name][0]
    assert not gate.ok


def test_verdict_fail_refuses_everything(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    write_report(tmp_path / "r", [w], verdict="fail")
    gate = evaluate(load_report(tmp_path / "r"))
    assert gate.problems == ("the report's verdict is fail",)
    assert not gate.ok


def test_run_of_other_bytes_is_refused(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    doc = report_doc([w])
    doc["runs"][0]["wheel"]["sha256"] = "0" * 64
    (tmp_path / "report.json").write_text(json.dumps(doc))
    gate = evaluate(load_report(tmp_path))
    assert "tested sha256 000000000000" in gate.files[0].reasons[0]


def test_no_recorded_path_needs_dist(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    write_report(tmp_path / "r", [w], record_paths=False)
    gate = evaluate(load_report(tmp_path / "r"))
    assert "no --dist" in gate.files[0].reasons[0]
    assert evaluate(load_report(tmp_path / "r"), dist=tmp_path / "d").ok


# ---------------------------------------------------------------- through the CLI


def test_cli_refusal_exit_1_and_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = make_wheel(tmp_path / "d")
    write_report(tmp_path / "r", [w], run_status={w.name: "failed"}, verdict="fail")
    rc = main(["promote", str(tmp_path / "r"), "--to", "pypi", "--format", "json"])
    assert rc == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["outcome"] == "refused"
    assert doc["problems"] == ["the report's verdict is fail"]
    assert doc["refused"][0]["reasons"] == ["run host/3.11 failed: smoke test crashed"]
    assert "promotion refused, nothing uploaded" in err
    journal = json.loads((tmp_path / "r" / "promote-journal.json").read_text())
    assert journal["runs"][0]["outcome"] == "refused"
    assert journal["files"] == []


def test_cli_invalid_report_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "report.json").write_text('{"schema": "harness-report/1"}')
    assert main(["promote", str(tmp_path), "--to", "pypi"]) == 1
    out, err = capsys.readouterr()
    assert "harness.version" in out or "harness: expected an object" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["promote", "{tmp}/nope", "--to", "pypi"], "not a directory"),
        (["promote", "{tmp}", "--to", "pypi"], "report.json: no such file"),
        (["promote", "{tmp}/r", "--to", "ftp://x"], "expected pypi, testpypi"),
        (["promote", "{tmp}/r", "--to", "pypi", "pypi"], "given twice"),
        (["promote", "{tmp}/r", "--to", "pypi", "--endpoint-url", "http://x"], "only for s3"),
        (["promote", "{tmp}/r", "--to", "http://example.com/"], "plain http"),
        (["promote", "{tmp}/r", "--to", "pypi", "--dist", "{tmp}/none"], "not a directory"),
    ],
)
def test_cli_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expect: str
) -> None:
    write_report(tmp_path / "r", [make_wheel(tmp_path / "d")])
    rc = main([a.format(tmp=tmp_path) for a in argv])
    assert rc == 2
    assert expect in capsys.readouterr().err


def test_cli_pypi_needs_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWINE_PASSWORD", raising=False)
    write_report(tmp_path / "r", [make_wheel(tmp_path / "d")])
    assert main(["promote", str(tmp_path / "r"), "--to", "http://127.0.0.1:9/"]) == 2
    assert "no credentials" in capsys.readouterr().err
