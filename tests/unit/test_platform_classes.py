"""Platform classes that once raised false alarms on real releases (issue 15), and the
defects the same checks must still catch in them. Real wheels from tests/data/real/; a
"retagged" copy only changes the file name (the tags the checks hold binaries to)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.checks.platforms import OS, parse_platform, pypi_refusal
from harness.findings import Severity
from harness.inspect import inspect_wheel

REAL = Path(__file__).parent.parent / "data" / "real"


def errors_of(path: Path) -> set[str]:
    return {f.code for f in inspect_wheel(path).findings if f.severity is Severity.ERROR}


def retagged(tmp_path: Path, name: str, new_name: str) -> Path:
    dest = tmp_path / new_name
    shutil.copy(REAL / name, dest)
    return dest


ANDROID = "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl"
IOS_DEVICE = "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
IOS_SIM = "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl"
PPC = "greenlet-3.5.6-cp313-cp313-manylinux_2_24_ppc64le.manylinux_2_28_ppc64le.whl"
S390X = "greenlet-3.5.6-cp313-cp313-manylinux_2_24_s390x.manylinux_2_28_s390x.whl"
PYPY_WIN = "ujson-6.1.0-pp311-pypy311_pp80-win_amd64.whl"
GRAALPY_WIN = "pyinstrument-5.1.3-graalpy312-graalpy250_312_native-win_amd64.whl"


@pytest.mark.parametrize(
    "name",
    [
        ANDROID,
        IOS_DEVICE,
        IOS_SIM,
        PPC,
        S390X,
        PYPY_WIN,
        GRAALPY_WIN,
        "rpds_py-2026.9.1-cp313-cp313-musllinux_1_2_aarch64.whl",
        "bcrypt-5.0.0-cp39-abi3-win_amd64.whl",
    ],
)
def test_real_wheel_of_each_class_is_clean(name: str) -> None:
    assert errors_of(REAL / name) == set()


def test_android_api_level_newer_than_the_tag(tmp_path: Path) -> None:
    # the .so's .note.android.ident says API 24; tagged 21 it may miss libc symbols
    w = retagged(tmp_path, ANDROID, ANDROID.replace("android_24", "android_21"))
    report = inspect_wheel(w)
    api = [f for f in report.findings if f.code == "android.api-level"]
    assert api
    assert api[0].evidence == {"api_level": 24, "tag_api_level": 21}


def test_android_arch_mismatch(tmp_path: Path) -> None:
    w = retagged(tmp_path, ANDROID, ANDROID.replace("arm64_v8a", "x86_64"))
    assert "platform.arch" in errors_of(w)


def test_ios_device_binary_tagged_simulator(tmp_path: Path) -> None:
    w = retagged(tmp_path, IOS_DEVICE, IOS_DEVICE.replace("iphoneos", "iphonesimulator"))
    report = inspect_wheel(w)
    arch = [f for f in report.findings if f.code == "platform.arch"]
    assert arch
    assert "built for ios" in arch[0].message


def test_ios_x86_64_tag_on_arm64_binary(tmp_path: Path) -> None:
    name = IOS_SIM.replace("arm64_iphonesimulator", "x86_64_iphonesimulator")
    w = retagged(tmp_path, IOS_SIM, name)
    assert "platform.arch" in errors_of(w)


def test_ppc64le_loader_is_not_allowed_on_s390x(tmp_path: Path) -> None:
    # ld64.so.2 is glibc's loader on ppc64le only; the s390x tag also mismatches the arch
    w = retagged(tmp_path, PPC, PPC.replace("ppc64le", "s390x"))
    report = inspect_wheel(w)
    libs = [f for f in report.findings if f.code == "manylinux.library"]
    assert [f.evidence["library"] for f in libs] == ["ld64.so.2"] * len(libs)
    assert libs
    assert "platform.arch" in {f.code for f in report.findings}


def test_pypy_dll_in_a_cpython_wheel(tmp_path: Path) -> None:
    w = retagged(tmp_path, PYPY_WIN, "ujson-6.1.0-cp311-cp311-win_amd64.whl")
    dlls = [f for f in inspect_wheel(w).findings if f.code == "windows.dll"]
    assert [f.evidence["dll"] for f in dlls] == ["libpypy3.11-c.dll"]


def test_graalpy_dll_in_a_cpython_wheel(tmp_path: Path) -> None:
    w = retagged(tmp_path, GRAALPY_WIN, "pyinstrument-5.1.3-cp312-cp312-win_amd64.whl")
    dlls = {f.evidence["dll"] for f in inspect_wheel(w).findings if f.code == "windows.dll"}
    assert dlls == {"python-native.dll"}


@pytest.mark.parametrize(
    ("tag", "os", "refused"),
    [
        ("pyemscripten_2025_0_wasm32", OS.EMSCRIPTEN, False),
        ("pyemscripten_2026_5_wasm32", OS.EMSCRIPTEN, False),
        ("android_24_arm64_v8a", OS.ANDROID, False),
        ("android_21_armeabi_v7a", OS.ANDROID, False),
        ("android_24_mips", OS.ANDROID, True),
        ("ios_13_0_arm64_iphoneos", OS.IOS, False),
        ("ios_13_0_x86_64_iphonesimulator", OS.IOS, False),
        ("ios_13_arm64_iphoneos", OS.OTHER, True),
        ("emscripten_3_1_58_wasm32", OS.OTHER, True),
    ],
)
def test_new_platform_tags(tag: str, os: OS, refused: bool) -> None:
    p = parse_platform(tag)
    assert p.os is os
    assert (pypi_refusal(p) is not None) is refused
