"""verify's pure parts: config validation, module discovery, static-only reasons, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import config
from harness.errors import InputError, UsageError
from harness.release import parse_spec
from harness.verify.cell import _parse_result, _top_level_modules, redact
from harness.verify.plan import static_only_reason

DATA = Path(__file__).parent.parent / "data"


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "pyproject.toml"
    p.write_text(body)
    return p


def test_config_defaults_without_table(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "[project]\nname='x'\n"))
    assert cfg.suites_for("yappi") == ("import", "profiler")
    assert cfg.suites_for("other") == ("import",)
    assert cfg.adapter_for("yappi") == "yappi"


def test_config_full_table(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            '[tool.harness]\nsuites=["import","test-command"]\nimport=["a","b"]\n'
            'profiler-adapter="cprofile"\ntest-command="pytest {project}"\ntimeout=30\njobs=3\n',
        )
    )
    assert cfg.suites_for("anything") == ("import", "test-command")
    assert cfg.import_modules == ("a", "b")
    assert (cfg.timeout_s, cfg.jobs, cfg.profiler_adapter) == (30, 3, "cprofile")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[tool.harness]\nsuitez=[]\n", "unknown key(s) suitez"),
        ("[tool.harness]\nsuites=['smoke']\n", "unknown suite(s) smoke"),
        ("[tool.harness]\nsuites='import'\n", "suites must be a list of strings"),
        ("[tool.harness]\nprofiler-adapter='perf'\n", "profiler-adapter must be one of"),
        ("[tool.harness]\ntimeout=0\n", "timeout must be a positive integer"),
        ("[tool.harness]\njobs=true\n", "jobs must be a positive integer"),
        ("[tool.harness\n", "not valid TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, body: str, needle: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(InputError) as exc:
        config.load(path)
    assert needle in str(exc.value)
    assert str(path) in str(exc.value)
    assert exc.value.exit_code == 2


def test_top_level_modules_of_real_wheel() -> None:
    wheel = next((DATA / "real").glob("yappi-1.7.6-cp311-*manylinux*x86_64.whl"))
    assert _top_level_modules(wheel) == ["_yappi", "yappi"]


def test_import_suite_names_every_extension_module() -> None:
    # the package imports fine through its fallback; its extension is named on its own
    wheel = next((DATA / "fallback").glob("fallback_pkg-*.whl"))
    assert _top_level_modules(wheel) == ["fallback_pkg", "fallback_pkg._speedups"]
    # vendored shared libraries (pkg.libs/libx.so.1) and .data/platlib are handled
    rpds = next((DATA / "real").glob("rpds_py-*musllinux*.whl"))
    assert _top_level_modules(rpds) == ["rpds", "rpds.rpds"]


FOREIGN = "[project]\nname = 'someone-else'\n[tool.harness]\nsuites = ['test-command']\n"


def test_foreign_pyproject_is_not_applied_to_a_release(tmp_path: Path) -> None:
    path = write(tmp_path, FOREIGN)
    cfg, note = config.load_for(path, explicit=False, distributions={"yappi"}, require_name=True)
    assert cfg == config.Config(jobs=cfg.jobs)
    assert note is not None
    assert "someone-else" in note
    assert "--config" in note


def test_own_or_explicit_pyproject_is_applied(tmp_path: Path) -> None:
    path = write(tmp_path, FOREIGN.replace("someone-else", "Some_Else"))
    cfg, note = config.load_for(
        path, explicit=False, distributions={"some-else"}, require_name=True
    )
    assert cfg.suites == ("test-command",)
    assert note is None
    cfg, note = config.load_for(path, explicit=True, distributions={"yappi"}, require_name=True)
    assert cfg.suites == ("test-command",)
    assert note is None
    # a pyproject without [project] name applies to local wheels, not to a --release
    nameless = write(tmp_path, "[tool.harness]\nmacos-minor-version = 'error'\n")
    cfg, _ = config.load_for(nameless, explicit=False, distributions={"x"}, require_name=False)
    assert cfg.check_options().macos_minor_version == "error"
    cfg, note = config.load_for(nameless, explicit=False, distributions={"x"}, require_name=True)
    assert cfg.macos_minor_version == "warning"
    assert note is not None


def test_static_only_reasons() -> None:
    assert "macOS" in static_only_reason("yappi-1.7.6-cp311-cp311-macosx_11_0_arm64.whl")
    assert "Windows" in static_only_reason("yappi-1.7.6-cp311-cp311-win_amd64.whl")
    assert "no environment" in static_only_reason("x-1-cp311-cp311-manylinux_2_17_s390x.whl")


def test_redact_hides_secret_env_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", "canary-s3cr3t-value")
    assert "canary" not in redact("login with canary-s3cr3t-value failed")


def test_parse_result_takes_last_marker() -> None:
    out = 'noise\nHARNESS-RESULT {"failed": 1}\nHARNESS-RESULT {"failed": 0, "checks": []}\n'
    assert _parse_result(out) == {"failed": 0, "checks": []}
    assert _parse_result("HARNESS-RESULT {broken") is None


@pytest.mark.parametrize("spec", ["yappi", "yappi==", "==1.0", "yappi==not a version"])
def test_release_spec_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_spec(spec)


def test_processed_wheel_is_the_path_pip_printed() -> None:
    from harness.verify.cell import _processed_wheel

    out = (
        "Looking in links: /wheelhouse\n"
        "Processing /deps/six-1.16.0-py2.py3-none-any.whl\n"
        "Processing /wheelhouse/Yappi-1.7.6-cp311-cp311-manylinux_2_17_x86_64.whl\n"
    )
    assert _processed_wheel(out, "yappi") == (
        "/wheelhouse/Yappi-1.7.6-cp311-cp311-manylinux_2_17_x86_64.whl"
    )
    assert _processed_wheel("Processing c:\\wh\\my_pkg-1.0-py3-none-any.whl", "my-pkg") == (
        "c:/wh/my_pkg-1.0-py3-none-any.whl"
    )
    assert _processed_wheel(out, "other") is None


def test_wheel_metadata_read_with_pkginfo() -> None:
    from packaging.version import Version

    from harness.verify.cell import _same_version, _wheel_metadata

    wheel = next((DATA / "real").glob("yappi-1.7.6-*.whl"))
    assert _wheel_metadata(wheel) == {"name": "yappi", "version": "1.7.6"}
    assert _same_version("1.7.6", Version("1.7.6"))
    assert not _same_version("1.7.6.post1", Version("1.7.6"))
    assert not _same_version("not a version", Version("1.7.6"))
