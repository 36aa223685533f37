"""harness.verify.deps: which requirements a cell must have, and where they come from."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from harness import config
from harness.verify import deps


def _wheel(tmp_path: Path, requires: list[str]) -> Path:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    meta = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo/__init__.py", "")
        zf.writestr("demo-1.0.dist-info/METADATA", meta)
        zf.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
    return path


def test_runtime_requirements_keep_markers_for_the_env_and_drop_extras(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path,
        [
            "six>=1.16",
            'tomli; python_version < "3.11"',
            'pytest; extra == "test"',
            'coverage; python_version >= "3.9" and extra == "cov"',
        ],
    )
    # the env's pip evaluates python_version; extras nobody asked for are not needed
    assert deps.runtime_requirements(wheel) == ["six>=1.16", 'tomli; python_version < "3.11"']
    assert deps.runtime_requirements(_wheel(tmp_path, [])) == []


def test_index_url_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    assert deps.index_url(config.Config()) == "https://pypi.org/simple/"
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple/")
    assert deps.index_url(config.Config()) == "https://mirror.example/simple/"
    cfg = config.Config(index_url="https://mine.example/simple/")
    assert deps.index_url(cfg) == "https://mine.example/simple/"
    # never in the report's config: an index URL may carry a token
    assert "index_url" not in cfg.to_json()


def test_ca_bundle_is_the_one_this_process_trusts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in deps.CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert deps.ca_bundle() is None
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert deps.ca_bundle() is None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert deps.ca_bundle() == bundle


def test_only_dependencies_stay(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, ["six"])
    out = tmp_path / "out"
    out.mkdir()
    for name in (
        "demo-1.0-py3-none-any.whl",
        "Demo-0.9-py3-none-any.whl",
        "six-1.17.0-py2.py3-none-any.whl",
        "junk.whl",
    ):
        (out / name).write_bytes(b"x")
    deps._keep_only_dependencies(out, wheel)
    assert sorted(p.name for p in out.iterdir()) == ["six-1.17.0-py2.py3-none-any.whl"]
