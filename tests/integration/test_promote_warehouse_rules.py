"""Warehouse's index-side upload rules, refused before anything is sent: asked of the real
PyPI (read-only: --dry-run, no credentials), and shown not to apply to a real pypiserver
(which has none of them).

PyPI facts these tests stand on (https://pypi.org/simple/yappi/, PEP 691 + PEP 700): yappi
1.7.6 was released on 2026-03-17, its cp311 manylinux wheel is tests/data/real's, and yappi
has no release 99.0.0 and no pure-Python wheel for 1.7.6.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from promote_servers import harness_env, promote_support, pypiserver, run_promote

pytestmark = pytest.mark.integration

REAL_YAPPI = promote_support.REAL / promote_support.YAPPI_CP311
# the same bytes under another name: a build tag added by renaming
TWIN = promote_support.YAPPI_CP311.replace("yappi-1.7.6-", "yappi-1.7.6-1-", 1)
TLS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")


def _dist(tmp_path: Path) -> dict[str, Path]:
    if not REAL_YAPPI.exists():
        pytest.fail(f"{REAL_YAPPI} missing (tests/data/fetch_real.py)")
    dist = tmp_path / "dist"
    dist.mkdir()
    present = dist / REAL_YAPPI.name
    shutil.copy(REAL_YAPPI, present)
    twin = dist / TWIN
    shutil.copy(REAL_YAPPI, twin)
    return {
        "present": present,
        "twin": twin,
        "late": promote_support.make_wheel(dist, name="yappi", version="1.7.6"),
        "new": promote_support.make_wheel(dist, name="yappi", version="99.0.0"),
    }


def test_pypi_refuses_late_files_and_renamed_content_up_front(tmp_path: Path) -> None:
    files = _dist(tmp_path)
    report = tmp_path / "report"
    promote_support.write_report(report, list(files.values()))
    env = harness_env(**{k: os.environ[k] for k in TLS if k in os.environ})

    cp = run_promote(report, "--to", "pypi", "--dry-run", "--format", "json", env=env)
    assert cp.returncode == 1, cp.stderr
    assert "Traceback" not in cp.stderr
    assert cp.stderr.startswith("harness: error: promotion refused, nothing uploaded: 2 file(s)")
    doc = json.loads(cp.stdout)
    assert doc["outcome"] == "refused"
    refused = {r["filename"]: r["reasons"] for r in doc["refused"]}
    assert set(refused) == {files["late"].name, files["twin"].name}
    (late,) = refused[files["late"].name]
    assert "release 1.7.6 was created 2026-03-17" in late
    assert "older than 14 days" in late
    assert late.endswith("(--to pypi)")
    twin = refused[files["twin"].name]
    assert any(f"same bytes are already there as {REAL_YAPPI.name}" in r for r in twin)
    assert any("older than 14 days" in r for r in twin)


def test_pypi_old_release_still_answers_present_and_new_versions_go(tmp_path: Path) -> None:
    files = _dist(tmp_path)
    report = tmp_path / "report"
    # the file PyPI already has (same sha256) and a new version: nothing to refuse
    promote_support.write_report(report, [files["present"], files["new"]])
    env = harness_env(**{k: os.environ[k] for k in TLS if k in os.environ})

    cp = run_promote(report, "--to", "pypi", "--dry-run", "--format", "json", env=env)
    assert cp.returncode == 0, cp.stderr
    actions = {f["filename"]: f["action"] for f in json.loads(cp.stdout)["files"]}
    assert actions == {files["present"].name: "skip", files["new"].name: "upload"}


def test_pypiserver_has_no_warehouse_rules(tmp_path: Path) -> None:
    files = _dist(tmp_path)
    with pypiserver(tmp_path / "srv", "pw-0123456789") as server:
        (server.packages / REAL_YAPPI.name).write_bytes(REAL_YAPPI.read_bytes())
        report = tmp_path / "report"
        promote_support.write_report(report, [files["present"], files["twin"], files["late"]])
        env = harness_env(TWINE_USERNAME=server.username, TWINE_PASSWORD=server.password)
        cp = run_promote(report, "--to", server.url, "--format", "json", env=env)
        assert cp.returncode == 0, cp.stderr
        results = {f["filename"]: f["result"] for f in json.loads(cp.stdout)["files"]}
        assert results == {
            files["present"].name: "present",
            files["twin"].name: "uploaded",
            files["late"].name: "uploaded",
        }
        assert sorted(p.name for p in server.packages.iterdir()) == sorted(
            p.name for p in files.values() if p is not files["new"]
        )
