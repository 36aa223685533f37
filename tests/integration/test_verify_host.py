"""`harness verify` in host mode (the embedded default: no Docker), on real yappi wheels.

Real pip, real venvs, real smoke suites; the index for --release is a real HTTP server on
loopback serving a PEP 503 page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import shutil
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.__main__ import main

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
PY = f"cp{sys.version_info.major}{sys.version_info.minor}"
YAPPI = sorted((DATA / "real").glob("yappi-1.7.6-*.whl"))
HOST_WHEEL = next(
    p for p in YAPPI if f"-{PY}-" in p.name and "manylinux" in p.name and "x86_64" in p.name
)


def rewrite_wheel(src: Path, dest: Path, replace: dict[str, bytes]) -> Path:
    """A copy of ``src`` with members replaced and a correct RECORD (a well-formed wheel)."""
    with zipfile.ZipFile(src) as zin:
        items = {i.filename: zin.read(i) for i in zin.infolist()}
    items.update(replace)
    record = next(n for n in items if n.endswith(".dist-info/RECORD"))
    lines = []
    for name, data in items.items():
        if name == record:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record},,")
    items[record] = ("\n".join(lines) + "\n").encode()
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items.items():
            zout.writestr(name, data)
    return dest


def test_real_release_passes_on_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"
    rc = main(["verify", *map(str, YAPPI), "--report-dir", str(reports)])
    out = capsys.readouterr()
    assert rc == 0, out.err[-2000:]
    doc = json.loads((reports / "report.json").read_text())
    assert doc["schema"] == "harness-report/1"
    assert doc["verdict"] == "pass"
    ran = [r for r in doc["runs"] if r["status"] != "skipped"]
    assert len(ran) == 1
    run = ran[0]
    assert run["env"] == "host"
    assert run["wheel"]["filename"] == HOST_WHEEL.name
    assert run["status"] == "passed"
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["pick"]["detail"]["picked"] == HOST_WHEEL.name
    profiler = steps["smoke:profiler"]["detail"]["checks"]
    assert {c["name"] for c in profiler} >= {
        "threads before start",
        "forked child",
        "asyncio tasks",
    }
    assert all(c["ok"] for c in profiler)
    imported = {c["name"] for c in steps["smoke:import"]["detail"]["checks"]}
    assert imported == {"import _yappi", "import yappi"}
    # every other wheel is reported as untested, with its reason
    skipped = {r["wheel"]["filename"]: r["reason"] for r in doc["runs"] if r["status"] == "skipped"}
    assert len(skipped) == len(YAPPI) - 1
    mac = next(n for n in skipped if "macosx" in n)
    assert "macOS" in skipped[mac]
    for name in ("junit.xml", "summary.md", "report.html"):
        assert (reports / name).is_file()
    assert "verdict: PASS" in out.out


def test_import_failure_fails_the_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    rewrite_wheel(
        HOST_WHEEL, dist / HOST_WHEEL.name, {"yappi.py": b"raise ImportError('boom from test')\n"}
    )
    reports = tmp_path / "reports"
    rc = main(["verify", str(dist), "--report-dir", str(reports)])
    assert rc == 1
    doc = json.loads((reports / "report.json").read_text())
    assert doc["verdict"] == "fail"
    assert doc["inspect"]["wheels"][0]["findings"] == []  # statically fine: only a run shows it
    (run,) = doc["runs"]
    assert run["status"] == "failed"
    assert "boom from test" in run["reason"]
    assert "verdict: FAIL" in capsys.readouterr().out


@pytest.mark.skipif(PY != "cp311", reason="the fallback test wheel is built for CPython 3.11")
def test_extension_hidden_by_a_fallback_fails_the_cell(tmp_path: Path) -> None:
    # `import fallback_pkg` works (its __init__ swallows the ImportError); importing the
    # extension module itself shows the defect (undefined symbol PyLong_AsInt on 3.11)
    wheel = next((DATA / "fallback").glob("fallback_pkg-*.whl"))
    reports = tmp_path / "reports"
    assert main(["verify", str(wheel), "--report-dir", str(reports)]) == 1
    doc = json.loads((reports / "report.json").read_text())
    assert doc["inspect"]["wheels"][0]["findings"] == []  # statically fine
    (run,) = doc["runs"]
    assert run["status"] == "failed"
    assert "fallback_pkg._speedups" in run["reason"]
    assert "PyLong_AsInt" in run["reason"]
    steps = {s["name"]: s for s in run["steps"]}
    checks = {c["name"]: c["ok"] for c in steps["smoke:import"]["detail"]["checks"]}
    assert checks == {"import fallback_pkg": True, "import fallback_pkg._speedups": False}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def simple_index(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "index"
    pkg = root / "simple" / "yappi"
    pkg.mkdir(parents=True)
    links = []
    for w in [HOST_WHEEL, *[p for p in YAPPI if "macosx" in p.name][:2]]:
        shutil.copy(w, pkg / w.name)
        sha = hashlib.sha256(w.read_bytes()).hexdigest()
        links.append(f'<a href="{w.name}#sha256={sha}">{w.name}</a>')
    (pkg / "index.html").write_text("<html><body>" + "\n".join(links) + "</body></html>")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def test_release_from_an_index(
    tmp_path: Path, simple_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    reports = tmp_path / "reports"
    # run from another project's directory: its [tool.harness] (a test-command that always
    # fails) belongs to that project, not to the release, and must not be applied
    elsewhere = tmp_path / "other-project"
    elsewhere.mkdir()
    (elsewhere / "pyproject.toml").write_text(
        "[project]\nname = 'other-project'\n[tool.harness]\n"
        "suites = ['test-command']\ntest-command = 'python -c \"raise SystemExit(9)\"'\n"
    )
    monkeypatch.chdir(elsewhere)
    rc = main(
        [
            "verify",
            "--release",
            "yappi==1.7.6",
            "--index-url",
            simple_index,
            "--report-dir",
            str(reports),
        ]
    )
    assert rc == 0
    doc = json.loads((reports / "report.json").read_text())
    assert len(doc["inspect"]["wheels"]) == 3
    assert [r["status"] for r in doc["runs"]].count("passed") == 1
    assert doc["config"]["source"] is None
    assert doc["config"]["test_command"] is None


def test_release_missing_version_is_usage_error(
    tmp_path: Path,
    simple_index: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    rc = main(
        [
            "verify",
            "--release",
            "yappi==0.0.1",
            "--index-url",
            simple_index,
            "--report-dir",
            str(tmp_path / "r"),
        ]
    )
    assert rc == 2
    assert "no wheels of this release" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_unreachable_index_is_infra_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "verify",
            "--release",
            "yappi==1.7.6",
            "--index-url",
            "http://127.0.0.1:9/simple/",
            "--report-dir",
            str(tmp_path / "r"),
        ]
    )
    assert rc == 3
    err = capsys.readouterr().err
    assert "unreachable" in err
    assert "Traceback" not in err


def test_project_test_command_with_sources_and_requires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "check_it.py").write_text(
        "import six, yappi\n"
        "yappi.start(); sum(range(1000)); yappi.stop()\n"
        "assert yappi.get_func_stats() is not None\n"
        "print('project test ran with six', six.__version__)\n"
    )
    (project / "pyproject.toml").write_text(
        "[tool.harness]\n"
        'suites = ["import", "test-command"]\n'
        'test-requires = ["six"]\n'
        'test-sources = ["tests"]\n'
        'test-command = "python {project}/tests/check_it.py"\n'
    )
    monkeypatch.chdir(project)
    reports = tmp_path / "reports"
    rc = main(["verify", str(HOST_WHEEL), "--report-dir", str(reports)])
    doc = json.loads((reports / "report.json").read_text())
    (run,) = doc["runs"]
    assert rc == 0, run["reason"]
    steps = {s["name"]: s for s in run["steps"]}
    # "deps" (the env's pip resolving test-requires) runs once per env, wheel and day
    assert [n for n in steps if n not in ("pip cache", "deps")] == [
        "venv",
        "install",
        "pick",
        "install test-requires",
        "smoke:import",
        "smoke:test-command",
    ]
    assert "project test ran with six" in steps["smoke:test-command"]["output_tail"]


def test_missing_test_sources_is_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness]\ntest-sources = ["nope"]\ntest-command = "true"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["verify", str(HOST_WHEEL), "--report-dir", str(tmp_path / "r")]) == 2
    assert "test-sources" in capsys.readouterr().err


def test_no_docker_daemon_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    reports = tmp_path / "reports"
    assert main(["verify", str(HOST_WHEEL), "--matrix", "linux", "--report-dir", str(reports)]) == 3
    err = capsys.readouterr().err
    assert "no Docker daemon reachable" in err
    assert "DOCKER_HOST" in err
    assert "Traceback" not in err
    assert not reports.exists()  # no half report


def test_hung_step_is_an_error_cell_and_the_rest_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness]\nsuites = ["import", "test-command"]\n'
        'test-command = "python -c \\"import time; time.sleep(600)\\""\n'
    )
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    # the timeout leaves the steps before the hung one room on a saturated machine too
    rc = main(["verify", str(HOST_WHEEL), "--timeout", "30", "--report-dir", str(reports)])
    assert rc == 1
    doc = json.loads((reports / "report.json").read_text())
    (run,) = doc["runs"]
    assert run["status"] == "error"
    assert "timed out after 30s" in run["reason"]
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["smoke:import"]["status"] == "passed"  # the steps before it ran normally
    assert steps["smoke:test-command"]["detail"]["timed_out"] is True


@pytest.mark.parametrize("install", ["pip", "host"])
def test_host_cell_sees_only_its_wheelhouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install: str
) -> None:
    """A decoy of the same name and version where PIP_FIND_LINKS and a user pip.conf point,
    secrets in the environment: the cell installs from its wheelhouse, sees none of them;
    with the env's pip (``install = "pip"``) and with the install done by the harness."""
    decoys = tmp_path / "decoys"
    decoys.mkdir()
    rewrite_wheel(
        HOST_WHEEL, decoys / HOST_WHEEL.name, {"yappi.py": b"raise ImportError('DECOY taken')\n"}
    )
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(f"[global]\nfind-links = {decoys}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PIP_FIND_LINKS", str(decoys))
    monkeypatch.setenv("PIP_PREFER_BINARY", "1")
    monkeypatch.setenv("TWINE_PASSWORD", "pw-decoy-123456")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-decoy-123456")
    monkeypatch.setenv("PYTHONPATH", str(decoys))
    (tmp_path / "pyproject.toml").write_text(
        "[tool.harness]\n"
        f'install = "{install}"\n'
        'suites = ["import", "test-command"]\n'
        'test-command = "python -c \\"import os, site; print(sorted(os.environ)); '
        "print('HOME', os.environ['HOME']); print('USER-SITE', site.ENABLE_USER_SITE)\\\"\"\n"
    )
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    rc = main(["verify", str(HOST_WHEEL), "--report-dir", str(reports)])
    doc = json.loads((reports / "report.json").read_text())
    (run,) = doc["runs"]
    assert rc == 0, run["reason"]
    steps = {s["name"]: s for s in run["steps"]}
    output = steps["install"]["output_tail"]
    if install == "pip":
        assert "Looking in links" in output  # pip -v names every place it looks
        assert str(decoys) not in output
        assert "/opt/wheels" not in output  # this machine's own PIP_FIND_LINKS
    else:
        assert steps["install"]["detail"]["where"] == "host"
        pick = steps["pick"]["detail"]
        assert pick["path"].endswith(f"/{HOST_WHEEL.name}")
        assert str(decoys) not in pick["path"]
        assert pick["chosen_by"]["candidates"] == [HOST_WHEEL.name]
        assert pick["sha256"] == run["wheel"]["sha256"]
    assert steps["smoke:import"]["status"] == "passed"  # the real yappi, not the decoy
    seen = steps["smoke:test-command"]["output_tail"]
    for name in (
        "PIP_FIND_LINKS",
        "PIP_PREFER_BINARY",
        "TWINE_PASSWORD",
        "AWS_SECRET",
        "PYTHONPATH",
    ):
        assert name not in seen
    assert "PIP_CONFIG_FILE" in seen  # = os.devnull: pip reads no config file at all
    assert f"HOME {home}" not in seen
    assert "USER-SITE False" in seen


