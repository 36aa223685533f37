from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def real_wheels() -> list[Path]:
    wheels = sorted((DATA / "real").glob("*.whl"))
    assert wheels, "tests/data/real has no wheels: run tests/data/fetch_real.py"
    return wheels
