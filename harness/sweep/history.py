"""Where sweeps are remembered: SQLite (the embedded default, no server) or an S3 prefix.

A sweep is one immutable document (:class:`Sweep`, schema ``harness-sweep/1``). Writers
never update anything, they only add, so two sweeps running at once cannot lose each other:

- **SQLite** (``--history PATH``; default ``$HARNESS_CACHE_DIR/history.sqlite``): WAL
  journal, a 60 s busy timeout and one ``BEGIN IMMEDIATE`` transaction per sweep. The
  sweep's cells are one zlib-compressed JSON blob; each distinct env identity is stored
  once (content-addressed), so thirty nights of an unchanged env cost one row.
- **S3** (``--history s3://bucket/prefix``): one object per sweep,
  ``prefix/sweeps/<id>.json.gz`` (the id ends in a random part, so two writers never
  share a key); readers list the prefix. Objects never change, so each is fetched once and
  kept in ``$HARNESS_CACHE_DIR/sweep/s3/``.

Sweep ids sort by time: ``20261125T020000123456Z-1a2b3c4d``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sqlite3
import uuid
import zlib
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from harness.envs.paths import cache_dir
from harness.errors import InfraError, InputError, UsageError
from harness.sweep.identity import Identity, digest

SWEEP_SCHEMA = "harness-sweep/1"
SQLITE_SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One env x wheel result of one release (wheel "-": the env could not be had)."""

    project: str
    version: str
    env: str  # "static" for wheels no env ran
    wheel: str
    sha256: str
    status: str  # passed | failed | error | skipped
    reason: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.project, self.version, self.env, self.wheel)

    @property
    def bad(self) -> bool:
        return self.status in ("failed", "error")

    def to_json(self) -> dict[str, str]:
        return {
            "project": self.project,
            "version": self.version,
            "env": self.env,
            "wheel": self.wheel,
            "sha256": self.sha256,
            "status": self.status,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Cell:
        return cls(**{k: str(d.get(k, "")) for k in (
            "project", "version", "env", "wheel", "sha256", "status", "reason")})  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Sweep:
    id: str
    created: str  # ISO 8601 UTC
    harness_version: str
    matrix: str
    index_url: str  # credentials removed
    releases: tuple[tuple[str, str], ...]  # (project, version)
    envs: Mapping[str, Identity]
    cells: tuple[Cell, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)  # diff counts, verdict

    @property
    def projects(self) -> tuple[str, ...]:
        return tuple(sorted({p for p, _ in self.releases}))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SWEEP_SCHEMA,
            "id": self.id,
            "created": self.created,
            "harness": {"version": self.harness_version},
            "matrix": self.matrix,
            "index_url": self.index_url,
            "releases": [{"project": p, "version": v} for p, v in self.releases],
            "envs": dict(self.envs),
            "cells": [c.to_json() for c in self.cells],
            "summary": dict(self.summary),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str) -> Sweep:
        if d.get("schema") != SWEEP_SCHEMA:
            raise InputError(f"{where}: schema: expected {SWEEP_SCHEMA!r}")
        try:
            return cls(
                id=str(d["id"]),
                created=str(d["created"]),
                harness_version=str(d.get("harness", {}).get("version", "")),
                matrix=str(d["matrix"]),
                index_url=str(d.get("index_url", "")),
                releases=tuple((str(r["project"]), str(r["version"])) for r in d["releases"]),
                envs={str(k): _identity(v, f"{where}: envs.{k}") for k, v in d["envs"].items()},
                cells=tuple(Cell.from_json(c) for c in d["cells"]),
                summary=dict(d.get("summary") or {}),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InputError(f"{where}: not a {SWEEP_SCHEMA} document ({exc!r})") from exc


def _identity(value: Any, where: str) -> Identity:
    """An env identity read back from a history: a flat object, packages name -> version."""
    if not isinstance(value, dict):
        raise InputError(f"{where}: not an object")
    packages = value.get("packages", {})
    if not isinstance(packages, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in packages.items()
    ):
        raise InputError(f"{where}.packages: not an object of name -> version strings")
    return {str(k): (v if k == "packages" else str(v)) for k, v in value.items()}


def new_id(now: datetime | None = None) -> tuple[str, str]:
    """(id, created) for a sweep starting now."""
    now = now or datetime.now(UTC)
    return (
        f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}",
        now.replace(microsecond=0).isoformat(),
    )


