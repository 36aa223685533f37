"""Faults on loopback: the fault proxy in front of the real pypiserver / moto answers 500,
cuts the upload half-way, or loses the answer after the server stored the file; a Ctrl-C
lands mid-upload. The same command run again completes, and nothing reaches the server
twice (the proxy's log of what the upstream server received is the witness)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from promote_servers import (
    FaultProxy,
    MotoServer,
    PypiServer,
    assert_secret_absent,
    fault_proxy,
    harness_env,
    motoserver,
    promote_support,
    pypiserver,
    run_promote,
)

from tests.integration.children import default_sigint

pytestmark = pytest.mark.integration

CANARY = "canary-faults-3b7e2a91"
WAIT_S = 120  # bound for waiting on an event, never a timed assertion


@pytest.fixture
def wheels(tmp_path: Path) -> list[Path]:
    dist = tmp_path / "dist"
    return [promote_support.make_wheel(dist, version=f"1.0.{i}") for i in range(3)]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[tuple[PypiServer, FaultProxy]]:
    with pypiserver(tmp_path / "srv", CANARY) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        with fault_proxy(port) as proxy:
            yield server, proxy


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[tuple[MotoServer, FaultProxy]]:
    with motoserver(tmp_path / "moto", secret=CANARY) as server:
        port = int(server.endpoint.rsplit(":", 1)[1])
        with fault_proxy(port) as proxy:
            yield server, proxy


def _pypi_env(server: PypiServer) -> dict[str, str]:
    return harness_env(TWINE_USERNAME=server.username, TWINE_PASSWORD=server.password)


def _posts(proxy: FaultProxy) -> list[int]:
    """Statuses of the uploads that reached pypiserver."""
    return [status for method, _, status in proxy.log if method == "POST"]


def _journal(report: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((report / "promote-journal.json").read_text())
    return doc


def _states(report: Path) -> dict[str, str]:
    return {f["filename"]: f["state"] for f in _journal(report)["files"]}


def _uploads_once(server: PypiServer, proxy: FaultProxy, wheels: list[Path]) -> None:
    assert _posts(proxy) == [200] * len(wheels)  # each file reached the server once; no 409
    assert sorted(p.name for p in server.packages.iterdir()) == sorted(w.name for w in wheels)
    for w in wheels:
        assert (server.packages / w.name).read_bytes() == w.read_bytes()


@pytest.mark.parametrize("fault", ["500", "drop-mid"])
def test_pypi_fault_then_rerun_completes(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy], wheels: list[Path], fault: str
) -> None:
    server, proxy = index
    broken = [True]
    proxy.rule = lambda m, p, n: fault if m == "POST" and n == 2 and broken[0] else "pass"
    report = tmp_path / "report"
    promote_support.write_report(report, wheels)
    args = ["--to", proxy.url, "--retries", "0"]

    first = run_promote(report, *args, env=_pypi_env(server))
    assert first.returncode == 3, first.stdout + first.stderr
    assert "run the same command again to resume" in first.stderr
    assert "Traceback" not in first.stderr
    assert _states(report) == {wheels[0].name: "uploaded", wheels[1].name: "failed"}
    assert _journal(report)["runs"][-1]["outcome"] == "failed"
    assert proxy.faults == [("POST", "/", fault)]

    broken[0] = False
    second = run_promote(report, *args, env=_pypi_env(server))
    assert second.returncode == 0, second.stderr
    assert "resuming the promotion" in second.stderr
    assert _states(report) == {w.name: "uploaded" for w in wheels}
    _uploads_once(server, proxy, wheels)
    for cp in (first, second):
        assert_secret_absent(CANARY, cp, report)


def test_pypi_500_is_retried_in_the_same_run(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy], wheels: list[Path]
) -> None:
    server, proxy = index
    proxy.rule = lambda m, p, n: "500" if m == "POST" and n == 1 else "pass"
    report = tmp_path / "report"
    promote_support.write_report(report, wheels)
    cp = run_promote(
        report, "--to", proxy.url, "--retries", "1", "--format", "json", env=_pypi_env(server)
    )
    assert cp.returncode == 0, cp.stderr
    attempts = [f["attempts"] for f in json.loads(cp.stdout)["files"]]
    assert attempts == [2, 1, 1]
    _uploads_once(server, proxy, wheels)


def test_pypi_answer_lost_after_the_server_stored_it(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy], wheels: list[Path]
) -> None:
    """The worst case: the file landed, the client saw a dropped connection. The harness
    asks the index before resending, finds the same sha256 and does not upload again."""
    server, proxy = index
    proxy.rule = lambda m, p, n: "drop-after" if m == "POST" and n == 2 else "pass"
    report = tmp_path / "report"
    promote_support.write_report(report, wheels)
    cp = run_promote(report, "--to", proxy.url, "--retries", "3", env=_pypi_env(server))
    assert cp.returncode == 0, cp.stderr
    assert proxy.faults == [("POST", "/", "drop-after")]
    _uploads_once(server, proxy, wheels)
    assert _states(report) == {w.name: "uploaded" for w in wheels}


def test_ctrl_c_mid_upload_then_rerun(
    tmp_path: Path, index: tuple[PypiServer, FaultProxy], wheels: list[Path]
) -> None:
    server, proxy = index
    reached, release = threading.Event(), threading.Event()

    def rule(method: str, path: str, nth: int) -> str:
        if method == "POST" and nth == 2:
            reached.set()
            release.wait(WAIT_S)
            return "drop-mid"
        return "pass"

    proxy.rule = rule
    report = tmp_path / "report"
    promote_support.write_report(report, wheels)
    argv = [sys.executable, "-m", "harness", "promote", str(report), "--to", proxy.url]
    proc = subprocess.Popen(
        argv,
        env=_pypi_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # noqa: PLW1509
    )
    try:
        assert reached.wait(WAIT_S), "the second upload never reached the proxy"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert CANARY not in out + err
    assert _states(report) == {wheels[0].name: "uploaded", wheels[1].name: "uploading"}
    assert _journal(report)["runs"][-1]["outcome"] == "interrupted"

    second = run_promote(report, "--to", proxy.url, env=_pypi_env(server))
    assert second.returncode == 0, second.stderr
    _uploads_once(server, proxy, wheels)
    assert_secret_absent(CANARY, second, report)


def _s3_puts(proxy: FaultProxy) -> dict[str, int]:
    counts: dict[str, int] = {}
    for method, path, status in proxy.log:
        if method == "PUT" and status == 200:
            counts[path] = counts.get(path, 0) + 1
    return counts


@pytest.mark.parametrize("fault", ["500", "drop-mid"])
def test_s3_fault_then_rerun_completes_and_index_comes_last(
    tmp_path: Path, s3: tuple[MotoServer, FaultProxy], wheels: list[Path], fault: str
) -> None:
    server, proxy = s3
    broken = [True]
    victim = wheels[1].name
    proxy.rule = lambda m, p, n: (
        fault if m == "PUT" and p.endswith(victim) and broken[0] else "pass"
    )
    report = tmp_path / "report"
    promote_support.write_report(report, wheels)
    args = ["--to", f"s3://{server.bucket}/m", "--endpoint-url", proxy.url.rstrip("/")]
    env = harness_env(**server.env)

    first = run_promote(report, *args, "--retries", "1", env=env)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    client: Any = server.client()
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=server.bucket).get("Contents", [])}
    assert not any("/simple/" in k for k in keys), "an index advertised a missing file"
    assert f"m/packages/harness-promote-demo/{victim}" not in keys
    assert len(proxy.faults) == 2  # the first attempt and the one retry

    broken[0] = False
    second = run_promote(report, *args, env=env)
    assert second.returncode == 0, second.stderr
    puts = _s3_puts(proxy)
    for w in wheels:
        assert puts[f"/{server.bucket}/m/packages/harness-promote-demo/{w.name}"] == 1
    page = client.get_object(Bucket=server.bucket, Key="m/simple/harness-promote-demo/")
    text = page["Body"].read().decode()
    assert all(w.name in text for w in wheels)
    for cp in (first, second):
        assert_secret_absent(CANARY, cp, report)


def test_s3_answer_lost_after_the_store_kept_it(
    tmp_path: Path, s3: tuple[MotoServer, FaultProxy], wheels: list[Path]
) -> None:
    server, proxy = s3
    victim = wheels[1].name
    proxy.rule = lambda m, p, n: "drop-after" if m == "PUT" and p.endswith(victim) else "pass"
    report = tmp_path / "report"
    promote_support.write_report(report, wheels)
    cp = run_promote(
        report,
        "--to",
        f"s3://{server.bucket}/m",
        "--endpoint-url",
        proxy.url.rstrip("/"),
        env=harness_env(**server.env),
    )
    assert cp.returncode == 0, cp.stderr
    assert proxy.faults == [("PUT", f"/{server.bucket}/m/packages/harness-promote-demo/{victim}",
                             "drop-after")]  # fmt: skip
    puts = _s3_puts(proxy)
    for w in wheels:
        assert puts[f"/{server.bucket}/m/packages/harness-promote-demo/{w.name}"] == 1