def _repackaged_yappi(
    dest: Path, name: str, tests_init: str, so_bytes: bytes | None = None
) -> Path:
    """yappi's real extension moved to NAME/tests/_yappi*.so, with NAME/tests/__init__.py
    = ``tests_init`` (greenlet's layout: a test extension inside a tests package)."""
    import base64
    import hashlib
    import zipfile

    with zipfile.ZipFile(HOST_WHEEL) as zf:
        so_name = next(n for n in zf.namelist() if n.startswith("_yappi") and n.endswith(".so"))
        so = zf.read(so_name) if so_bytes is None else so_bytes
        wheel_meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")))
    dist_info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/tests/__init__.py": tests_init.encode(),
        f"{name}/tests/{so_name}": so,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{dist_info}/WHEEL": wheel_meta,
    }
    record = (
        "".join(
            f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},"
            f"{len(d)}\n"
            for p, d in files.items()
        )
        + f"{dist_info}/RECORD,,\n"
    )
    tag = HOST_WHEEL.name.split("-", 2)[2]
    out = dest / f"{name}-1.0-{tag}"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, d in files.items():
            zf.writestr(p, d)
        zf.writestr(f"{dist_info}/RECORD", record)
    return out


def test_extension_in_a_package_whose_init_needs_a_test_dependency(tmp_path: Path) -> None:
    """greenlet ships greenlet/tests/_test_extension*.so and greenlet/tests/__init__.py
    imports psutil, a test dependency. Importing the extension by its dotted name fails in
    the parent's __init__, not in the compiled code: the suite loads the file directly and
    passes, with the parent's error kept. A broken .so in the same place still fails."""
    dist = tmp_path / "dist"
    dist.mkdir()
    good = _repackaged_yappi(dist, "testpkg_ok", "import harness_no_such_test_dep_9b1\n")
    reports = tmp_path / "reports"
    assert main(["verify", str(good), "--report-dir", str(reports)]) == 0
    run = json.loads((reports / "report.json").read_text())["runs"][0]
    checks = next(s for s in run["steps"] if s["name"] == "smoke:import")["detail"]["checks"]
    ext = next(c for c in checks if ".tests._yappi" in c["name"])
    assert ext["ok"] is True
    assert ext["detail"]["loaded_directly"] is True
    assert "harness_no_such_test_dep_9b1" in ext["detail"]["parent_error"]

    broken_dist = tmp_path / "broken"
    broken_dist.mkdir()
    bad = _repackaged_yappi(
        broken_dist, "testpkg_bad", "import harness_no_such_test_dep_9b1\n", b"\x7fELF broken"
    )
    reports = tmp_path / "reports-bad"
    assert main(["verify", str(bad), "--report-dir", str(reports)]) == 1
    run = json.loads((reports / "report.json").read_text())["runs"][0]
    assert run["status"] == "failed"
    assert "testpkg_bad.tests._yappi" in run["reason"]


