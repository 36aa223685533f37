"""The CLI contract: exit codes, one-line errors, JSON shape, atomic --output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import __version__
from harness.__main__ import COMMANDS, main

DATA = Path(__file__).parent.parent / "data"
GOOD = sorted((DATA / "real").glob("yappi-1.7.6-cp311-*.whl"))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_help_has_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out.lower()
    assert f"harness {command}" in out


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["inspect", "--bogus", str(DATA / "real")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--bogus" in err
    assert "Traceback" not in err


def test_missing_path_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["inspect", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert len(err.strip().splitlines()) == 1


def test_empty_dir_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    assert "no .whl files" in capsys.readouterr().err


def test_not_a_wheel_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "thing.tar.gz"
    f.write_bytes(b"x")
    assert main(["inspect", str(f)]) == 2
    assert "not a wheel" in capsys.readouterr().err


def test_good_wheels_exit_0_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--format", "json", *map(str, GOOD)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "harness-inspect/1"
    assert [w["filename"] for w in doc["wheels"]] == [p.name for p in GOOD]
    for w in doc["wheels"]:
        assert set(w) >= {"filename", "sha256", "tags", "findings"}
        assert len(w["sha256"]) == 64
        assert all("-" in t for t in w["tags"])


def test_error_findings_exit_1_and_json_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / GOOD[0].name
    data = bytearray(GOOD[0].read_bytes())
    bad.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    assert main(["inspect", "--format", "json", str(bad)]) == 1
    doc = json.loads(capsys.readouterr().out)
    finding = doc["wheels"][0]["findings"][0]
    assert finding["code"] == "archive.corrupt"
    assert set(finding) == {"code", "severity", "message", "path", "evidence"}
    assert finding["severity"] == "error"


def test_output_file_written_and_stdout_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "inspect.json"
    assert main(["inspect", "--format", "json", "-o", str(out), str(GOOD[0])]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text())["wheels"][0]["filename"] == GOOD[0].name
    assert [p.name for p in tmp_path.iterdir()] == ["inspect.json"]  # no temp left


def test_output_into_missing_dir_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "dir" / "x.json"
    assert main(["inspect", "--format", "json", "-o", str(out), str(GOOD[0])]) == 2
    assert not out.parent.exists()


def test_text_output_names_codes(tmp_path: Path) -> None:
    out = tmp_path / "inspect.txt"
    shutil.copy(GOOD[0], tmp_path / GOOD[0].name)
    assert main(["inspect", "-o", str(out), str(tmp_path / GOOD[0].name)]) == 0
    text = out.read_text()
    assert GOOD[0].name in text
    assert "1 wheel(s) inspected: 0 with errors" in text


def test_console_script_no_traceback_on_bad_input(tmp_path: Path) -> None:
    cp = subprocess.run(
        [sys.executable, "-m", "harness", "inspect", str(tmp_path / "missing.whl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cp.returncode == 2
    assert "Traceback" not in cp.stderr
    assert cp.stderr.startswith("harness: error:")


MARKUP_MEMBER = "yappi/[/oops].py"


def _with_member(tmp_path: Path, name: str) -> Path:
    """A copy of a good real wheel plus a member ``name`` that RECORD does not list."""
    import zipfile

    dest = tmp_path / GOOD[0].name
    with zipfile.ZipFile(GOOD[0]) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr(name, b"x = 1\n")
    return dest


def test_wheel_strings_are_never_rich_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `[/oops]` is a closing tag with nothing open: as markup, rich raises MarkupError
    wheel = _with_member(tmp_path, MARKUP_MEMBER)
    assert main(["inspect", str(wheel)]) == 1
    out = capsys.readouterr().out
    assert MARKUP_MEMBER in out
    assert "record.unlisted" in out
    txt = tmp_path / "inspect.txt"
    assert main(["inspect", "-o", str(txt), str(wheel)]) == 1
    assert MARKUP_MEMBER in txt.read_text()


def test_output_file_mode_follows_umask(tmp_path: Path) -> None:
    import os

    out = tmp_path / "inspect.json"
    old = os.umask(0o022)
    try:
        assert main(["inspect", "--format", "json", "-o", str(out), str(GOOD[0])]) == 0
        assert out.stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert main(["inspect", "--format", "json", "-o", str(out), str(GOOD[0])]) == 0
        assert out.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
