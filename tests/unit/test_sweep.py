"""Sweep parts without servers: the diff, the SQLite history under concurrent writers,
identities and the Debian archive parsing behind --refresh, release picking, rendering."""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from harness.__main__ import main
from harness.errors import InfraError, InputError, UsageError
from harness.sweep import identity
from harness.sweep.diff import compute
from harness.sweep.history import Cell, SqliteHistory, Sweep, new_id, open_history
from harness.sweep.releases import parse_count, parse_target, pick
from harness.sweep.render import render_html, render_markdown

BOOKWORM: dict[str, Any] = {
    "kind": "docker-recipe",
    "python": "3.11.2",
    "libc": "glibc 2.36",
    "machine": "x86_64",
    "os": "Debian GNU/Linux 12 (bookworm)",
    "base": "http://deb.debian.org/debian bookworm amd64",
    "image_id": "aaaa",
    "packages": {"libc6": "2.36-9+deb12u4", "libcrypt1": "1:4.4.33-2", "python3.11": "3.11.2-6"},
}


def cell(version: str, env: str, status: str, wheel: str = "p-1-cp311.whl", **kw: str) -> Cell:
    return Cell(
        project="p",
        version=version,
        env=env,
        wheel=wheel,
        sha256=kw.get("sha256", "s"),
        status=status,
        reason=kw.get("reason", ""),
    )


def sweep_of(cells: list[Cell], envs: dict[str, Any], releases: list[str]) -> Sweep:
    sid, created = new_id()
    return Sweep(
        id=sid,
        created=created,
        harness_version="t",
        matrix="m",
        index_url="",
        releases=tuple(("p", v) for v in releases),
        envs=envs,
        cells=tuple(cells),
    )


def test_diff_names_the_env_change_behind_a_new_failure() -> None:
    after_env = {
        **BOOKWORM,
        "image_id": "bbbb",
        "packages": {k: v for k, v in BOOKWORM["packages"].items() if k != "libcrypt1"},
    }
    before = sweep_of(
        [cell("1", "bookworm", "passed"), cell("1", "trixie", "failed", reason="old"),
         cell("1", "i686", "failed"), cell("1", "arm64", "passed", wheel="p-1-arm.whl")],
        {"bookworm": BOOKWORM, "trixie": {"python": "3.13.5"}, "i686": {}, "arm64": {}},
        ["1"],
    )  # fmt: skip
    now = sweep_of(
        [cell("1", "bookworm", "failed", reason="libcrypt.so.1: cannot open"),
         cell("1", "trixie", "failed", reason="old"), cell("1", "i686", "passed"),
         cell("1", "static", "skipped", wheel="p-1-arm.whl", reason="static only"),
         cell("2", "bookworm", "failed"), cell("1", "musl", "error", wheel="-")],
        {"bookworm": after_env, "trixie": {"python": "3.13.6"}, "i686": {}, "musl": {}},
        ["1", "2"],
    )  # fmt: skip
    d = compute({"p": before}, now)
    assert [(c.cell.version, c.cell.env, c.was) for c in d.new_failures] == [
        ("1", "bookworm", "passed"), ("2", "bookworm", "new release"), ("1", "musl", "new env"),
    ]  # fmt: skip
    assert d.new_failures[0].env_changes == ("package libcrypt1 1:4.4.33-2 removed",)
    assert [(c.cell.env, c.was) for c in d.unchanged_failures] == [("trixie", "failed")]
    assert d.unchanged_failures[0].env_changes == ("python: 3.13.5 -> 3.13.6",)
    assert [c.cell.env for c in d.fixed] == ["i686"]
    assert d.new_releases == (("p", "2"),)
    assert d.new_envs == ("musl",)
    assert d.gone_envs == ("arm64",)
    assert [(c.wheel, c.reason) for c in d.newly_untested] == [("p-1-arm.whl", "static only")]
    assert set(d.changed_envs) == {"bookworm", "trixie"}
    assert d.exit_code == 1


def test_only_unchanged_failures_exit_0_and_first_sweep_failures_are_new() -> None:
    before = sweep_of([cell("1", "e", "failed")], {"e": {}}, ["1"])
    now = sweep_of([cell("1", "e", "failed")], {"e": {}}, ["1"])
    d = compute({"p": before}, now)
    assert d.exit_code == 0
    assert len(d.unchanged_failures) == 1
    assert not d.new_failures
    first = compute({"p": None}, now)
    assert first.exit_code == 1
    assert first.new_releases == (("p", "1"),)


