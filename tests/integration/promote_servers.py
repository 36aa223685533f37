"""Real servers on loopback for the promote tests: pypiserver with password auth, moto in
server mode (a real HTTP S3 endpoint), and a small fault proxy that answers 500 or drops the
connection on chosen requests. Every server is a subprocess or thread on 127.0.0.1 with a
free port, waited for with a bounded loop and always stopped."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.unit import promote_support  # noqa: E402 (shared with the unit tests)

__all__ = ["FaultProxy", "MotoServer", "PypiServer", "promote_support"]

READY_TRIES = 300  # x 0.1 s
USERNAME = "releaser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not installed (pip install -e .[test] provides it)")
    return found


def _wait_http(proc: subprocess.Popen[bytes], port: int, path: str, log: Path) -> None:
    for _ in range(READY_TRIES):
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"server on port {port} not ready after {READY_TRIES * 0.1:.0f} s")


@contextlib.contextmanager
def _process(argv: list[str], port: int, ready_path: str, log: Path) -> Iterator[None]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT)
        try:
            _wait_http(proc, port, ready_path, log)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@dataclass(frozen=True, kw_only=True)
class PypiServer:
    url: str  # upload endpoint and base of /simple/
    username: str
    password: str
    packages: Path

    @property
    def simple(self) -> str:
        return f"{self.url}simple/"

    def auth_simple(self) -> str:
        host = self.url.removeprefix("http://")
        return f"http://{self.username}:{self.password}@{host}simple/"


@contextlib.contextmanager
def pypiserver(tmp: Path, password: str) -> Iterator[PypiServer]:
    from passlib.apache import HtpasswdFile

    packages = tmp / "pypiserver-packages"
    packages.mkdir(parents=True, exist_ok=True)
    htpasswd = HtpasswdFile(str(tmp / "htpasswd"), new=True)
    htpasswd.set_password(USERNAME, password)
    htpasswd.save()
    port = free_port()
    argv = [
        _bin("pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port),
        "-P", str(tmp / "htpasswd"), "-a", "update,download,list",
        "--disable-fallback", "--hash-algo", "sha256", str(packages),
    ]  # fmt: skip
    with _process(argv, port, "/health", tmp / "pypiserver.log"):
        yield PypiServer(
            url=f"http://127.0.0.1:{port}/", username=USERNAME, password=password,
            packages=packages,
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class MotoServer:
    endpoint: str
    bucket: str
    env: dict[str, str]

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )


@contextlib.contextmanager
def motoserver(tmp: Path, *, secret: str = "moto-secret-key") -> Iterator[MotoServer]:
    port = free_port()
    argv = [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    env = {
        "AWS_ACCESS_KEY_ID": "testing-key-id",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with _process(argv, port, "/moto-api/", tmp / "moto.log"):
        server = MotoServer(endpoint=f"http://127.0.0.1:{port}", bucket="wheels", env=env)
        client: Any = server.client()
        client.create_bucket(Bucket=server.bucket)
        # As an operator would: anyone may read the mirror (pip sends no credentials).
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{server.bucket}/*",
                }
            ],
        }
        client.put_bucket_policy(Bucket=server.bucket, Policy=json.dumps(policy))
        yield server


# --------------------------------------------------------------------------- fault proxy

Decision = str  # "pass" | "500" | "drop-mid" (request cut half-way) | "drop-after" (answer lost)


@dataclass
class FaultProxy:
    """HTTP/1.1 reverse proxy on loopback. ``rule(method, path, nth)`` decides each request
    (nth counts requests with the same method and path). ``log`` records what reached the
    upstream server and its status: (method, path, status)."""

    upstream_port: int
    rule: Callable[[str, str, int], Decision] = lambda m, p, n: "pass"
    log: list[tuple[str, str, int]] = field(default_factory=list)
    faults: list[tuple[str, str, Decision]] = field(default_factory=list)
    port: int = 0
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            key = (method, path)
            self._seen[key] = self._seen.get(key, 0) + 1
            nth = self._seen[key]
        decision = self.rule(method, path, nth)  # may block (the Ctrl-C test holds it)
        with self._lock:
            if decision != "pass":
                self.faults.append((method, path, decision))
        return decision

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))


def _read_head(rfile: object) -> bytes | None:
    head = b""
    for _ in range(200):  # at most 200 header lines
        line = rfile.readline(65537)  # type: ignore[attr-defined]
        if not line:
            return None
        head += line
        if line in (b"\r\n", b"\n"):
            return head
    return None


class _Handler(socketserver.StreamRequestHandler):
    proxy: FaultProxy

    def handle(self) -> None:
        for _ in range(1000):  # bounded keep-alive loop
            if not self._one():
                return

    def _one(self) -> bool:
        head = _read_head(self.rfile)
        if head is None:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
        hmap = {k.lower(): v for k, v in headers}
        length = int(hmap.get("content-length", "0"))
        decision = self.proxy.decide(method, path)
        if hmap.get("expect", "").lower() == "100-continue" and decision != "500":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        if decision == "drop-mid":
            self.rfile.read(length // 2)
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        body = self.rfile.read(length) if length else b""
        if decision == "500":
            msg = b"injected fault"
            self.wfile.write(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(msg), msg)
            )
            self.wfile.flush()
            return True
        upstream = http.client.HTTPConnection("127.0.0.1", self.proxy.upstream_port, timeout=60)
        try:
            hop = ("connection", "keep-alive", "expect")
            send = {k: v for k, v in headers if k.lower() not in hop}
            upstream.request(method, path, body=body, headers=send)
            resp = upstream.getresponse()
            data = resp.read()
            self.proxy.record(method, path, resp.status)
            if decision == "drop-after":
                self.connection.shutdown(socket.SHUT_RDWR)
                return False
            out = [f"HTTP/1.1 {resp.status} {resp.reason}"]
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    out.append(f"{k}: {v}")
            out.append(f"Content-Length: {len(data)}")
            self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + data)
            self.wfile.flush()
        finally:
            upstream.close()
        return True


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def fault_proxy(upstream_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_port=upstream_port)
    handler = type("Handler", (_Handler,), {"proxy": proxy})
    server = _Server(("127.0.0.1", 0), handler)
    proxy.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def harness_env(**extra: str) -> dict[str, str]:
    """A clean environment for `python -m harness` subprocesses (no inherited secrets)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"NO_COLOR": "1", "CI": "1", "PYTHONPATH": str(Path(__file__).parents[2])})
    env.update(extra)
    return env


def run_promote(
    report_dir: Path, *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m harness promote REPORT_DIR ARGS...` as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "harness", "promote", str(report_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=report_dir.parent,
    )


def assert_secret_absent(
    secret: str, cp: subprocess.CompletedProcess[str], report_dir: Path
) -> None:
    """The canary must not be in stdout, stderr, or any file of the report dir."""
    assert secret not in cp.stdout
    assert secret not in cp.stderr
    for path in report_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def fresh_venv(tmp: Path) -> Path:
    """A new venv (pip bootstrapped offline by ensurepip); returns its python."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    return venv / "bin" / "python"


def pip_install(python: Path, index_url: str, *requirements: str) -> None:
    """pip install from this index only (loopback), no PyPI, no cache."""
    cp = subprocess.run(
        [
            str(python), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
            "--index-url", index_url, "--no-deps", *requirements,
        ],
        capture_output=True, text=True, timeout=300, check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
             "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    assert cp.returncode == 0, cp.stdout + cp.stderr
