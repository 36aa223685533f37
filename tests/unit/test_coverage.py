"""coverage's pick logic: pip's ranking over an env's tag list (no daemon needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from harness import coverage
from harness.envs.base import EnvKind, EnvSpec, Probe
from harness.errors import UsageError

YAPPI = [
    "yappi-1.7.6-cp39-cp39-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "yappi-1.7.6-cp39-cp39-musllinux_1_2_x86_64.whl",
    "yappi-1.7.6-cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "yappi-1.7.6-cp311-cp311-manylinux_2_5_i686.manylinux1_i686.manylinux_2_17_i686.manylinux2014_i686.whl",
    "yappi-1.7.6-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "yappi-1.7.6-cp313-cp313-musllinux_1_2_x86_64.whl",
    "yappi-1.7.6-cp313-cp313-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "yappi-1.7.6-cp311-cp311-win_amd64.whl",
]


def linux_tags(py: tuple[int, int], libc: str, major: int, minor: int, arch: str) -> list[str]:
    """A tag list shaped like pip's on Linux, most preferred first."""
    if libc == "musl":
        plats = [f"musllinux_{major}_{m}_{arch}" for m in range(minor, -1, -1)]
    else:
        plats = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        out: list[str] = []
        for p in plats:
            out.append(p)
            m = int(p.split("_")[2])
            if m in legacy:
                out.append(f"{legacy[m]}_{arch}")
        plats = out
    plats.append(f"linux_{arch}")
    interp = f"cp{py[0]}{py[1]}"
    both = [*cpython_tags(py, platforms=plats), *compatible_tags(py, interp, plats)]
    return [str(t) for t in both]


def probe(tags: list[str], py: str = "3.11.2") -> Probe:
    return Probe(
        python_version=py,
        implementation="cpython",
        executable="/usr/bin/python3",
        libc="glibc",
        libc_version="2.36",
        machine="x86_64",
        pip_version="23.0.1",
        tags=tuple(tags),
    )


def spec(name: str) -> EnvSpec:
    return EnvSpec(name=name, kind=EnvKind.HOST)


def wheels(names: list[str]) -> list[coverage.WheelFile]:
    return [coverage.parse_wheel(n) for n in names]


def test_picks_per_env_and_untested() -> None:
    envs = [
        (spec("bookworm"), probe(linux_tags((3, 11), "glibc", 2, 36, "x86_64"))),
        (spec("bullseye"), probe(linux_tags((3, 9), "glibc", 2, 31, "x86_64"), "3.9.2")),
        (spec("musl"), probe(linux_tags((3, 13), "musl", 1, 2, "x86_64"), "3.13.5")),
        (spec("i686"), probe(linux_tags((3, 11), "glibc", 2, 36, "i686"))),
        (spec("old-musl"), probe(linux_tags((3, 13), "musl", 1, 1, "x86_64"), "3.13.5")),
    ]
    cov = coverage.compute(wheels(YAPPI), envs)
    picked = {e.env: e.picked for e in cov.envs}
    assert picked == {
        "bookworm": YAPPI[2],
        "bullseye": YAPPI[0],
        "musl": YAPPI[5],
        "i686": YAPPI[3],
        "old-musl": None,
    }
    assert [g.env for g in cov.gaps] == ["old-musl"]
    assert set(cov.untested) == {YAPPI[1], YAPPI[4], YAPPI[6], YAPPI[7]}
    data = json.loads(cov.dumps())
    assert data["schema"] == "harness-coverage/1"
    assert data["envs"][0] == {
        "name": "bookworm",
        "python": "3.11",
        "platform": "linux-x86_64-glibc2.36",
        "picked": YAPPI[2],
    }
    assert data["envs"][4]["picked"] is None


def test_most_preferred_tag_wins_over_order_of_files() -> None:
    tags = linux_tags((3, 11), "glibc", 2, 36, "x86_64")
    generic = "pkg-1.0-py3-none-any.whl"
    abi3 = "pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"
    exact = "pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    newer_plat = "pkg-1.0-cp311-cp311-manylinux_2_34_x86_64.whl"
    assert coverage.pick(wheels([generic]), tags).filename == generic  # type: ignore[union-attr]
    assert coverage.pick(wheels([generic, abi3]), tags).filename == abi3  # type: ignore[union-attr]
    got = coverage.pick(wheels([abi3, generic, exact, newer_plat]), tags)
    assert got is not None
    assert got.filename == newer_plat
    # Too new for the env: not installable there.
    assert coverage.pick(wheels(["pkg-1.0-cp311-cp311-manylinux_2_39_x86_64.whl"]), tags) is None


def test_version_then_tag_then_build() -> None:
    tags = linux_tags((3, 11), "glibc", 2, 36, "x86_64")
    old_exact = "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    new_generic = "pkg-1.1-py3-none-any.whl"
    assert coverage.pick(wheels([old_exact, new_generic]), tags).filename == new_generic  # type: ignore[union-attr]
    pre = "pkg-2.0rc1-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert coverage.pick(wheels([old_exact, pre]), tags).filename == old_exact  # type: ignore[union-attr]
    assert coverage.pick(wheels([pre]), tags).filename == pre  # type: ignore[union-attr]
    b1 = "pkg-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl"
    b2 = "pkg-1.0-2-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert coverage.pick(wheels([b2, b1, old_exact]), tags).filename == b2  # type: ignore[union-attr]


