"""record.*: every member listed in RECORD with the right sha256 and size, and only those."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator

from harness.findings import Finding, error
from harness.wheel import DEFAULT_LIMITS, Wheel

# PEP 376/427: RECORD itself and its signatures carry no hash.
_UNHASHED = ("RECORD", "RECORD.jws", "RECORD.p7s")
_WEAK = {"md5", "sha1"}
# what PEP 376 allows (hashlib.algorithms_guaranteed, minus the weak ones)
_STRONG = frozenset(
    {"sha224", "sha384", "sha512", "sha3_224", "sha3_256", "sha3_384", "sha3_512",
     "blake2b", "blake2s"}
)  # fmt: skip
_CHUNK = 1024 * 1024
MAX_ABSENT_LISTED = 50  # absent files named one by one; the rest are counted
MAX_RECORD_ROWS = 2 * DEFAULT_LIMITS.max_members


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
        # streamed line by line (a StringIO of the whole RECORD costs 4 bytes a character)
        rows = csv.reader(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline=""))
        listed, bad_rows = _parse_rows(rows, record_name)
    except (UnicodeDecodeError, csv.Error) as exc:
        yield error("record.missing", f"RECORD is not readable CSV: {exc}", path=record_name)
        return
    yield from bad_rows
    yield from _check_members(wheel, dist_info, listed)


def _parse_rows(
    rows: Iterator[list[str]], record_name: str
) -> tuple[dict[str, tuple[str, str]], list[Finding]]:
    listed: dict[str, tuple[str, str]] = {}
    problems: list[Finding] = []
    for lineno, row in enumerate(rows, 1):
        if lineno > MAX_RECORD_ROWS:
            problems.append(
                error(
                    "record.unlisted",
                    f"RECORD has more than {MAX_RECORD_ROWS} lines (a wheel has at most "
                    f"{DEFAULT_LIMITS.max_members} members): the rest is not read",
                    path=record_name,
                )
            )
            break
        if not row:
            continue
        if len(row) != 3:
            problems.append(
                error(
                    "record.hash-mismatch",
                    f"RECORD line {lineno} has {len(row)} fields, expected 3",
                    path=record_name,
                )
            )
            continue
        path, hash_field, size_field = row
        if path in listed:
            problems.append(
                error("record.unlisted", f"listed twice in RECORD (line {lineno})", path=path)
            )
        listed[path] = (hash_field, size_field)
    return listed, problems


def _check_members(
    wheel: Wheel, dist_info: str, listed: dict[str, tuple[str, str]]
) -> Iterator[Finding]:
    members = {m.name: m for m in wheel.members if not m.is_dir}
    other: list[tuple[str, str, str]] = []  # (member, algorithm, digest) not sha256
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
            other.append((name, algo, expected))
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
    yield from _check_other_algorithms(wheel, other)
    absent = [n for n in listed if n not in members and not n.endswith("/")]
    for name in absent[:MAX_ABSENT_LISTED]:
        yield error("record.unlisted", "RECORD lists a file that is not in the wheel", path=name)
    if len(absent) > MAX_ABSENT_LISTED:
        yield error(
            "record.unlisted",
            f"... and {len(absent) - MAX_ABSENT_LISTED} more files RECORD lists that are not "
            f"in the wheel ({len(absent)} in all)",
            absent=len(absent),
        )


def _check_other_algorithms(wheel: Wheel, entries: list[tuple[str, str, str]]) -> Iterator[Finding]:
    """RECORD hashes other than sha256: weak or unknown ones are errors, the others (sha384,
    sha512, blake2b, ...) are verified by re-reading the member, streamed and bounded."""
    if not entries:
        return
    verifiable: list[tuple[str, str, str]] = []
    for name, algo, expected in entries:
        if algo in _WEAK:
            yield error(
                "record.hash-mismatch", f"RECORD uses {algo}, which wheels forbid", path=name
            )
        elif algo.lower() not in _STRONG:
            yield error(
                "record.hash-mismatch",
                f"RECORD uses an unknown hash algorithm {algo!r}: cannot be verified",
                path=name,
            )
        else:
            verifiable.append((name, algo.lower(), expected))
    if not verifiable:
        return
    try:
        zf = zipfile.ZipFile(wheel.path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        for name, algo, _ in verifiable:
            yield error("record.hash-mismatch", f"cannot verify {algo}: {exc}", path=name)
        return
    with zf:
        for name, algo, expected in verifiable:
            member = wheel.member(name)
            if member is None or member.sha256 is None:
                continue  # unreadable: archive.corrupt says it
            h = hashlib.new(algo)
            try:
                with zf.open(name) as fh:
                    remaining = (member.actual_size or 0) + _CHUNK
                    while remaining > 0 and (chunk := fh.read(_CHUNK)):
                        remaining -= len(chunk)
                        h.update(chunk)
            except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, KeyError) as exc:
                yield error("record.hash-mismatch", f"cannot verify {algo}: {exc}", path=name)
                continue
            actual = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")
            if actual != expected:
                yield error(
                    "record.hash-mismatch",
                    f"{algo} differs from RECORD",
                    path=name,
                    record=expected,
                    actual=actual,
                )
