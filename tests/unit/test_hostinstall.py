"""A cell's venv and install done on the host (harness.verify.hostinstall): the env's venv
template relocated, the wheel installed by pypa/installer from exactly the expected bytes,
nothing written outside the venv."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from harness.verify import hostinstall
from harness.verify.pipcache import VenvTemplate

MADE_AT = "/harness-pip/pip-25.1-cpython-313-venv/.venv-x/venv"
IN_ENV = "/harness-cells/harness-cell-20001-abc/venv"
SITE = "lib/python3.13/site-packages"


def make_template(tmp_path: Path, interpreter: Path) -> VenvTemplate:
    venv = tmp_path / "template" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / SITE).mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    (venv / "bin" / "python").symlink_to(interpreter)  # absolute: the env's interpreter
    (venv / "bin" / "python3").symlink_to("python")
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\nversion = 3.13.5\ncommand = /usr/bin/python3 -m venv {MADE_AT}\n"
    )
    (venv / "bin" / "activate").write_text(f'VIRTUAL_ENV="{MADE_AT}"\nexport VIRTUAL_ENV\n')
    paths = {"purelib": SITE, "platlib": SITE, "scripts": "bin", "data": "."}
    return VenvTemplate(venv=venv, made_at=MADE_AT, paths=paths)


def make_wheel(dest: Path, extra: dict[str, bytes] | None = None) -> tuple[Path, str]:
    dist_info = "demo-1.0.dist-info"
    files = {
        "demo/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": b"[console_scripts]\ndemo-cli = demo:main\n",
        **(extra or {}),
    }

    def digest(data: bytes) -> str:
        raw = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        return f"sha256={raw.decode()}"

    record = "".join(f"{p},{digest(d)},{len(d)}\n" for p, d in files.items())
    record += f"{dist_info}/RECORD,,\n"
    out = dest / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return out, hashlib.sha256(out.read_bytes()).hexdigest()


def test_copy_rewrites_the_template_path_and_keeps_links(tmp_path: Path) -> None:
    template = make_template(tmp_path, Path("/usr/bin/python3.13"))
    dest = tmp_path / "cell" / "venv"
    assert hostinstall.copy_venv(template, dest, IN_ENV) == 2
    assert f"command = /usr/bin/python3 -m venv {IN_ENV}\n" in (dest / "pyvenv.cfg").read_text()
    assert IN_ENV in (dest / "bin" / "activate").read_text()
    assert MADE_AT not in (dest / "bin" / "activate").read_text()
    assert (dest / "bin" / "python").readlink() == Path("/usr/bin/python3.13")
    assert (dest / "lib64").readlink() == Path("lib")


def test_install_unpacks_writes_scripts_record_and_installer(tmp_path: Path) -> None:
    template = make_template(tmp_path, Path("/usr/bin/python3.13"))
    venv = tmp_path / "cell" / "venv"
    hostinstall.copy_venv(template, venv, IN_ENV)
    wheel, sha = make_wheel(tmp_path)
    done = hostinstall.install_wheel(
        wheel, sha256=sha, template=template, venv=venv, venv_in_env=IN_ENV, python_short="3.13"
    )
    assert done.sha256 == sha
    assert (venv / SITE / "demo" / "__init__.py").read_text() == "VALUE = 42\n"
    script = (venv / "bin" / "demo-cli").read_text()
    assert script.startswith(f"#!{IN_ENV}/bin/python\n")  # the venv's python, in the env
    assert (venv / "bin" / "demo-cli").stat().st_mode & 0o111
    info = venv / SITE / "demo-1.0.dist-info"
    assert (info / "INSTALLER").read_bytes() == hostinstall.INSTALLER
    assert "../../../bin/demo-cli" in (info / "RECORD").read_text()


def test_other_bytes_than_expected_are_not_installed(tmp_path: Path) -> None:
    template = make_template(tmp_path, Path("/usr/bin/python3.13"))
    venv = tmp_path / "cell" / "venv"
    hostinstall.copy_venv(template, venv, IN_ENV)
    wheel, _ = make_wheel(tmp_path)
    with pytest.raises(hostinstall.InstallError, match="sha256"):
        hostinstall.install_wheel(
            wheel, sha256="0" * 64, template=template, venv=venv, venv_in_env=IN_ENV,
            python_short="3.13",
        )  # fmt: skip
    assert not (venv / SITE / "demo").exists()


@pytest.mark.parametrize(
    "member",
    [
        "demo-1.0.data/scripts/python",  # through bin/python, the env's interpreter link
        "demo-1.0.data/purelib/../../../../../../escaped",
        "../escaped",
    ],
)
def test_nothing_is_written_outside_the_venv(tmp_path: Path, member: str) -> None:
    outside = tmp_path / "outside" / "python3.13"  # no such file on this machine
    template = make_template(tmp_path, outside)
    venv = tmp_path / "cell" / "venv"
    hostinstall.copy_venv(template, venv, IN_ENV)
    wheel, sha = make_wheel(tmp_path, {member: b"#!/bin/sh\necho owned\n"})
    with pytest.raises(hostinstall.InstallError):
        hostinstall.install_wheel(
            wheel, sha256=sha, template=template, venv=venv, venv_in_env=IN_ENV,
            python_short="3.13",
        )  # fmt: skip
    assert not outside.exists()
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "cell" / "escaped").exists()


def test_a_broken_archive_is_an_install_error(tmp_path: Path) -> None:
    template = make_template(tmp_path, Path("/usr/bin/python3.13"))
    venv = tmp_path / "cell" / "venv"
    hostinstall.copy_venv(template, venv, IN_ENV)
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")
    sha = hashlib.sha256(b"not a zip").hexdigest()
    with pytest.raises(hostinstall.InstallError, match="BadZipFile"):
        hostinstall.install_wheel(
            wheel, sha256=sha, template=template, venv=venv, venv_in_env=IN_ENV,
            python_short="3.13",
        )  # fmt: skip
