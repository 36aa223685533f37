"""record.*: every member listed in RECORD with the right sha256 and size, and only those."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from harness.findings import Finding, error
from harness.wheel import Wheel

# PEP 376/427: RECORD itself and its signatures carry no hash.
_UNHASHED = ("RECORD", "RECORD.jws", "RECORD.p7s")
_WEAK = {"md5", "sha1"}


def check(wheel: Wheel) -> Iterator[Finding]:
    if not wheel.readable:
        return
    dist_info = wheel.dist_info
    if dist_info is None:
        return  # wheel.missing says it
    record_name = f"{dist_info}/RECORD"
    raw = wheel.contents.get(record_name)
    if raw is None:
        if wheel.member(record_name) is None:
            yield error("record.missing", "no RECORD in the .dist-info directory", path=dist_info)
        return
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        yield error("record.missing", f"RECORD is not readable CSV: {exc}", path=record_name)
        return

    listed: dict[str, tuple[str, str]] = {}
    for lineno, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != 3:
            yield error(
                "record.hash-mismatch",
                f"RECORD line {lineno} has {len(row)} fields, expected 3",
                path=record_name,
            )
            continue
        path, hash_field, size_field = row
        if path in listed:
            yield error("record.unlisted", f"listed twice in RECORD (line {lineno})", path=path)
        listed[path] = (hash_field, size_field)

    members = {m.name: m for m in wheel.members if not m.is_dir}
    for name, m in members.items():
        entry = listed.get(name)
        if entry is None:
            yield error("record.unlisted", "member is not listed in RECORD", path=name)
            continue
        hash_field, size_field = entry
        if not hash_field:
            if name.rsplit("/", 1)[-1] in _UNHASHED and name.startswith(dist_info + "/"):
                continue
            yield error("record.hash-mismatch", "RECORD lists no hash for this member", path=name)
            continue
        algo, _, expected = hash_field.partition("=")
        if algo != "sha256":
            if algo in _WEAK:
                yield error(
                    "record.hash-mismatch", f"RECORD uses {algo}, which wheels forbid", path=name
                )
            else:
                # stronger algorithms are allowed by the spec; we only verify sha256
                pass
            continue
        if m.sha256 is None:
            continue  # unreadable: archive.corrupt says it
        if m.sha256 != expected:
            yield error(
                "record.hash-mismatch",
                "sha256 differs from RECORD",
                path=name,
                record=expected,
                actual=m.sha256,
            )
        elif size_field and m.actual_size is not None and size_field != str(m.actual_size):
            yield error(
                "record.hash-mismatch",
                f"size {m.actual_size} differs from RECORD's {size_field}",
                path=name,
                record=size_field,
                actual=m.actual_size,
            )
    for name in listed:
        if name not in members and not name.endswith("/"):
            yield error(
                "record.unlisted", "RECORD lists a file that is not in the wheel", path=name
            )
