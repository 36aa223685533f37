"""harness promote against a pypiserver started with its DEFAULT settings (fallback to
pypi.org on: a project it does not hold is a redirect to another origin), on loopback."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from promote_servers import _bin, _process, free_port, harness_env, promote_support, run_promote

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def default_pypiserver(tmp: Path) -> Iterator[str]:
    packages = tmp / "packages"
    packages.mkdir(parents=True)
    port = free_port()
    argv = [_bin("pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port), str(packages)]
    with _process(argv, port, "/health", tmp / "pypiserver.log"):
        yield f"http://127.0.0.1:{port}/"


def test_dry_run_against_default_pypiserver(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheel = promote_support.make_wheel(dist, version="7.0.0")
    report = tmp_path / "report"
    promote_support.write_report(report, [wheel])
    with default_pypiserver(tmp_path / "srv") as url:
        cp = run_promote(
            report, "--to", url, "--dry-run", "--format", "json",
            env=harness_env(TWINE_PASSWORD="unused-token-123456"),
        )  # fmt: skip
    assert cp.returncode == 0, cp.stderr
    assert "Traceback" not in cp.stderr
    doc = json.loads(cp.stdout)
    # not on this index (pypiserver redirected to pypi.org): planned as an upload
    assert [(f["filename"], f["action"]) for f in doc["files"]] == [(wheel.name, "upload")]