def test_requires_python_decides_the_pick_in_verify_too(tmp_path: Path) -> None:
    """coverage 7.17.4 and multidict 7.2.1 ship a py3-none-any wheel for Requires-Python
    >=3.11 next to their compiled ones: pip never installs it on an older Python, so verify
    must not plan that cell (it did, and the cell failed in pip: a false alarm)."""
    import zipfile

    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = dist / "rp_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("rp_probe/__init__.py", "")
        zf.writestr(
            "rp_probe-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: rp_probe\nVersion: 1.0\nRequires-Python: >=3.99\n",
        )
        zf.writestr("rp_probe-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr("rp_probe-1.0.dist-info/RECORD", "")
    reports = tmp_path / "reports"
    main(["verify", str(wheel), "--report-dir", str(reports)])
    doc = json.loads((reports / "report.json").read_text())
    assert [r["env"] for r in doc["runs"]] == ["static"]  # no cell: pip would not pick it
    assert doc["coverage"]["wheels"][0]["ran_in"] == []


OPTDEP_C = """
#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__ext(void) {
    PyObject *dep = PyImport_ImportModule("%s");
    if (dep == NULL) return NULL;
    Py_DECREF(dep);
    return PyModule_Create(&def);
}
"""


def _optdep_wheel(dest: Path, name: str, needs: str) -> Path:
    """NAME/_ext: a compiled module whose init imports module ``needs`` (as zstandard's
    CFFI backend `zstandard._cffi` imports `_cffi_backend`, from an optional extra)."""
    import base64
    import hashlib
    import subprocess
    import sysconfig
    import zipfile

    src = dest / "ext.c"
    src.write_text(OPTDEP_C % needs)
    so = dest / "ext.so"
    subprocess.run(
        ["gcc", "-O1", "-fPIC", "-shared", f"-I{sysconfig.get_path('include')}", str(src),
         "-o", str(so)],
        check=True,
    )  # fmt: skip
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    dist_info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/_ext{suffix}": so.read_bytes(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
            'Requires-Dist: harness-absent-optional-dep; extra == "fast"\n'
        ).encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
        f"Tag: {PY}-{PY}-manylinux_2_17_x86_64\n".encode(),
    }
    record = (
        "".join(
            f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},"
            f"{len(d)}\n"
            for p, d in files.items()
        )
        + f"{dist_info}/RECORD,,\n"
    )
    out = dest / f"{name}-1.0-{PY}-{PY}-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, d in files.items():
            zf.writestr(p, d)
        zf.writestr(f"{dist_info}/RECORD", record)
    return out


