"""PyPI's own upload rules (warehouse/forklift/legacy.py, warehouse/forklift/metadata.py,
warehouse/utils/wheel.py) checked before upload: each rule on a real yappi 1.7.6 wheel
changed in one place (RECORD rebuilt, so nothing else is wrong), and the unchanged wheel
that passes it."""

from __future__ import annotations

import base64
import hashlib
import random
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.findings import Finding, Severity
from harness.inspect import inspect_wheel
from harness.promote import rules

REAL = Path(__file__).parent.parent / "data" / "real"
YAPPI = REAL / (
    "yappi-1.7.6-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
)
DI = "yappi-1.7.6.dist-info"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def rewrite(
    tmp_path: Path,
    changes: dict[str, bytes | None],
    *,
    filename: str = YAPPI.name,
    dist_info: str = DI,
    source: Path = YAPPI,
) -> Path:
    """``source`` with members replaced, added or (None) removed, the .dist-info directory
    renamed to ``dist_info``, saved as ``filename``, RECORD rebuilt."""
    with zipfile.ZipFile(source) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    members.pop(f"{DI}/RECORD")
    for name, data in changes.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    members = {
        (dist_info + n[len(DI) :] if n.startswith(DI + "/") else n): d for n, d in members.items()
    }
    record = [f"{n},sha256={_b64(d)},{len(d)}" for n, d in members.items()]
    members[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / filename
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            info = zipfile.ZipInfo(n, date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(info, d, zipfile.ZIP_DEFLATED)
    return out


def metadata(**replace: str | None) -> bytes:
    """yappi's METADATA with header fields replaced (None removes the field)."""
    with zipfile.ZipFile(YAPPI) as zf:
        text = zf.read(f"{DI}/METADATA").decode()
    head, sep, body = text.partition("\n\n")
    lines = head.splitlines()
    for field, value in replace.items():
        key = field.replace("_", "-")
        lines = [ln for ln in lines if not ln.lower().startswith(key.lower() + ":")]
        if value is not None:
            lines.insert(1, f"{key}: {value}")
    return ("\n".join(lines) + sep + body).encode()


def found(path: Path, code: str) -> list[Finding]:
    return [f for f in inspect_wheel(path).findings if f.code == code]


def errors(path: Path) -> set[str]:
    return {f.code for f in inspect_wheel(path).findings if f.severity is Severity.ERROR}


def test_the_rewritten_wheel_is_clean(tmp_path: Path) -> None:
    assert errors(rewrite(tmp_path, {})) == set()


# ------------------------------------------------------------------ License-File (PEP 639)


def test_license_file_must_be_under_dist_info_licenses(tmp_path: Path) -> None:
    with zipfile.ZipFile(YAPPI) as zf:
        text = zf.read(f"{DI}/licenses/LICENSE")
    moved = rewrite(tmp_path, {f"{DI}/licenses/LICENSE": None, f"{DI}/LICENSE": text})
    (problem,) = found(moved, "metadata.license")
    assert problem.severity is Severity.ERROR
    assert f"{DI}/licenses/LICENSE" in problem.message
    assert "setuptools < 77" in problem.message  # it says where the file is instead
    gone = rewrite(tmp_path / "gone", {f"{DI}/licenses/LICENSE": None})
    assert [f.evidence["license_file"] for f in found(gone, "metadata.license")] == ["LICENSE"]
    assert found(rewrite(tmp_path / "ok", {}), "metadata.license") == []


def test_license_file_in_old_metadata_version_is_only_a_warning(tmp_path: Path) -> None:
    # bcrypt 5.0.0 as published: License-File in Metadata-Version 2.1 (setuptools < 77).
    # twine drops the field from the upload, so PyPI never checks it: a warning.
    w = REAL / "bcrypt-5.0.0-cp39-abi3-win_amd64.whl"
    assert "metadata.license" not in errors(w)
    assert [f.severity for f in found(w, "metadata.invalid")] == [Severity.WARNING]


def test_license_and_license_expression_are_exclusive(tmp_path: Path) -> None:
    both = rewrite(tmp_path, {f"{DI}/METADATA": metadata(license_expression="MIT")})
    (problem,) = found(both, "metadata.license")
    assert "mutually exclusive" in problem.message
    only = rewrite(
        tmp_path / "only", {f"{DI}/METADATA": metadata(license_expression="MIT", license=None)}
    )
    assert errors(only) == set()


def test_license_expression_must_be_spdx(tmp_path: Path) -> None:
    bad = rewrite(
        tmp_path,
        {f"{DI}/METADATA": metadata(license_expression="MIT OR Nonsense-1.0", license=None)},
    )
    (problem,) = found(bad, "metadata.invalid")
    assert problem.severity is Severity.ERROR
    assert problem.evidence["field"] == "license-expression"
    good = rewrite(
        tmp_path / "good",
        {f"{DI}/METADATA": metadata(license_expression="MIT OR Apache-2.0", license=None)},
    )
    assert errors(good) == set()


# ------------------------------------------------------------------ entry_points.txt


@pytest.mark.parametrize(
    ("text", "severity", "says"),
    [
        (b"[console_scripts]\nyappi = yappi:main\nyappi = yappi:other\n", "error", "INI"),
        (b"[console_scripts]\nyappi yappi:main\n", "error", "INI"),
        (b"yappi = yappi:main\n[console_scripts]\n", "error", "INI"),
        (b"[console_scripts]\n../../bin/yappi = yappi:main\n", "error", "script name"),
        (b"[console_scripts]\nmy yappi = yappi:main\n", "error", "script name"),
        (b"[console_scripts]\nyappi = yappi\n", "error", "module:callable"),
        (b"[gui_scripts]\nyappi = yappi:\n", "error", "object reference"),
        (b"[console_scripts]\nyappi = \xff\n", "error", "UTF-8"),
        (b"[yappi.plugins]\nbad = not a reference\n", "warning", "object reference"),
    ],
)
def test_invalid_entry_points(tmp_path: Path, text: bytes, severity: str, says: str) -> None:
    w = rewrite(tmp_path, {f"{DI}/entry_points.txt": text})
    problems = found(w, "entrypoints.invalid")
    assert problems, text
    assert {str(f.severity) for f in problems} == {severity}
    assert any(says in f.message for f in problems), [f.message for f in problems]


@pytest.mark.parametrize(
    "text",
    [
        b"[console_scripts]\nyappi = yappi:main\n",
        b"[console_scripts]\nyappi-3.11 = yappi:main\nYappi_GUI = yappi.gui : run [gui]\n",
        b"[gui_scripts]\nyappi.app = yappi.app:Main.run\n\n[pytest11]\nyappi = yappi.plugin\n",
        b"; a comment\n[console_scripts]\n# another\nyappi = yappi:main\n",
    ],
)
def test_valid_entry_points(tmp_path: Path, text: bytes) -> None:
    w = rewrite(tmp_path, {f"{DI}/entry_points.txt": text})
    assert found(w, "entrypoints.invalid") == []
    assert errors(w) == set()


# ------------------------------------------------------------------ names PyPI derives paths from


def test_file_name_must_start_with_the_normalized_name(tmp_path: Path) -> None:
    w = rewrite(tmp_path, {}, filename="Y" + YAPPI.name[1:])
    messages = [f.message for f in found(w, "filename.invalid")]
    assert any("normalized project name 'yappi'" in m for m in messages), messages


def test_dist_info_must_be_spelled_as_in_the_file_name(tmp_path: Path) -> None:
    # pip finds Yappi-1.7.6.dist-info by its normalized name; PyPI looks for yappi-1.7.6.
    w = rewrite(tmp_path, {}, dist_info="Yappi-1.7.6.dist-info")
    (problem,) = found(w, "metadata.mismatch")
    assert "yappi-1.7.6.dist-info" in problem.message
    assert "PyPI looks for WHEEL" in problem.message
    w2 = rewrite(tmp_path / "v", {}, dist_info="yappi-1.7.6.0.dist-info")
    assert [f.evidence["expected"] for f in found(w2, "metadata.mismatch")] == [DI]


# ------------------------------------------------------------------ promote-only (PyPI policy)


def test_pypi_metadata_versions(tmp_path: Path) -> None:
    # packaging 26 accepts Metadata-Version 2.6; PyPI accepts up to 2.5 (forklift/metadata.py)
    newer = rewrite(tmp_path, {f"{DI}/METADATA": metadata(metadata_version="2.6")})
    assert errors(newer) == set()  # a valid file for pip: not an inspect error
    assert any("Metadata-Version '2.6'" in r for r in rules.pypi_refusals(newer))
    for version in ("2.1", "2.4", "2.5"):
        ok = rewrite(tmp_path / version, {f"{DI}/METADATA": metadata(metadata_version=version)})
        assert rules.pypi_refusals(ok) == [], version


def test_pypi_refuses_local_versions(tmp_path: Path) -> None:
    local = rewrite(
        tmp_path,
        {f"{DI}/METADATA": metadata(version="1.7.6+cu121")},
        filename=YAPPI.name.replace("1.7.6", "1.7.6+cu121"),
        dist_info="yappi-1.7.6+cu121.dist-info",
    )
    assert any("local version" in r for r in rules.pypi_refusals(local))


def _sparse(mib: int) -> bytes:
    """Zeros with one pseudo-random byte every 512: deflates about 130:1."""
    rng = random.Random(1)
    block = bytearray(1024 * 1024)
    for i in range(0, len(block), 512):
        block[i] = rng.getrandbits(8)
    return bytes(block) * mib


def test_pypi_compression_ratio(tmp_path: Path) -> None:
    # 70 MiB at ~130:1: within harness's archive.bomb limit (1000:1), beyond PyPI's 50:1
    sparse = rewrite(tmp_path, {"yappi/data.bin": _sparse(70)})
    assert errors(sparse) == set()
    assert any("50:1" in r for r in rules.pypi_refusals(sparse))
    small = rewrite(tmp_path / "s", {"yappi/data.bin": _sparse(8)})
    assert rules.pypi_refusals(small) == []  # 8 MiB: under PyPI's 64 MiB floor


# ------------------------------------------------------------------ index-side (warehouse)


def _page(*files: tuple[str, str, str | None]) -> dict[str, object]:
    """A PEP 691 JSON project page with PEP 700 upload times: (filename, sha256, time)."""
    return {
        "meta": {"api-version": "1.1"},
        "name": "yappi",
        "files": [
            {"filename": f, "url": f"../../packages/{f}", "hashes": {"sha256": h}}
            | ({"upload-time": t} if t is not None else {})
            for f, h, t in files
        ],
    }


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NEW = "yappi-1.7.6-cp315-cp315-manylinux_2_17_x86_64.whl"


def test_release_older_than_14_days_takes_no_new_file() -> None:
    from harness.promote import warehouse
    from harness.simple_index import parse_simple_json

    listing = parse_simple_json(
        "https://pypi.org/simple/yappi/",
        _page(
            ("yappi-1.7.6.tar.gz", "a" * 64, "2026-03-17T22:30:00.000000Z"),
            ("yappi-1.7.6-cp311-cp311-win_amd64.whl", "b" * 64, "2026-03-17T22:31:00Z"),
            ("yappi-1.7.7-cp311-cp311-win_amd64.whl", "c" * 64, "2026-11-20T10:00:00Z"),
        ),
    )
    (why,) = warehouse.refusals(NEW, "d" * 64, listing, now=NOW)
    assert "release 1.7.6 was created 2026-03-17" in why
    assert "older than 14 days" in why
    # a younger release (5 days) and a new version take new files
    newer = NEW.replace("1.7.6", "1.7.7")
    assert warehouse.refusals(newer, "d" * 64, listing, now=NOW) == []
    assert warehouse.refusals(NEW.replace("1.7.6", "1.8.0"), "d" * 64, listing, now=NOW) == []
    # exactly at the limit it is still open
    edge = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
    assert warehouse.refusals(NEW, "d" * 64, listing, now=edge) == []


def test_release_age_needs_upload_times() -> None:
    from harness.promote import warehouse
    from harness.simple_index import parse_simple_html, parse_simple_json

    listing = parse_simple_json(
        "https://x/simple/yappi/", _page(("yappi-1.7.6.tar.gz", "a" * 64, None))
    )
    assert warehouse.refusals(NEW, "d" * 64, listing, now=NOW) == []
    html = parse_simple_html(
        "https://x/simple/yappi/", '<a href="yappi-1.7.6.tar.gz#sha256=' + "a" * 64 + '">x</a>'
    )
    assert warehouse.refusals(NEW, "d" * 64, html, now=NOW) == []
    # a hostile timestamp is no timestamp
    bad = parse_simple_json(
        "https://x/simple/yappi/", _page(("yappi-1.7.6.tar.gz", "a" * 64, "yesterday"))
    )
    assert bad["yappi-1.7.6.tar.gz"].upload_time is None


def test_same_content_under_another_name_is_refused() -> None:
    from harness.promote import warehouse
    from harness.simple_index import parse_simple_json

    listing = parse_simple_json(
        "https://pypi.org/simple/yappi/",
        _page(("yappi-1.8.0-py3-none-any.whl", "e" * 64, "2026-11-24T00:00:00Z")),
    )
    renamed = "yappi-1.8.0-1-py3-none-any.whl"
    (why,) = warehouse.refusals(renamed, "e" * 64, listing, now=NOW)
    assert "same bytes are already there as yappi-1.8.0-py3-none-any.whl" in why
    assert warehouse.refusals(renamed, "f" * 64, listing, now=NOW) == []


def test_only_warehouse_targets_have_index_rules() -> None:
    from harness.promote.targets import parse_target

    assert parse_target("pypi").warehouse
    assert parse_target("testpypi").warehouse
    assert parse_target("https://pypi.example.org/legacy/").warehouse
    assert not parse_target("http://127.0.0.1:8080/").warehouse  # pypiserver
    assert not parse_target("https://devpi.example.org/root/prod/").warehouse
    assert not parse_target("s3://bucket-x/mirror").warehouse


@pytest.mark.parametrize(
    ("tag", "accepted"),
    [
        ("pyemscripten_2026_0_wasm32", True),  # msgpack, simplejson, charset-normalizer do it
        ("macosx_10_9_x86_64", True),
        ("macosx_11_0_arm64", True),
        ("macosx_26_0_universal2", True),
        ("macosx_11_3_arm64", False),  # 11+: X_0 only
        ("macosx_16_0_arm64", False),  # no macOS 16 (15 was followed by 26)
        ("musllinux_1_2_riscv64", True),
        ("musllinux_1_2_ppc64", False),  # manylinux only
        ("manylinux_2_17_ppc64", True),
        ("manylinux_2_36_loongarch64", False),
        ("ios_13_0_x86_64_iphonesimulator", True),
        ("android_24_arm64_v8a", True),
        ("linux_x86_64", False),
    ],
)
def test_pypi_platform_tags(tag: str, accepted: bool) -> None:
    assert (rules.platform_refusal(tag) is None) is accepted
