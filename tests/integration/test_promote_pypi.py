"""harness promote against a real pypiserver (password auth) on loopback, through a pass-
through proxy that counts what reaches the server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from promote_servers import (
    FaultProxy,
    PypiServer,
    assert_secret_absent,
    fault_proxy,
    fresh_venv,
    harness_env,
    pip_install,
    promote_support,
    pypiserver,
    run_promote,
)

pytestmark = pytest.mark.integration

CANARY = "canary-7f3a9c-Pa55!word"
REAL_YAPPI = promote_support.REAL / promote_support.YAPPI_CP311


@pytest.fixture
def index(tmp_path: Path) -> Iterator[tuple[PypiServer, FaultProxy]]:
    with pypiserver(tmp_path / "srv", CANARY) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        with fault_proxy(port) as proxy:
            yield server, proxy


def _env(server: PypiServer) -> dict[str, str]:
    return harness_env(TWINE_USERNAME=server.username, TWINE_PASSWORD=server.password)


def _uploads(proxy: FaultProxy) -> list[int]:
    return [status for method, _, status in proxy.log if method == "POST"]


def test_promote_rerun_and_pip_install(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy]
) -> None:
    server, proxy = index
    if not REAL_YAPPI.exists():
        pytest.fail(f"{REAL_YAPPI} missing (tests/data/fetch_real.py)")
    demo = promote_support.make_wheel(tmp_path / "dist", version="1.0.1")
    report = tmp_path / "report"
    promote_support.write_report(report, [REAL_YAPPI, demo])

    first = run_promote(report, "--to", proxy.url, "--format", "json", env=_env(server))
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["outcome"] == "complete"
    assert sorted(f["result"] for f in doc["files"]) == ["uploaded", "uploaded"]
    assert _uploads(proxy) == [200, 200]
    on_server = {p.name: promote_support.sha256(p) for p in server.packages.iterdir()}
    assert on_server == {
        REAL_YAPPI.name: promote_support.sha256(REAL_YAPPI),
        demo.name: promote_support.sha256(demo),
    }
    assert "uploaded" in first.stderr  # one progress line per file
    assert first.stderr.count(f"{proxy.url}: uploaded") == 2

    second = run_promote(report, "--to", proxy.url, env=_env(server))
    assert second.returncode == 0, second.stderr
    assert _uploads(proxy) == [200, 200]  # nothing sent the second time
    assert "0 uploaded, 2 already present" in second.stdout

    journal = json.loads((report / "promote-journal.json").read_text())
    assert journal["schema"] == "harness-promote-journal/1"
    states = {f["filename"]: f["state"] for f in journal["files"]}
    assert states == {REAL_YAPPI.name: "uploaded", demo.name: "uploaded"}
    assert [r["outcome"] for r in journal["runs"]] == ["complete", "complete"]
    for cp in (first, second):
        assert_secret_absent(CANARY, cp, report)

    python = fresh_venv(tmp_path)
    pip_install(python, server.auth_simple(), "yappi==1.7.6", "harness-promote-demo")
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import yappi, harness_promote_demo as d, threading\n"
            "yappi.start(); threading.Thread(target=sum, args=([1, 2],)).start(); yappi.stop()\n"
            "assert len(yappi.get_func_stats()) > 0\n"
            "print(yappi.__file__, d.__version__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split()[1] == "1.0.1"
    assert str(tmp_path / "venv") in probe.stdout


def test_same_name_other_content_is_an_error(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy]
) -> None:
    server, proxy = index
    ours = promote_support.make_wheel(tmp_path / "dist", version="2.0.0", payload="ours")
    theirs = promote_support.make_wheel(tmp_path / "other", version="2.0.0", payload="theirs")
    assert ours.name == theirs.name
    (server.packages / theirs.name).write_bytes(theirs.read_bytes())
    fresh = promote_support.make_wheel(tmp_path / "dist", version="2.0.1")
    report = tmp_path / "report"
    promote_support.write_report(report, [ours, fresh])

    cp = run_promote(report, "--to", proxy.url, env=_env(server))
    assert cp.returncode == 1, cp.stderr
    assert "already exists there with other content" in cp.stderr
    assert ours.name in cp.stderr
    assert _uploads(proxy) == []  # not even the file without a clash
    assert (server.packages / ours.name).read_bytes() == theirs.read_bytes()
    assert_secret_absent(CANARY, cp, report)


@pytest.mark.parametrize("case", ["failed-report", "tampered", "not-in-report", "linux-tag"])
def test_refusals_upload_nothing(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy], case: str
) -> None:
    server, proxy = index
    dist = tmp_path / "dist"
    good = promote_support.make_wheel(dist, version="3.0.0")
    report = tmp_path / "report"
    args = ["--to", proxy.url]
    if case == "failed-report":
        promote_support.write_report(
            report, [good], verdict="fail", run_status={good.name: "failed"}
        )
        expect = "run host/3.11 failed: smoke test crashed"
    elif case == "tampered":
        promote_support.write_report(report, [good])
        promote_support.make_wheel(dist, version="3.0.0", payload="changed after verify")
        expect = "changed after verification"
    elif case == "not-in-report":
        promote_support.write_report(report, [good])
        promote_support.make_wheel(dist, version="3.0.1")
        args += ["--dist", str(dist)]
        expect = "is not in the report"
    else:
        linux = promote_support.make_wheel(dist, version="3.0.2", tag="cp311-cp311-linux_x86_64")
        promote_support.write_report(report, [good, linux])
        # inspected again at promote: the tag PyPI refuses is an error finding today
        expect = "re-inspected at promote: error finding platform.untagged"

    cp = run_promote(report, *args, env=_env(server))
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "promotion refused, nothing uploaded" in cp.stderr
    assert expect in cp.stdout
    assert "Traceback" not in cp.stderr
    assert _uploads(proxy) == []
    assert list(server.packages.iterdir()) == []
    assert_secret_absent(CANARY, cp, report)


def test_wrong_password_fails_without_printing_it(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy]
) -> None:
    server, proxy = index
    good = promote_support.make_wheel(tmp_path / "dist", version="4.0.0")
    report = tmp_path / "report"
    promote_support.write_report(report, [good])
    wrong = "canary-wrong-0d9e1b"
    env = harness_env(TWINE_USERNAME=server.username, TWINE_PASSWORD=wrong)
    cp = run_promote(report, "--to", proxy.url, env=env)
    assert cp.returncode == 3, cp.stdout + cp.stderr
    assert "HTTP 40" in cp.stderr
    assert "Traceback" not in cp.stderr
    assert list(server.packages.iterdir()) == []
    assert_secret_absent(wrong, cp, report)

    in_url = proxy.url.replace("http://", f"http://{server.username}:{CANARY}@")
    cp = run_promote(report, "--to", in_url, env=_env(server))
    assert cp.returncode == 2
    assert "credentials in the URL are not accepted" in cp.stderr
    assert_secret_absent(CANARY, cp, report)


def test_dry_run_prints_the_plan_and_changes_nothing(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy]
) -> None:
    server, proxy = index
    dist = tmp_path / "dist"
    there = promote_support.make_wheel(dist, version="6.0.0")
    new = promote_support.make_wheel(dist, version="6.0.1")
    (server.packages / there.name).write_bytes(there.read_bytes())
    report = tmp_path / "report"
    promote_support.write_report(report, [there, new])
    before = sorted(p.name for p in report.iterdir())

    cp = run_promote(report, "--to", proxy.url, "--dry-run", "--format", "json", env=_env(server))
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "planned"
    assert {f["filename"]: f["action"] for f in doc["files"]} == {
        there.name: "skip",
        new.name: "upload",
    }
    text = run_promote(report, "--to", proxy.url, "--dry-run", env=_env(server))
    assert "dry run: nothing uploaded, nothing written" in text.stdout
    assert _uploads(proxy) == []
    assert sorted(p.name for p in server.packages.iterdir()) == [there.name]
    assert sorted(p.name for p in report.iterdir()) == before  # no journal, no lock file
    assert_secret_absent(CANARY, cp, report)