class History(Protocol):
    @property
    def where(self) -> str: ...

    def record(self, sweep: Sweep) -> None: ...

    def sweeps(self, project: str | None = None) -> list[Sweep]:
        """Every sweep (of ``project``), oldest first."""
        ...

    def previous(self, project: str, matrix: str) -> Sweep | None:
        """The latest sweep of ``project`` over ``matrix``."""
        ...


def default_path() -> Path:
    return cache_dir() / "history.sqlite"


def open_history(spec: str | None, *, endpoint_url: str | None = None) -> History:
    if spec and spec.startswith("s3://"):
        return S3History(spec, endpoint_url=endpoint_url)
    if endpoint_url:
        raise UsageError("--endpoint-url is only for an s3:// --history")
    if spec and "://" in spec:
        raise UsageError(f"--history {spec!r}: expected a file path or s3://bucket/prefix")
    return SqliteHistory(Path(spec) if spec else default_path())


# ---------------------------------------------------------------- SQLite

_DDL = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    matrix TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_projects (
    sweep TEXT NOT NULL REFERENCES sweeps(id),
    project TEXT NOT NULL,
    PRIMARY KEY (project, sweep)
);
CREATE TABLE IF NOT EXISTS identities (
    digest TEXT PRIMARY KEY,
    doc BLOB NOT NULL
);
"""


class SqliteHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists() and not path.is_file():
            raise UsageError(f"--history {path}: not a file")
        if not path.parent.is_dir():
            raise UsageError(f"--history {path}: directory {path.parent} does not exist")

    @property
    def where(self) -> str:
        return str(self.path)

    @contextmanager
    def _db(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise UsageError(f"--history {self.path}: cannot open ({exc})") from exc
        with closing(conn):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SQLITE_SCHEMA_VERSION:
                    raise UsageError(
                        f"--history {self.path}: written by a newer harness "
                        f"(schema {version}); upgrade wheel-harness"
                    )
                conn.execute("BEGIN IMMEDIATE" if write or version == 0 else "BEGIN")
                try:
                    if version == 0:
                        for stmt in _DDL.split(";"):
                            if stmt.strip():
                                conn.execute(stmt)
                        conn.execute(f"PRAGMA user_version={SQLITE_SCHEMA_VERSION}")
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                raise UsageError(
                    f"--history {self.path}: not a usable SQLite history ({exc})"
                ) from exc

    def record(self, sweep: Sweep) -> None:
        doc = sweep.to_json()
        env_refs: dict[str, str] = {}
        with self._db(write=True) as db:
            for name, ident in sweep.envs.items():
                d = digest(ident)
                env_refs[name] = d
                db.execute(
                    "INSERT OR IGNORE INTO identities (digest, doc) VALUES (?, ?)",
                    (d, zlib.compress(json.dumps(ident, sort_keys=True).encode(), 9)),
                )
            doc["envs"] = env_refs
            blob = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 9)
            db.execute(
                "INSERT INTO sweeps (id, created, matrix, doc) VALUES (?, ?, ?, ?)",
                (sweep.id, sweep.created, sweep.matrix, blob),
            )
            db.executemany(
                "INSERT INTO sweep_projects (sweep, project) VALUES (?, ?)",
                [(sweep.id, p) for p in sweep.projects],
            )

    def _load(self, db: sqlite3.Connection, rows: list[tuple[str, bytes]]) -> list[Sweep]:
        out: list[Sweep] = []
        idents: dict[str, Identity] = {}
        for sweep_id, blob in rows:
            where = f"{self.path}: sweep {sweep_id}"
            try:
                doc = json.loads(zlib.decompress(blob))
                refs = doc["envs"]
                for d in refs.values():
                    if d not in idents:
                        row = db.execute(
                            "SELECT doc FROM identities WHERE digest = ?", (d,)
                        ).fetchone()
                        idents[d] = json.loads(zlib.decompress(row[0])) if row else {}
                doc["envs"] = {name: idents[d] for name, d in refs.items()}
            except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"{where}: unreadable ({exc!r})") from exc
            out.append(Sweep.from_json(doc, where))
        return out

    def sweeps(self, project: str | None = None) -> list[Sweep]:
        if not self.path.exists():
            return []
        with self._db(write=False) as db:
            if project is None:
                rows = db.execute("SELECT id, doc FROM sweeps ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    "SELECT s.id, s.doc FROM sweeps s JOIN sweep_projects p ON p.sweep = s.id "
                    "WHERE p.project = ? ORDER BY s.id",
                    (project,),
                ).fetchall()
            return self._load(db, rows)

    def previous(self, project: str, matrix: str) -> Sweep | None:
        if not self.path.exists():
            return None
        with self._db(write=False) as db:
            rows = db.execute(
                "SELECT s.id, s.doc FROM sweeps s JOIN sweep_projects p ON p.sweep = s.id "
                "WHERE p.project = ? AND s.matrix = ? ORDER BY s.id DESC LIMIT 1",
                (project, matrix),
            ).fetchall()
            found = self._load(db, rows)
        return found[0] if found else None


# ---------------------------------------------------------------- S3


class S3History:
    def __init__(self, spec: str, *, endpoint_url: str | None = None) -> None:
        parts = urlsplit(spec)
        if not parts.netloc or parts.query or parts.fragment:
            raise UsageError(f"--history {spec!r}: expected s3://bucket/prefix")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.spec = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._client: Any = None
        key = hashlib.sha256(f"{self.endpoint_url}\0{self.spec}".encode()).hexdigest()[:16]
        self._cache = cache_dir() / "sweep" / "s3" / key

    @property
    def where(self) -> str:
        return self.spec

    def _key(self, name: str) -> str:
        return f"{self.prefix}/sweeps/{name}" if self.prefix else f"sweeps/{name}"

    def _s3(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        return self._client

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return fn(**kwargs)
        except NoCredentialsError as exc:
            raise InfraError(f"history {self.spec}: no AWS credentials ({what})") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise InfraError(f"history {self.spec}: {what} failed ({code})") from exc
        except BotoCoreError as exc:
            raise InfraError(f"history {self.spec}: {what} failed ({type(exc).__name__})") from exc

    def record(self, sweep: Sweep) -> None:
        body = gzip.compress(json.dumps(sweep.to_json(), separators=(",", ":")).encode(), 9)
        self._call(
            "writing the sweep",
            self._s3().put_object,
            Bucket=self.bucket,
            Key=self._key(f"{sweep.id}.json.gz"),
            Body=body,
            ContentType="application/json",
            ContentEncoding="gzip",
        )
        self._remember(sweep.id, body)

    def _ids(self) -> list[str]:
        paginator = self._s3().get_paginator("list_objects_v2")
        ids: list[str] = []
        pages = self._call(
            "listing sweeps",
            lambda **kw: list(paginator.paginate(**kw)),
            Bucket=self.bucket,
            Prefix=self._key(""),
        )
        for page in pages:
            for obj in page.get("Contents", []):
                name = str(obj["Key"]).rsplit("/", 1)[-1]
                if name.endswith(".json.gz"):
                    ids.append(name[: -len(".json.gz")])
        return sorted(ids)

    def _remember(self, sweep_id: str, body: bytes) -> None:
        try:
            self._cache.mkdir(parents=True, exist_ok=True)
            tmp = self._cache / f".{sweep_id}.{os.getpid()}.tmp"
            tmp.write_bytes(body)
            tmp.replace(self._cache / f"{sweep_id}.json.gz")
        except OSError:
            pass  # the cache is an optimisation

    def _get(self, sweep_id: str) -> Sweep:
        where = f"{self.spec}/sweeps/{sweep_id}.json.gz"
        cached = self._cache / f"{sweep_id}.json.gz"
        body: bytes | None = None
        if cached.is_file():
            body = cached.read_bytes()
        else:
            resp = self._call(
                "reading a sweep",
                self._s3().get_object,
                Bucket=self.bucket,
                Key=self._key(f"{sweep_id}.json.gz"),
            )
            body = resp["Body"].read()
        try:
            raw = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            doc = json.loads(raw)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"{where}: unreadable ({exc})") from exc
        sweep = Sweep.from_json(doc, where)
        if not cached.is_file():
            self._remember(sweep_id, body)
        return sweep

    def sweeps(self, project: str | None = None) -> list[Sweep]:
        found = [self._get(i) for i in self._ids()]
        return [s for s in found if project is None or project in s.projects]

    def previous(self, project: str, matrix: str) -> Sweep | None:
        for sweep_id in reversed(self._ids()):
            sweep = self._get(sweep_id)
            if project in sweep.projects and sweep.matrix == matrix:
                return sweep
        return None