def test_a_file_replaced_on_the_index_is_said() -> None:
    before = sweep_of([cell("1", "e", "passed", sha256="a")], {"e": {}}, ["1"])
    now = sweep_of([cell("1", "e", "failed", sha256="b")], {"e": {}}, ["1"])
    (change,) = compute({"p": before}, now).new_failures
    assert change.wheel_changed
    assert "the file changed on the index" in render_markdown(now, compute({"p": before}, now), {})


def _record_many(path: str, n: int, worker: int) -> None:
    history = SqliteHistory(Path(path))
    for i in range(n):
        history.record(sweep_of([cell(str(i), f"w{worker}", "passed")], {"e": BOOKWORM}, ["1"]))


def test_sqlite_history_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(path), 12, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    sweeps = SqliteHistory(path).sweeps()
    assert len(sweeps) == 36
    assert len({s.id for s in sweeps}) == 36
    assert [s.id for s in sweeps] == sorted(s.id for s in sweeps)
    # one identity stored once for 36 sweeps; WAL mode
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM identities").fetchone()[0] == 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sweeps[0].envs["e"] == BOOKWORM


def test_sqlite_history_previous_is_per_project_and_matrix(tmp_path: Path) -> None:
    h = SqliteHistory(tmp_path / "h.sqlite")
    assert h.previous("p", "m") is None
    assert h.sweeps() == []
    a = sweep_of([cell("1", "e", "passed")], {}, ["1"])
    h.record(a)
    other = Sweep(**{**a.__dict__, "id": new_id()[0], "matrix": "other"})
    h.record(other)
    found = h.previous("p", "m")
    assert found is not None
    assert found.id == a.id
    assert h.previous("q", "m") is None


def test_history_rejects_garbage_and_bad_specs(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="not a usable SQLite history"):
        SqliteHistory(junk).sweeps()
    with pytest.raises(UsageError, match="expected a file path or s3"):
        open_history("https://example.org/h")
    with pytest.raises(UsageError, match="does not exist"):
        open_history(str(tmp_path / "no" / "dir" / "h.sqlite"))
    assert main(["history", "--history", str(junk)]) == 2


def test_release_picking_and_targets() -> None:
    vs = [Version(v) for v in ("1.0", "1.2rc1", "1.1", "0.9")]
    assert pick(vs, 1) == [Version("1.1")]
    assert pick(vs, 2) == [Version("1.1"), Version("1.0")]
    assert pick([Version("2.0b1")], 1) == [Version("2.0b1")]
    assert parse_target("Yappi").project == "yappi"
    assert parse_target("yappi==1.7.6").version == Version("1.7.6")
    for bad in ("", "yappi>=1", "yappi==x.y.z", "ya ppi"):
        with pytest.raises(UsageError):
            parse_target(bad)
    assert parse_count("latest") == 1
    assert parse_count("3") == 3
    with pytest.raises(UsageError):
        parse_count("0")


def test_image_facts_from_os_release_sources_and_dpkg() -> None:
    out = (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n@@HARNESS@@\n'
        "deb http://deb.debian.org/debian bookworm main\n@@HARNESS@@\namd64\n@@HARNESS@@\n"
        "libc6\t2.36-9+deb12u4\npython3.11\t3.11.2-6\n"
    )
    facts = identity.parse_image_facts(out)
    assert facts["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert facts["base"] == "http://deb.debian.org/debian bookworm amd64"
    assert facts["packages"] == {"libc6": "2.36-9+deb12u4", "python3.11": "3.11.2-6"}
    deb822 = "Types: deb\nURIs: http://mirror.example/debian/\nSuites: trixie\nComponents: main\n"
    assert identity.parse_sources(deb822) == ("http://mirror.example/debian", "trixie")
    musl = identity.parse_image_facts("@@HARNESS@@\n@@HARNESS@@\n@@HARNESS@@\n")
    assert musl == {"os": "", "base": "", "packages": {}}


def _archive(tmp: Path, packages: dict[str, str]) -> dict[str, bytes]:
    body = "".join(f"Package: {n}\nVersion: {v}\nArchitecture: amd64\n\n"
                   for n, v in packages.items()).encode()  # fmt: skip
    gz = gzip.compress(body)
    release = (
        "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 08 Nov 2026 09:00:00 UTC\n"
        f"MD5Sum:\n {hashlib.md5(gz).hexdigest()} {len(gz)} main/binary-amd64/Packages.gz\n"
        f"SHA256:\n {hashlib.sha256(gz).hexdigest()} {len(gz)} main/binary-amd64/Packages.gz\n"
    )
    signed = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + release +
        "-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n"
    )  # fmt: skip
    base = "http://deb.debian.org/debian/dists/bookworm/"
    return {base + "InRelease": signed.encode(), base + "main/binary-amd64/Packages.gz": gz}