def test_macos_tags() -> None:
    plats = list(mac_platforms((14, 0), "arm64"))
    tags = [str(t) for t in cpython_tags((3, 12), platforms=plats)]
    names = [
        "pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl",
        "pkg-1.0-cp312-cp312-macosx_10_9_universal2.whl",
        "pkg-1.0-cp312-cp312-macosx_10_9_x86_64.whl",
    ]
    got = coverage.pick(wheels(names), tags)
    assert got is not None
    assert got.filename == names[0]
    assert Tag("cp312", "cp312", "macosx_11_0_arm64") in got.tags


def test_multiple_projects_add_project_key() -> None:
    tags = linux_tags((3, 11), "glibc", 2, 36, "x86_64")
    cov = coverage.compute(
        wheels(["a-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl"]), [(spec("e"), probe(tags))]
    )
    rows = cov.to_json()["envs"]
    assert isinstance(rows, list)
    assert [r["project"] for r in rows] == ["a", "b"]


def test_collect(tmp_path: Path) -> None:
    (tmp_path / YAPPI[0]).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert [w.filename for w in coverage.collect([tmp_path, tmp_path / YAPPI[0]])] == [YAPPI[0]]
    with pytest.raises(UsageError, match="no such file"):
        coverage.collect([tmp_path / "missing.whl"])
    with pytest.raises(UsageError, match="not a wheel"):
        coverage.collect([tmp_path / "notes.txt"])
    (tmp_path / "bad-name.whl").write_bytes(b"")
    with pytest.raises(UsageError, match="not a valid wheel file name"):
        coverage.collect([tmp_path])


def make_wheel(directory: Path, filename: str, requires_python: str | None) -> Path:
    import zipfile

    name, version = filename.split("-")[:2]
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        meta += f"Requires-Python: {requires_python}\n"
    path = directory / filename
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", meta + "\nlong text\n")
    return path


def test_requires_python_skips_to_the_next_candidate(tmp_path: Path) -> None:
    """pip reads Requires-Python after choosing, then backtracks: the next best wins."""
    tags = linux_tags((3, 9), "glibc", 2, 31, "x86_64")
    new = make_wheel(tmp_path, "pkg-2.0-py3-none-any.whl", ">=3.10")
    old = make_wheel(tmp_path, "pkg-1.0-py3-none-any.whl", ">=3.8")
    assert coverage.read_requires_python(new) is not None
    found = coverage.collect([tmp_path])
    got = coverage.pick(found, tags, "3.9.2")
    assert got is not None
    assert got.filename == old.name
    got = coverage.pick(found, tags, "3.11.2")
    assert got is not None
    assert got.filename == new.name
    assert coverage.pick(found, tags) is not None  # no version known: tags only
    cov = coverage.compute(found, [(spec("old"), probe(tags, "3.9.2"))])
    assert cov.envs[0].picked == old.name
    assert cov.untested == (new.name,)


def test_unreadable_metadata_is_not_fatal(tmp_path: Path) -> None:
    broken = tmp_path / "pkg-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    assert coverage.read_requires_python(broken) is None
    assert [w.filename for w in coverage.collect([broken])] == [broken.name]


def ft_tags(py: tuple[int, int], arch: str = "x86_64") -> list[str]:
    """pip's tags in a free-threaded CPython: no abi3 (pip's vendored packaging drops it
    there; the real env's probe is checked in tests/integration/test_envs_docker.py)."""
    plats = [f"manylinux_2_{m}_{arch}" for m in range(36, 4, -1)] + [f"linux_{arch}"]
    interp = f"cp{py[0]}{py[1]}"
    abi = f"{interp}t"
    both = [
        *cpython_tags(py, abis=[abi], platforms=plats),
        *compatible_tags(py, interp, plats),
    ]
    return [str(t) for t in both if t.abi != "abi3"]


FT = [
    "greenlet-3.5.6-cp313-cp313-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "greenlet-3.5.6-cp313-cp313t-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "greenlet-3.5.6-cp314-cp314t-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
]


