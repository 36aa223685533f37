"""Hostile input, one regression test per class (issue: bounded, sealed, never a traceback).

Secrets through every writer; console injection; the promote gate (one read per file, a
private copy, re-inspection, run coverage, the report signature); smoke suites that exit
early; one-line errors where the OS refuses; bounded subprocess capture; --release URLs.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from harness import console, proc
from harness.__main__ import main
from harness.promote import seal as seal_mod
from harness.promote.engine import items_from_gate
from harness.promote.gate import evaluate, load_report
from harness.promote.journal import FileEntry, FileState, Journal
from harness.promote.snapshot import Snapshot
from harness.redact import MASK, Redactor, scrub
from harness.report import write_report as write_report_files
from harness.report.model import Report, Run, RunStatus, Step
from harness.report.signature import KEY_ENV, sign
from harness.verify.cell import _parse_result, _unfinished
from tests.unit.promote_support import make_wheel, report_doc, sha256, write_report

SECRET = "pypi-AgEIcHlwaS5vcmcCJGNhbmFyeS1zZWNyZXQ"
SMOKE_RUN = Path(__file__).resolve().parents[2] / "harness" / "smoke" / "run.py"


def _report_with(secret: str) -> Report:
    step = Step(
        name="smoke:import",
        status=RunStatus.FAILED,
        duration_s=0.1,
        command=f"python run.py --password {secret}",
        output_tail=f"printed {secret}",
        detail={"checks": [{"name": "import x", "ok": False, "error": f"boom {secret}"}]},
    )
    run = Run(
        env="host",
        python="3.11",
        platform="linux",
        wheel_filename="x-1-py3-none-any.whl",
        wheel_sha256="0" * 64,
        status=RunStatus.FAILED,
        duration_s=1.0,
        steps=(step,),
        reason=f"import x: boom {secret}",
    )
    return Report(
        harness_version="0",
        created="2025-01-01T00:00:00+00:00",
        config={"note": secret},
        inspect={"schema": "harness-inspect/1", "wheels": []},
        runs=(run,),
    )


# ------------------------------------------------------------------ 1. secrets


def test_secret_reaches_no_report_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", SECRET)
    paths = write_report_files(_report_with(SECRET), tmp_path)
    for path in paths.values():
        assert SECRET not in path.read_text(encoding="utf-8"), path
    doc = json.loads(paths["json"].read_text())
    assert MASK in doc["runs"][0]["steps"][0]["detail"]["checks"][0]["error"]


def test_secret_reaches_no_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    journal = Journal.load(tmp_path)
    journal.record_file(
        FileEntry(
            target="s3",
            filename="x.whl",
            sha256="0" * 64,
            state=FileState.FAILED,
            location="",
            at="now",
            error=f"signature {SECRET} rejected",
        )
    )
    assert SECRET not in journal.path.read_text()


def test_secret_reaches_no_console_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MY_DEPLOY_TOKEN", SECRET)
    console.fail(f"index said {SECRET}")
    console.info(f"https://user:{SECRET}@example.org/simple/")
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "https://***@example.org" in err


def test_redaction_masks_userinfo_and_all_forms() -> None:
    r = Redactor([SECRET])
    r.add_basic_auth("__token__", SECRET)
    text = f"a https://u:p@h/ b {SECRET} c x://{'y' * 5000}@z"
    out = r(text)
    assert SECRET not in out
    assert "https://***@h/" in out
    assert out.endswith(f"x://{'y' * 5000}@z")  # beyond the user-info bound: left alone


def test_scrub_bounds_nesting() -> None:
    deep: object = "leaf"
    for _ in range(500):
        deep = [deep]
    flat = json.dumps(scrub(deep))
    assert "nested deeper than" in flat


# ------------------------------------------------------------------ 5. console injection


@pytest.mark.parametrize(
    ("hostile", "absent"),
    [
        ("a\nb", "\n"),
        ("a\rb", "\r"),
        ("x\x1b[2J\x1b]0;title\x07", "\x1b"),
        ("nul\x00byte", "\x00"),
        ("rtl\u202eexe.txt", "\u202e"),
        ("::error file=a.py::pwned", "::error"),
        ("ok ::add-mask::x", "::add-mask::"),
    ],
)
def test_sanitize_defuses(hostile: str, absent: str) -> None:
    out = console.sanitize(hostile)
    assert absent not in out
    assert "\n" not in out


def test_sanitize_keeps_ordinary_text() -> None:
    assert console.sanitize("std::string in a::b (tab\there)") == "std::string in a::b (tab\there)"


def test_promote_refusal_list_is_sanitized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = make_wheel(tmp_path / "d")
    doc = report_doc([w], run_status={w.name: "failed"}, verdict="fail")
    doc["runs"][0]["reason"] = "x\n::error::injected\x1b[31m"
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.json").write_text(json.dumps(doc))
    assert main(["promote", str(tmp_path / "r"), "--to", "s3://bucket-x/p", "--dry-run"]) == 1
    out, err = capsys.readouterr()
    for line in (out + err).splitlines():
        assert not line.lstrip().startswith("::")
    assert "\x1b" not in out + err


# ------------------------------------------------------------------ 2./3. the promote gate


def test_gate_reads_once_into_a_private_copy(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d", payload="verified")
    write_report(tmp_path / "r", [w])
    with Snapshot() as snap:
        gate = evaluate(load_report(tmp_path / "r"), snapshot=snap)
        assert gate.ok
        # replaced after the check: what goes out is still what was checked
        other = make_wheel(tmp_path / "evil", payload="evil")
        os.replace(other, w)
        (item,) = items_from_gate(gate)
        assert item.path != w
        assert item.path.is_relative_to(snap.dir)
        assert sha256(item.path) == item.sha256 == gate.files[0].recorded_sha256
        assert stat.S_IMODE(snap.dir.stat().st_mode) == 0o700
    assert not snap.dir.exists()


@pytest.mark.parametrize("kind", ["fifo", "devzero"])
def test_dist_non_regular_file_is_refused_without_reading(tmp_path: Path, kind: str) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    w = make_wheel(dist)
    write_report(tmp_path / "r", [w])
    bad = dist / "zzz-1.0-py3-none-any.whl"
    if kind == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to("/dev/zero")
    done: list[int] = []
    t = threading.Thread(
        target=lambda: done.append(
            main(
                [
                    "promote",
                    str(tmp_path / "r"),
                    "--dist",
                    str(dist),
                    "--to",
                    "s3://bucket-x/p",
                    "--dry-run",
                ]
            )
        ),
        daemon=True,
    )
    t.start()
    t.join(60)
    assert done == [1]


def test_edited_report_is_caught_by_reinspection(tmp_path: Path) -> None:
    # METADATA says another name: inspect finds metadata.mismatch; the edited report
    # claims no findings and a pass.
    w = make_wheel(tmp_path / "d", meta_name="someone-else")
    write_report(tmp_path / "r", [w])
    with Snapshot() as snap:
        gate = seal_mod.seal(evaluate(load_report(tmp_path / "r"), snapshot=snap))
    assert not gate.ok
    assert any("re-inspected at promote" in r for r in gate.files[0].reasons)


def test_report_with_runs_removed_is_refused(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    doc = report_doc([w])
    doc["runs"] = []
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.json").write_text(json.dumps(doc))
    gate = seal_mod.seal(evaluate(load_report(tmp_path / "r")))
    assert gate.files[0].reasons == (
        "the report has no run of it (never installed, not even recorded static-only)",
    )


def test_signature_required_when_key_set(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    path = write_report(tmp_path / "r", [w])
    report = load_report(tmp_path / "r")
    env = {KEY_ENV: "k" * 32}
    assert seal_mod.signature_problems(report, {}) == []
    assert "missing" in seal_mod.signature_problems(report, env)[0]
    sig = path.with_name("report.json.sig")
    sig.write_text(sign(path.read_bytes(), "another key"))
    assert "does not match" in seal_mod.signature_problems(report, env)[0]
    sig.write_text(sign(path.read_bytes(), "k" * 32))
    assert seal_mod.signature_problems(report, env) == []


def test_verify_writer_signs_and_promote_reader_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "the-ci-key-123456")
    paths = write_report_files(_report_with("nothing"), tmp_path)
    sig = paths["json"].with_name("report.json.sig").read_text().strip()
    assert sig == sign(paths["json"].read_bytes(), "the-ci-key-123456")
    monkeypatch.delenv(KEY_ENV)
    write_report_files(_report_with("nothing"), tmp_path)
    assert not paths["json"].with_name("report.json.sig").exists()  # no stale signature


# ------------------------------------------------------------------ 4. smoke completion


def _pkg(tmp_path: Path, body: str) -> Path:
    pkg = tmp_path / "site" / "quitter"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(body)
    return pkg.parent


def _run_suite(site: Path, token: str = "tok123") -> tuple[subprocess.CompletedProcess[str], str]:
    cp = subprocess.run(
        [sys.executable, str(SMOKE_RUN), "import", "--token", token, "quitter", "json"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    return cp, cp.stdout


def _as_step(cp: subprocess.CompletedProcess[str]) -> Step:
    status = RunStatus.PASSED if cp.returncode == 0 else RunStatus.FAILED
    return Step(name="smoke:import", status=status, duration_s=0, returncode=cp.returncode)


def test_sys_exit_zero_in_init_fails_the_suite(tmp_path: Path) -> None:
    cp, out = _run_suite(_pkg(tmp_path, "import sys\nsys.exit(0)\n"))
    result = _parse_result(out)
    assert result is not None
    assert cp.returncode == 1
    assert "sys.exit(0)" in json.dumps(result["checks"])
    assert [c["ok"] for c in result["checks"]] == [False, True]  # json still imported


def test_os_exit_zero_in_init_fails_the_suite(tmp_path: Path) -> None:
    cp, out = _run_suite(_pkg(tmp_path, "import os\nos._exit(0)\n"))
    assert cp.returncode == 0  # the process itself claims success...
    reason = _unfinished(_as_step(cp), _parse_result(out), "tok123")
    assert reason is not None  # ...and the cell does not believe it
    assert "without reporting completion" in reason


def test_forged_result_line_fails_the_suite(tmp_path: Path) -> None:
    forged = 'HARNESS-RESULT {"checks": [], "complete": true, "token": "guess"}'
    cp, out = _run_suite(_pkg(tmp_path, f"import os\nprint({forged!r}, flush=True)\nos._exit(0)\n"))
    reason = _unfinished(_as_step(cp), _parse_result(out), "tok123")
    assert reason is not None
    assert "token" in reason


def test_token_is_hidden_from_code_under_test(tmp_path: Path) -> None:
    cp, out = _run_suite(_pkg(tmp_path, "import sys\nprint('ARGV', sys.argv)\n"))
    assert "tok123" not in out.split("HARNESS-RESULT", 1)[0]
    assert _unfinished(_as_step(cp), _parse_result(out), "tok123") is None


# ------------------------------------------------------------------ 8. one-line errors


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_inspect_output_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = make_wheel(tmp_path / "d")
    assert main(["inspect", str(w), "--output", str(tmp_path)]) == 2
    assert "is a directory" in _one_line(capsys)


def test_inspect_output_unwritable_or_too_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = make_wheel(tmp_path / "d")
    assert main(["inspect", str(w), "--output", str(tmp_path / ("x" * 300))]) == 2
    _one_line(capsys)
    assert main(["inspect", str(w), "--output", str(tmp_path / "nope" / "x.json")]) == 2
    _one_line(capsys)


def test_inspect_output_device_stays_a_device(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    assert main(["inspect", str(w), "--format", "json", "--output", os.devnull]) == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_over_long_input_path_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "/tmp/" + "y" * 5000]) == 2
    _one_line(capsys)


@pytest.mark.parametrize("redirect", [">/dev/full", ">&-"])
def test_stdout_full_or_closed_is_one_line(tmp_path: Path, redirect: str) -> None:
    w = make_wheel(tmp_path / "d")
    cp = subprocess.run(
        ["sh", "-c", f'exec "$0" -m harness inspect "$1" --format json {redirect}',
         sys.executable, str(w)],
        stderr=subprocess.PIPE, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert cp.returncode == 3, cp.stderr
    assert "Traceback" not in cp.stderr
    assert "Exception ignored" not in cp.stderr
    assert cp.stderr.count("\n") == 1
    assert "cannot write to standard output" in cp.stderr


def test_report_dir_that_is_a_file_fails_before_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    w = make_wheel(tmp_path / "d")
    for report_dir in (blocker, blocker / "sub"):
        rc = main(["verify", str(w), "--matrix", "does-not-matter", "--report-dir",
                   str(report_dir)])  # fmt: skip
        assert rc == 2
        assert "--report-dir" in _one_line(capsys)


@pytest.mark.parametrize("value", ["0", "-5"])
def test_timeout_must_be_positive(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    w = make_wheel(tmp_path / "d")
    rc = main(["verify", str(w), f"--timeout={value}", "--report-dir", str(tmp_path / "r")])
    assert rc == 2
    assert "--timeout" in _one_line(capsys)


def test_cache_dir_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.envs.paths import cache_dir
    from harness.errors import UsageError

    blocker = tmp_path / "cache"
    blocker.write_text("x")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(blocker))
    with pytest.raises(UsageError, match="HARNESS_CACHE_DIR"):
        cache_dir()


def test_deeply_nested_report_and_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.json").write_text("[" * 200_000 + "]" * 200_000)
    assert main(["promote", str(tmp_path / "r"), "--to", "s3://bucket-x/p", "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    w = make_wheel(tmp_path / "d")
    write_report(tmp_path / "r", [w])
    (tmp_path / "r" / "promote-journal.json").write_text("[" * 200_000)
    assert main(["promote", str(tmp_path / "r"), "--to", "s3://bucket-x/p"]) == 2
    assert "journal" in _one_line(capsys)


def test_encrypted_member_is_a_finding(tmp_path: Path) -> None:
    from harness.inspect import inspect_wheel

    w = make_wheel(tmp_path / "d")
    data = bytearray(w.read_bytes())
    # set the "encrypted" flag bit in every local and central header
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i != -1:
            data[i + off] |= 0x01
            i = data.find(sig, i + 4)
    w.write_bytes(bytes(data))
    wr = inspect_wheel(w)
    assert any(f.code == "archive.corrupt" and "encrypted" in f.message for f in wr.findings)
    assert not any(f.code == "harness.check-crashed" for f in wr.findings)


# ------------------------------------------------------------------ 9. bounded runs


def test_capture_keeps_head_and_tail_of_one_huge_line() -> None:
    code = "import sys; sys.stdout.write('H' + 'x' * (40 * 1024 * 1024) + 'T'); sys.stdout.flush()"
    done = proc.run([sys.executable, "-c", code], check=False, timeout=120, capture_bytes=1024)
    assert done.stdout.startswith("H")
    assert done.stdout.endswith("T")
    assert "bytes of output omitted" in done.stdout
    assert len(done.stdout) < 4096


def test_timeout_holds_with_background_children() -> None:
    done = proc.run(["sh", "-c", "sleep 300 & sleep 300"], check=False, timeout=1)
    assert done.timed_out


def test_kill_all_ends_running_commands() -> None:
    results: list[proc.Completed] = []
    t = threading.Thread(
        target=lambda: results.append(proc.run(["sleep", "300"], check=False, timeout=600)),
        daemon=True,
    )
    t.start()
    for _ in range(100):
        if proc._LIVE:
            break
        threading.Event().wait(0.05)
    proc.kill_all(stop=False)
    t.join(30)
    assert results
    assert results[0].returncode == -9


def test_release_refuses_non_http_and_path_names() -> None:
    from harness import release
    from harness.errors import InfraError

    with pytest.raises(InfraError, match="only http"):
        release._open("file:///etc/passwd", None, 5)
    assert not release._bare("../x-1-py3-none-any.whl")
    assert not release._bare("/abs/x-1-py3-none-any.whl")
    assert not release._bare("a\\b.whl")
    assert release._bare("x-1-py3-none-any.whl")


def test_zip_fixture_sanity(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "d")
    with zipfile.ZipFile(w) as zf:
        assert zf.testzip() is None


# ------------------------------------------------------------------ 6./7. bounded inspect


def test_binary_beyond_kept_budget_is_a_finding(tmp_path: Path) -> None:
    from harness.inspect import inspect_wheel
    from harness.wheel import Limits
    from tests.hostile_corpus import build

    case = build("glibc-small", tmp_path)
    wr = inspect_wheel(Path(case.argv[1]), Limits(max_kept_size=200))
    assert "harness.budget" in {f.code for f in wr.findings}
    full = inspect_wheel(Path(case.argv[1]))
    assert "manylinux.symbol-too-new" in {f.code for f in full.findings}
    assert full.wheel.contents == {}  # not held after the checks


def test_time_budget_stops_one_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import inspect as inspect_mod
    from harness.checks import CHECKS

    def slow(wheel: object, options: object) -> list[object]:
        threading.Event().wait(30)
        return []

    monkeypatch.setattr("harness.checks.CHECKS", (*CHECKS, ("slow", slow)))
    monkeypatch.setenv(inspect_mod.BUDGET_ENV, "0.5")
    w = make_wheel(tmp_path / "d")
    wr = inspect_mod.inspect_wheel(w)
    assert [f.code for f in wr.findings] == ["harness.budget"]


def test_findings_capped_per_code() -> None:
    from harness.findings import error
    from harness.inspect import cap_findings

    capped = cap_findings([error("record.unlisted", f"x{i}") for i in range(1000)], per_code=10)
    assert len(capped) == 11
    assert "990 more" in capped[-1].message


def test_pypi_refuses_compression_other_than_deflate(tmp_path: Path) -> None:
    from harness.promote import rules
    from tests.hostile_corpus import wheel

    bz = wheel(tmp_path / "bz", {"hostile/__init__.py": b"x = 1\n"}, compression=zipfile.ZIP_BZIP2)
    ok = wheel(tmp_path / "ok", {"hostile/__init__.py": b"x = 1\n"})
    assert any("stored or deflate" in r for r in rules.pypi_refusals(bz))
    assert rules.compression_refusals(ok) == []


# ------------------------------------------------------------------ 10. per-target policy


def test_policy_keeps_pypi_rules_off_files_not_sent_there(tmp_path: Path) -> None:
    from harness.promote.engine import refusals
    from harness.promote.policy import build
    from harness.promote.targets import parse_target

    w = make_wheel(tmp_path / "d", version="2.0.0", tag="cp311-cp311-linux_x86_64")
    write_report(tmp_path / "r", [w])
    gate = evaluate(load_report(tmp_path / "r"))
    targets = [parse_target("pypi"), parse_target("s3://bucket-x/mirror")]
    assert refusals(gate, targets)  # PyPI would refuse linux_x86_64
    away = build([t.label for t in targets], cli_exclude=["pypi=*-linux_x86_64.whl"])
    assert refusals(gate, targets, away) == []


def test_exclude_option_is_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = make_wheel(tmp_path / "d")
    write_report(tmp_path / "r", [w])
    rc = main(["promote", str(tmp_path / "r"), "--to", "s3://bucket-x/p", "--exclude",
               "pypi=*t-*", "--dry-run"])  # fmt: skip
    assert rc == 2
    assert "not a --to target" in _one_line(capsys)


def test_policy_from_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.errors import InputError
    from harness.promote.cli import config_policy

    good = tmp_path / "good.toml"
    good.write_text('[tool.harness.promote]\nexclude = {pypi = ["*-cp314t-*"]}\n')
    assert config_policy(good) == {"exclude": {"pypi": ["*-cp314t-*"]}}
    assert config_policy(tmp_path / "absent.toml") == {}
    bad = tmp_path / "bad.toml"
    bad.write_text('[tool.harness.promote]\nexclude = {pypi = "*"}\n')
    with pytest.raises(InputError, match=r"bad.toml: \[tool.harness.promote\] exclude"):
        config_policy(bad)
