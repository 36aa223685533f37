"""[tool.harness] install: where a cell's venv and install are done."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import config
from harness.errors import InputError


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[project]\nname = 'demo'\n[tool.harness]\n{body}\n")
    return path


def test_host_is_the_default_and_pip_is_kept(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, "")).install == "host"
    cfg = config.load(write(tmp_path, 'install = "pip"'))
    assert cfg.install == "pip"
    assert cfg.to_json()["install"] == "pip"


@pytest.mark.parametrize("value", ['"uv"', "true", '["host"]'])
def test_anything_else_is_a_one_line_input_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(InputError, match="install must be one of host, pip"):
        config.load(write(tmp_path, f"install = {value}"))
