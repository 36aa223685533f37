"""Seeded mutation fuzzing over real wheels: findings or a clean pass, never a crash.

Mutations: truncations, bit flips, byte runs overwritten, member renames (in both the
local header and central directory), bogus declared sizes. Every run must end with a
result (no exception, no crashed check), write nothing, and stay within bounds.
"""

from __future__ import annotations

import os
import random
import resource
import struct
from pathlib import Path

import pytest

from harness.inspect import inspect_wheel

DATA = Path(__file__).parent.parent / "data" / "real"
SUBJECTS = [
    *sorted(DATA.glob("yappi-1.7.6-cp311-*.whl")),
    *sorted(DATA.glob("blackfire-*musllinux*.whl")),
]
ROUNDS = int(os.environ.get("HARNESS_FUZZ_ROUNDS", "40"))


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    kind = rng.choice(["truncate", "flip", "overwrite", "rename", "size", "multi"])
    if kind == "truncate":
        return bytes(buf[: rng.randrange(0, len(buf))])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        i = rng.randrange(len(buf))
        n = rng.randint(1, 64)
        buf[i : i + n] = rng.randbytes(min(n, len(buf) - i))
    elif kind in ("rename", "size"):
        # central directory file headers: PK\x01\x02
        offsets = [i for i in range(len(buf) - 46) if buf[i : i + 4] == b"PK\x01\x02"]
        if offsets:
            off = rng.choice(offsets)
            if kind == "rename":
                name_len = struct.unpack_from("<H", buf, off + 28)[0]
                start = off + 46
                for j in range(start, start + name_len):
                    if rng.random() < 0.3:
                        buf[j] = rng.choice(b"/.\\:\x00aZ")
            else:
                struct.pack_into("<I", buf, off + 24, rng.choice([0, 1, 2**31, 2**32 - 1]))
    else:
        for _ in range(3):
            buf = bytearray(_mutate(bytes(buf), rng))
    return bytes(buf)


@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda p: p.name)
def test_mutated_wheels_never_crash(subject: Path, tmp_path: Path) -> None:
    rng = random.Random(f"{subject.name}-seed-1")
    original = subject.read_bytes()
    work = tmp_path / "in"
    work.mkdir()
    target = work / subject.name
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = {"clean": 0, "findings": 0}
    for _ in range(ROUNDS):
        target.write_bytes(_mutate(original, rng))
        report = inspect_wheel(target)  # must not raise
        codes = {f.code for f in report.findings}
        assert "harness.check-crashed" not in codes, report.findings
        outcomes["findings" if report.findings else "clean"] += 1
    # nothing written besides our own input file
    assert set(Path(tmp_path).rglob("*")) == {work, target}
    # bounded memory: a few MB of wheel must not blow up to hundreds of MB
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 300 * 1024
    assert outcomes["findings"] > 0  # the mutator really produces defects