def test_extension_needing_an_optional_dependency_is_skipped_not_failed(tmp_path: Path) -> None:
    """zstandard ships zstandard/_cffi*.so, which imports _cffi_backend from cffi, an
    optional extra: `import zstandard` works without it, so the cell passes and the check
    says which module was missing. A module of the wheel's own that is missing still fails."""
    good = _optdep_wheel(tmp_path, "optdep_ok", "harness_absent_optional_dep_4c2")
    reports = tmp_path / "reports"
    main(["verify", str(good), "--report-dir", str(reports)])
    run = json.loads((reports / "report.json").read_text())["runs"][0]
    assert run["status"] == "passed", run["reason"]
    checks = next(s for s in run["steps"] if s["name"] == "smoke:import")["detail"]["checks"]
    ext = next(c for c in checks if c["name"] == "import optdep_ok._ext")
    assert ext["ok"] is True
    assert "harness_absent_optional_dep_4c2" in ext["detail"]
    assert ext["detail"].startswith("skipped: needs module")

    (tmp_path / "own").mkdir()
    own = _optdep_wheel(tmp_path / "own", "optdep_own", "optdep_own._gone")
    reports = tmp_path / "reports-own"
    main(["verify", str(own), "--report-dir", str(reports)])
    run = json.loads((reports / "report.json").read_text())["runs"][0]
    assert run["status"] == "failed"
    assert "optdep_own._gone" in run["reason"]