def test_upstream_moved_when_a_package_is_gone_or_newer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HARNESS_DEBIAN_MIRROR", raising=False)
    same = _archive(tmp_path, BOOKWORM["packages"])
    fetched: list[str] = []

    def fetch_from(files: dict[str, bytes]) -> identity.Fetch:
        def fetch(url: str) -> bytes:
            fetched.append(url)
            return files[url]

        return fetch

    up = identity.upstream(BOOKWORM, fetch=fetch_from(same))
    assert up is not None
    assert not up.moved
    assert up.date.startswith("Sat, 08 Nov 2026")
    assert identity.upstream(BOOKWORM, fetch=fetch_from(same)) == up
    assert sum(u.endswith("Packages.gz") for u in fetched) == 1  # cached by its sha256
    moved = _archive(tmp_path, {"libc6": "2.36-9+deb12u13", "python3.11": "3.11.2-6"})
    up = identity.upstream(BOOKWORM, fetch=fetch_from(moved))
    assert up is not None
    assert up.changes == (
        "libc6: 2.36-9+deb12u4 -> 2.36-9+deb12u13",
        "libcrypt1 1:4.4.33-2 is gone from bookworm",
    )
    assert identity.upstream({"base": "", "packages": {}}) is None
    tampered = _archive(tmp_path, {"libc6": "9"})  # a Release not seen before
    key = next(k for k in tampered if k.endswith(".gz"))
    tampered[key] = gzip.compress(b"Package: evil\nVersion: 1\n")
    with pytest.raises(InfraError, match="sha256 differs"):
        identity.upstream(BOOKWORM, fetch=fetch_from(tampered))


def test_changes_lists_fields_then_packages() -> None:
    after = {
        **BOOKWORM,
        "python": "3.11.4",
        "packages": {**BOOKWORM["packages"], "libc6": "2.36-9+deb12u9", "new": "1"},
    }
    assert identity.changes(BOOKWORM, after) == [
        "python: 3.11.2 -> 3.11.4", "package libc6: 2.36-9+deb12u4 -> 2.36-9+deb12u9",
        "package new 1 added",
    ]  # fmt: skip
    assert identity.changes(BOOKWORM, {**BOOKWORM, "image_id": "cccc"}) == [
        "image rebuilt: aaaa -> cccc"
    ]
    assert identity.changes(BOOKWORM, BOOKWORM) == []


def test_renderings_escape_hostile_strings() -> None:
    evil = "<script>alert(1)</script> | `x` [a](http://e) &amp;"
    before = sweep_of([cell("1", "e", "passed")], {"e": {"python": "3.11"}}, ["1"])
    now = sweep_of([cell("1", "e", "failed", reason=evil)], {"e": {"python": evil}}, ["1"])
    d = compute({"p": before}, now)
    html = render_html(now, d, {"p==1": "p-1"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&amp;amp;" in html
    md = render_markdown(now, d, {"p==1": "p-1"})
    assert md.startswith("## Nightly sweep: 1 NEW FAILURE(S)")
    assert "<script>" not in md
    assert "\\<script\\>" in md
    assert "\\[a\\]\\(http://e\\)" in md
    assert json.dumps(d.to_json())  # serialisable


def test_hostile_history_documents_are_one_line_errors() -> None:
    good = sweep_of([cell("1", "e", "passed")], {"e": BOOKWORM}, ["1"]).to_json()
    assert Sweep.from_json(good, "x").envs["e"] == BOOKWORM
    for bad in (
        {**good, "schema": "other/1"},
        {**good, "cells": [{"project": 1}], "envs": {"e": []}},
        {**good, "envs": {"e": {"packages": ["libc6"]}}},
        {**good, "releases": "p"},
    ):
        with pytest.raises(InputError):
            Sweep.from_json(bad, "s3://b/sweeps/x.json.gz")


def test_sweep_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["sweep", "yappi>=1", "--history", str(tmp_path / "h")]) == 2
    assert main(["sweep", "yappi", "--releases", "none"]) == 2
    assert main(["sweep", "yappi", "--history", "ftp://x/y"]) == 2
    assert main(["history", "--history", "s3://"]) == 2


def test_sweep_ignores_a_foreign_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As for verify --release: ./pyproject.toml of another project is not applied to the
    swept releases (here it is even invalid: applying it would be a usage error, exit 2)."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "other"\n[tool.harness]\ntimeout = -1\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    rc = main(
        [
            "sweep",
            "yappi",
            "--index-url",
            "http://127.0.0.1:9/simple/",  # nothing listens: the index is unreachable
            "--history",
            str(tmp_path / "h.sqlite"),
            "--report-dir",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err
    assert "not used (project 'other'" in err
    assert rc == 3, err
