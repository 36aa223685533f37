"""What the sweep tests need: a small compiled project built here (gcc + CPython headers,
one C extension that needs libstdc++.so.6 as a C++ extension would, packed as a
manylinux_2_17 wheel with a correct RECORD), a pypiserver with its default settings
(anyone downloads, uploads need a password) on loopback, and uploads through twine as a
release job would."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.integration.promote_servers import _bin, _process, free_port

PROJECT = "tinyext"
PY = f"cp{sys.version_info.major}{sys.version_info.minor}"
PLATFORM = "manylinux_2_17_x86_64"
USER = "releaser"

_C_SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "a + b"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speed(void) {
#ifdef BROKEN
    PyErr_SetString(PyExc_ImportError, BROKEN);
    return NULL;
#endif
    return PyModule_Create(&module);
}
"""


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest: Path, version: str, *, broken: str | None = None) -> Path:
    """tinyext-VERSION-cpXY-cpXY-manylinux_2_17_x86_64.whl; ``broken``: the extension's
    init raises ImportError with that message (a release that fails at import)."""
    dest.mkdir(parents=True, exist_ok=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "speed.c"
        src.write_text(_C_SOURCE)
        so = Path(tmp) / f"_speed{suffix}"
        defines = [f'-DBROKEN="{broken}"'] if broken else []
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O1", "-g0", f"-I{include}", *defines,
             str(src), "-o", str(so), "-Wl,--no-as-needed", "-lstdc++", "-s"],
            check=True, timeout=120,
        )  # fmt: skip
        ext = so.read_bytes()
    dist_info = f"{PROJECT}-{version}.dist-info"
    tag = f"{PY}-{PY}-{PLATFORM}"
    files: dict[str, bytes] = {
        f"{PROJECT}/__init__.py": (
            f'"""tinyext {version}"""\nfrom {PROJECT}._speed import add\n\n'
            f'__version__ = "{version}"\nassert add(2, 3) == 5\n'
        ).encode(),
        f"{PROJECT}/_speed{suffix}": ext,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {version}\n"
            "Summary: a tiny compiled project for the sweep tests\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: sweep-tests\nRoot-Is-Purelib: false\nTag: {tag}\n"
        ).encode(),
    }
    record = f"{dist_info}/RECORD"
    lines = [f"{n},sha256={_record_hash(d)},{len(d)}" for n, d in files.items()]
    files[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    path = dest / f"{PROJECT}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


@dataclass(frozen=True, kw_only=True)
class Index:
    url: str
    password: str

    @property
    def simple(self) -> str:
        return f"{self.url}simple/"


@contextlib.contextmanager
def pypiserver(tmp: Path) -> Iterator[Index]:
    """pypiserver with its default authentication (uploads need the password, reads not)."""
    from passlib.apache import HtpasswdFile

    password = "sweep-upload-secret"
    packages = tmp / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    htpasswd = HtpasswdFile(str(tmp / "htpasswd"), new=True)
    htpasswd.set_password(USER, password)
    htpasswd.save()
    port = free_port()
    argv = [_bin("pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port),
            "-P", str(tmp / "htpasswd"), str(packages)]  # fmt: skip
    with _process(argv, port, "/health", tmp / "pypiserver.log"):
        yield Index(url=f"http://127.0.0.1:{port}/", password=password)


def upload(index: Index, *wheels: Path) -> None:
    cp = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", index.url, *map(str, wheels)],
        env={**os.environ, "TWINE_USERNAME": USER, "TWINE_PASSWORD": index.password},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert cp.returncode == 0, cp.stdout + cp.stderr


def run_harness(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS...` in a fresh process, as a nightly job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd,
    )  # fmt: skip
