"""Hostile wheels through a real host-mode verify (real pip, real venvs, real smoke suites):
a secret printed by the code under test reaches no report file; code that ends the process
early with status 0 fails its suite instead of passing it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.__main__ import main
from tests.integration.test_verify_host import HOST_WHEEL, rewrite_wheel

pytestmark = pytest.mark.integration

SECRET = "pypi-AgEIcHlwaS5vcmcCJGhvc3RpbGUtY2FuYXJ5"


def _verify(tmp_path: Path, body: bytes) -> tuple[int, dict[str, object], Path]:
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = rewrite_wheel(HOST_WHEEL, dist / HOST_WHEEL.name, {"yappi.py": body})
    reports = tmp_path / "reports"
    rc = main(["verify", str(wheel), "--report-dir", str(reports), "--timeout", "300"])
    return rc, json.loads((reports / "report.json").read_text()), reports


def _run(doc: dict[str, object]) -> dict[str, object]:
    runs = [r for r in doc["runs"] if r["status"] != "skipped"]  # type: ignore[attr-defined]
    assert len(runs) == 1
    return runs[0]  # type: ignore[no-any-return]


def test_secret_from_smoke_run_reaches_no_report_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", SECRET)
    body = f"print({SECRET!r})\nraise RuntimeError('token ' + {SECRET!r})\n".encode()
    rc, doc, reports = _verify(tmp_path, body)
    assert rc == 1
    run = _run(doc)
    checks = next(s for s in run["steps"] if s["name"] == "smoke:import")["detail"]["checks"]  # type: ignore[index]
    assert any("***" in c["error"] for c in checks)
    for path in reports.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path
    out, err = capsys.readouterr()
    assert SECRET not in out + err


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_early_exit_zero_fails_the_import_suite(tmp_path: Path, exit_call: str) -> None:
    rc, doc, _ = _verify(tmp_path, f"{exit_call}\n".encode())
    assert rc == 1
    run = _run(doc)
    assert run["status"] == "failed"
    assert "import suite" in str(run["reason"])


def _pids_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_sigint_to_the_harness_alone_stops_host_mode_at_once(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.integration.children import default_sigint
    from tests.unit.promote_support import make_wheel

    marker = f"hostile-sleep-{os.getpid()}"
    config = tmp_path / "pyproject.toml"
    config.write_text(
        "[tool.harness]\n"
        'suites = ["test-command"]\n'
        f"test-command = \"python -c 'import time; time.sleep(300)' {marker}\"\n"
    )
    wheel = make_wheel(tmp_path / "dist")
    p = subprocess.Popen(
        [sys.executable, "-m", "harness", "verify", str(wheel), "--config", str(config),
         "--report-dir", str(tmp_path / "r"), "--timeout", "600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=default_sigint,  # noqa: PLW1509
    )  # fmt: skip
    try:
        for _ in range(1200):  # the smoke step is running (venv and install come first)
            if _pids_with(marker):
                break
            time.sleep(0.1)
        assert _pids_with(marker), "the test command never started"
        os.kill(p.pid, signal.SIGINT)  # the harness process alone, not its group
        rc = p.wait(timeout=120)  # far less than the 600 s step timeout
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert rc == 130
    assert p.stderr is not None
    assert b"Traceback" not in p.stderr.read()
    assert _pids_with(marker) == []  # the step's process group went with it
