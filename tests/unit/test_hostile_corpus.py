"""The hostile corpus (tests/hostile_corpus.py), small inputs, in-process through `main`:
each ends with its contract exit code, the findings it must raise, and no traceback.
The large inputs (GiB members, megabytes of reStructuredText) run in bench/hostile.py,
which also measures time and peak memory per input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.__main__ import main
from tests.hostile_corpus import CASES, build

SMALL = [
    name
    for name in CASES
    if name
    not in {
        "glibc-after-big-member", "rst-10mb", "markdown-nested-quotes", "markdown-wide-table",
        "member-2gib", "stdout-full", "stdout-closed",
    }
]  # fmt: skip


@pytest.mark.parametrize("name", SMALL)
def test_hostile_input(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = build(name, tmp_path / "in")
    assert not case.large
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    rc = main(list(case.argv))
    out, err = capsys.readouterr()
    assert rc in case.exit_codes, err
    assert "Traceback" not in out + err
    assert len([ln for ln in err.splitlines() if ln.strip()]) <= 1, err
    if case.codes:
        doc = json.loads(out)
        found = {f["code"] for w in doc["wheels"] for f in w["findings"]}
        assert set(case.codes) <= found
    assert "\x1b" not in out + err