def test_free_threaded_wheels_go_only_to_the_free_threaded_env() -> None:
    tags = ft_tags((3, 13))
    assert not any("-abi3-" in t for t in tags)  # abi3t (PEP 803) is not abi3
    envs = [
        (spec("trixie"), probe(linux_tags((3, 13), "glibc", 2, 41, "x86_64"), "3.13.5")),
        (spec("trixie-ft"), probe(tags, "3.13.5")),
    ]
    cov = coverage.compute(wheels(FT), envs)
    assert {e.env: e.picked for e in cov.envs} == {"trixie": FT[0], "trixie-ft": FT[1]}
    rows = {w.filename: w for w in cov.wheels}
    assert rows[FT[0]].ran_in == ("trixie",)
    assert rows[FT[1]].ran_in == ("trixie-ft",)
    assert rows[FT[2]].reason.startswith(
        "no interpreter here for free-threaded CPython 3.14 (cp314t)"
    )
    # an abi3 wheel is offered to the GIL build only: the free-threaded env has a gap
    abi3 = ["cffi_x-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]
    cov = coverage.compute(wheels(abi3), envs)
    assert {e.env: e.picked for e in cov.envs} == {"trixie": abi3[0], "trixie-ft": None}


def test_every_untested_wheel_has_a_reason() -> None:
    names = [
        *YAPPI,
        "yappi-1.7.6-cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "yappi-1.7.6-cp311-cp311-musllinux_1_2_aarch64.whl",
        "yappi-1.7.6-cp311-cp311-macosx_11_0_arm64.whl",
        "yappi-1.7.6-cp311-cp311-win_arm64.whl",
    ]
    envs = [
        (spec("bookworm"), probe(linux_tags((3, 11), "glibc", 2, 36, "x86_64"))),
        (spec("musl"), probe(linux_tags((3, 13), "musl", 1, 2, "x86_64"), "3.13.5")),
    ]
    elsewhere = [EnvSpec(name="slim-cp310", kind=EnvKind.DOCKER_IMAGE, image="x", python="3.10")]
    cov = coverage.compute(wheels(names), envs, matrix_name="matrix t", elsewhere=elsewhere)
    why = {w.filename: w.reason for w in cov.wheels if not w.ran_in}
    assert set(why) == set(cov.untested)
    assert all(why.values())
    assert why[names[8]] == (
        "no interpreter here for CPython 3.10 (cp310): no env of matrix t has it; "
        "other matrices have CPython 3.10: slim-cp310"
    )
    assert why[names[9]] == "no env of matrix t is musllinux aarch64"
    assert why[names[10]].startswith("macOS wheel (macosx_11_0_arm64): runs on a macOS runner")
    assert why[names[11]].startswith(
        "no matrix env for win_arm64: Windows wheel, runs on a Windows arm64"
    )
    assert why[YAPPI[4]] == "no env of matrix t is manylinux aarch64"
    assert cov.ran() == (2, 12)
    assert cov.ran([coverage.Family.LINUX]) == (2, 9)
    data = json.loads(cov.dumps())
    assert data["ran"] == {"wheels": 2, "of": 12, "linux": 2, "linux_of": 9}
    row = next(w for w in data["wheels"] if w["filename"] == YAPPI[2])
    assert row == {"filename": YAPPI[2], "family": "linux", "ran_in": ["bookworm"], "reason": None}


def test_ppc64le_s390x_riscv64_wheels_run_in_their_own_arch_env_only() -> None:
    """greenlet 3.5.6's wheels for the arches envs (Debian sid, glibc 2.43, CPython 3.14,
    tag lists as harness plan predicts them, which the nightly integration tests compare
    with the real probes): each cp314 wheel to its arch, musllinux/cp313 ones untested."""
    from harness.ci.tags import cpython_tag_list, manylinux_platforms

    names = [
        "greenlet-3.5.6-cp314-cp314-manylinux_2_24_ppc64le.manylinux_2_28_ppc64le.whl",
        "greenlet-3.5.6-cp314-cp314-manylinux_2_24_s390x.manylinux_2_28_s390x.whl",
        "greenlet-3.5.6-cp314-cp314-manylinux_2_39_riscv64.whl",
        "greenlet-3.5.6-cp314-cp314-musllinux_1_2_riscv64.whl",
        "greenlet-3.5.6-cp313-cp313-manylinux_2_24_s390x.manylinux_2_28_s390x.whl",
        "greenlet-3.5.6-cp314-cp314-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "greenlet-3.5.6-cp314-cp314t-manylinux_2_39_riscv64.whl",
    ]

    def sid(arch: str) -> list[str]:
        return list(cpython_tag_list("3.14", manylinux_platforms((2, 43), arch), arch))

    envs = [(spec(f"{a}-sid"), probe(sid(a), "3.14.10")) for a in ("ppc64le", "s390x", "riscv64")]
    cov = coverage.compute(wheels(names), envs, matrix_name="matrix arches")
    assert {e.env: e.picked for e in cov.envs} == {
        "ppc64le-sid": names[0],
        "s390x-sid": names[1],
        "riscv64-sid": names[2],
    }
    rows = {w.filename: w for w in cov.wheels}
    assert [rows[n].ran_in for n in names[:3]] == [
        ("ppc64le-sid",),
        ("s390x-sid",),
        ("riscv64-sid",),
    ]
    assert rows[names[3]].reason == "no env of matrix arches is musllinux riscv64"
    assert rows[names[4]].reason == (
        "no interpreter here for CPython 3.13 (cp313): no env of matrix arches has it"
    )
    assert rows[names[5]].reason == "no env of matrix arches is manylinux x86_64"
    assert rows[names[6]].reason.startswith(
        "no interpreter here for free-threaded CPython 3.14 (cp314t)"
    )
    assert cov.ran([coverage.Family.LINUX]) == (3, 7)
