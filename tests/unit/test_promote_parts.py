"""Targets, redaction, PyPI rules, journal, simple-page parsing and the S3 pages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.errors import InputError, UsageError
from harness.promote import rules
from harness.promote.journal import FileEntry, FileState, Journal, RunOutcome, locked
from harness.promote.pypi import credentials_from_env, parse_simple_html, parse_simple_json
from harness.promote.s3 import MirrorFile, project_page, root_page
from harness.promote.targets import TargetKind, parse_target
from harness.redact import Redactor
from tests.unit.promote_support import REAL, YAPPI_CP311, make_wheel


def test_targets() -> None:
    pypi = parse_target("pypi")
    assert (pypi.upload_url, pypi.simple_url) == (
        "https://upload.pypi.org/legacy/",
        "https://pypi.org/simple/",
    )
    assert parse_target("https://upload.pypi.org/legacy").label == "pypi"
    assert parse_target("testpypi").simple_url == "https://test.pypi.org/simple/"
    local = parse_target("http://127.0.0.1:8080")
    assert (local.upload_url, local.simple_url) == (
        "http://127.0.0.1:8080/",
        "http://127.0.0.1:8080/simple/",
    )
    ware = parse_target("https://pkgs.example.com/repo/legacy/")
    assert ware.simple_url == "https://pkgs.example.com/repo/simple/"
    s3 = parse_target("s3://my-wheels/a/b/", endpoint_url="http://127.0.0.1:9000")
    assert (s3.kind, s3.bucket, s3.prefix, s3.label) == (
        TargetKind.S3, "my-wheels", "a/b", "s3://my-wheels/a/b"
    )  # fmt: skip
    assert parse_target("s3://bucket").prefix == ""


@pytest.mark.parametrize(
    "spec",
    ["ftp://x/", "s3://B/x", "s3://bucket/a/../b", "http://pypi.example.com/", "https://u:p@h/"],
)
def test_bad_targets(spec: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_target(spec)
    assert ":p@" not in str(info.value)


def test_redactor() -> None:
    r = Redactor.from_env(
        {"TWINE_PASSWORD": "s3cr3t/+=", "GITHUB_TOKEN": "ghp_abcdefgh123", "CI_TOKEN": "true"}
    )
    r.add_basic_auth("user", "s3cr3t/+=")
    text = r(
        "https://user:s3cr3t%2F%2B%3D@h/x s3cr3t/+= ghp_abcdefgh123 Basic dXNlcjpzM2NyM3QvKz0= true"
    )
    assert "s3cr3t" not in text
    assert "ghp_" not in text
    assert "dXNlcjpzM2NyM3QvKz0=" not in text
    assert text.endswith("true")  # short values of secret-looking names are left alone
    assert "https://***@h/x" in text


def test_credentials_from_env() -> None:
    assert credentials_from_env({}) is None
    token = credentials_from_env({"TWINE_PASSWORD": "pypi-AgEI"})
    assert token is not None
    assert token.username == "__token__"
    assert "pypi-AgEI" not in repr(token)


def test_pypi_rules_on_real_wheels(tmp_path: Path) -> None:
    assert rules.pypi_refusals(REAL / YAPPI_CP311) == []
    for w in sorted(REAL.glob("yappi-*.whl")):
        assert rules.pypi_refusals(w) == [], w.name
    linux = make_wheel(tmp_path, version="1.0.0", tag="cp311-cp311-linux_x86_64")
    assert "linux_x86_64" in rules.pypi_refusals(linux)[0]
    renamed = make_wheel(tmp_path, version="1.0.1", meta_name="other-project")
    assert "does not match the file name" in rules.pypi_refusals(renamed)[0]
    reversioned = make_wheel(tmp_path, version="1.0.2", meta_version="1.0.3")
    assert "METADATA Version '1.0.3'" in rules.pypi_refusals(reversioned)[0]
    assert rules.platform_refusal("macosx_11_0_arm64") is None
    assert rules.platform_refusal("musllinux_1_2_x86_64") is None
    assert rules.platform_refusal("manylinux_2_17_sparc") is not None
    corrupt = tmp_path / "harness_promote_demo-2.0-py3-none-any.whl"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    assert "not a readable wheel" in rules.pypi_refusals(corrupt)[0]


def test_journal_roundtrip_and_atomic_write(tmp_path: Path) -> None:
    j = Journal.load(tmp_path)
    j.start_run(report_sha256="a" * 64, targets=("pypi",))
    j.record_file(
        FileEntry(target="pypi", filename="x.whl", sha256="b" * 64, state=FileState.UPLOADED,
                  location="https://x", at="2025-01-01T00:00:00+00:00", attempts=1)
    )  # fmt: skip
    j.finish_run(RunOutcome.COMPLETE)
    again = Journal.load(tmp_path)
    assert again.to_json() == j.to_json()
    assert again.file("pypi", "x.whl").state is FileState.UPLOADED  # type: ignore[union-attr]
    assert sorted(os.listdir(tmp_path)) == ["promote-journal.json"]  # no temp files left
    (tmp_path / "promote-journal.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(InputError, match="not a valid promotion journal"):
        Journal.load(tmp_path)


def test_one_promotion_per_report_dir(tmp_path: Path) -> None:
    with locked(tmp_path), pytest.raises(UsageError, match="another harness promote"):  # noqa: SIM117
        with locked(tmp_path):
            pass


def test_simple_page_parsing() -> None:
    page = "http://h/simple/yappi/"
    html = (
        '<a href="../../packages/yappi-1.7.6-cp311-cp311-win32.whl#sha256=ABC">x</a>'
        '<a href="/p/yappi-1.7.5.tar.gz#md5=123">yappi-1.7.5.tar.gz</a>'
    )
    found = parse_simple_html(page, html)
    win = found["yappi-1.7.6-cp311-cp311-win32.whl"]
    assert win.url == "http://h/packages/yappi-1.7.6-cp311-cp311-win32.whl"
    assert win.hashes == {"sha256": "abc"}
    assert found["yappi-1.7.5.tar.gz"].hashes == {"md5": "123"}
    doc = {"files": [{"filename": "a.whl", "url": "../a.whl", "hashes": {"sha256": "D"}}]}
    assert parse_simple_json(page, doc)["a.whl"].hashes == {"sha256": "d"}


def test_pages() -> None:
    files = [
        MirrorFile(filename="demo-1.0+local-py3-none-any.whl", sha256="c" * 64,
                   requires_python=">=3.8,<4"),
        MirrorFile(filename="demo-0.9-py3-none-any.whl", sha256="d" * 64, requires_python=None),
    ]  # fmt: skip
    page = project_page("demo", files)
    assert 'href="../../packages/demo/demo-1.0%2Blocal-py3-none-any.whl#sha256=' in page
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in page
    assert page.index("demo-0.9") < page.index("demo-1.0")
    # what pip's parser sees: the same file names and hashes back
    parsed = parse_simple_html("https://m/simple/demo/", page)
    assert parsed["demo-1.0+local-py3-none-any.whl"].hashes == {"sha256": "c" * 64}
    assert 'href="demo/"' in root_page(["demo", "demo"])
