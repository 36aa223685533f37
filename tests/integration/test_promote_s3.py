"""harness promote to moto in server mode (a real HTTP S3 endpoint on loopback), through a
pass-through proxy that counts what reaches it; then pip installs from the mirror."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from promote_servers import (
    FaultProxy,
    MotoServer,
    assert_secret_absent,
    fault_proxy,
    fresh_venv,
    harness_env,
    motoserver,
    pip_install,
    promote_support,
    run_promote,
)

pytestmark = pytest.mark.integration

CANARY = "canary-aws-5e8d1f0c9b"
REAL_YAPPI = promote_support.REAL / promote_support.YAPPI_CP311


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[tuple[MotoServer, FaultProxy]]:
    with motoserver(tmp_path / "moto", secret=CANARY) as server:
        port = int(server.endpoint.rsplit(":", 1)[1])
        with fault_proxy(port) as proxy:
            yield server, proxy


def _puts(proxy: FaultProxy) -> list[str]:
    return [path for method, path, status in proxy.log if method == "PUT" and status == 200]


def test_promote_mirror_rerun_and_pip_install(
    tmp_path: Path, s3: tuple[MotoServer, FaultProxy]
) -> None:
    server, proxy = s3
    dist = tmp_path / "dist"
    old = promote_support.make_wheel(dist, version="1.0.0")
    new = promote_support.make_wheel(dist, version="1.1.0", requires_python=">=3.9,<4")
    report = tmp_path / "report"
    promote_support.write_report(report, [REAL_YAPPI, old, new])
    target = f"s3://{server.bucket}/mirror/v1"
    args = ["--to", target, "--endpoint-url", proxy.url.rstrip("/"), "--format", "json"]
    env = harness_env(**server.env)

    first = run_promote(report, *args, env=env)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert [f["result"] for f in doc["files"]] == ["uploaded"] * 3

    client: Any = server.client()
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=server.bucket)["Contents"]}
    demo = "harness-promote-demo"
    assert keys == {
        f"mirror/v1/packages/yappi/{REAL_YAPPI.name}",
        f"mirror/v1/packages/{demo}/{old.name}",
        f"mirror/v1/packages/{demo}/{new.name}",
        "mirror/v1/simple/index.html",
        "mirror/v1/simple/",
        "mirror/v1/simple/yappi/index.html",
        "mirror/v1/simple/yappi/",
        f"mirror/v1/simple/{demo}/index.html",
        f"mirror/v1/simple/{demo}/",
    }
    head = client.head_object(Bucket=server.bucket, Key=f"mirror/v1/packages/{demo}/{new.name}")
    assert head["Metadata"]["sha256"] == promote_support.sha256(new)
    assert head["ContentType"] == "application/octet-stream"
    body = client.get_object(Bucket=server.bucket, Key=f"mirror/v1/packages/{demo}/{new.name}")
    assert body["Body"].read() == new.read_bytes()
    page = client.get_object(Bucket=server.bucket, Key=f"mirror/v1/simple/{demo}/")
    assert page["ContentType"].startswith("text/html")
    html = page["Body"].read().decode()
    assert f"{new.name}#sha256={promote_support.sha256(new)}" in html
    assert 'data-requires-python="&gt;=3.9,&lt;4"' in html
    assert f"#sha256={promote_support.sha256(old)}" in html
    root = client.get_object(Bucket=server.bucket, Key="mirror/v1/simple/")["Body"].read()
    assert b'href="yappi/"' in root
    assert f'href="{demo}/"'.encode() in root
    # the index is written after every file: the last PUTs are pages, the root page last
    puts = _puts(proxy)
    assert all("/packages/" in p for p in puts[:3])
    assert puts[-1].endswith("/simple/") or puts[-1].endswith("/simple/index.html")

    second = run_promote(report, *args, env=env)
    assert second.returncode == 0, second.stderr
    assert [f["result"] for f in json.loads(second.stdout)["files"]] == ["present"] * 3
    assert _puts(proxy) == puts  # nothing uploaded, no page rewritten
    for cp in (first, second):
        assert_secret_absent(CANARY, cp, report)

    python = fresh_venv(tmp_path)
    index_url = f"{server.endpoint}/{server.bucket}/mirror/v1/simple/"
    pip_install(python, index_url, "harness-promote-demo", "yappi==1.7.6")
    probe = subprocess.run(
        [str(python), "-c", "import harness_promote_demo as d, yappi; print(d.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "1.1.0"  # the newest from the mirror's project page


def test_second_release_keeps_the_first_in_the_index(
    tmp_path: Path, s3: tuple[MotoServer, FaultProxy]
) -> None:
    server, _ = s3
    env = harness_env(**server.env)
    args = ["--to", f"s3://{server.bucket}", "--endpoint-url", server.endpoint]
    one = promote_support.make_wheel(tmp_path / "d1", version="1.0.0")
    promote_support.write_report(tmp_path / "r1", [one])
    assert run_promote(tmp_path / "r1", *args, env=env).returncode == 0
    two = promote_support.make_wheel(tmp_path / "d2", version="2.0.0")
    promote_support.write_report(tmp_path / "r2", [two])
    cp = run_promote(tmp_path / "r2", *args, env=env)
    assert cp.returncode == 0, cp.stderr
    client: Any = server.client()
    html = client.get_object(Bucket=server.bucket, Key="simple/harness-promote-demo/")
    text = html["Body"].read().decode()
    assert one.name in text
    assert two.name in text


def test_same_key_other_content_is_an_error(
    tmp_path: Path, s3: tuple[MotoServer, FaultProxy]
) -> None:
    server, proxy = s3
    ours = promote_support.make_wheel(tmp_path / "dist", version="5.0.0", payload="ours")
    theirs = promote_support.make_wheel(tmp_path / "other", version="5.0.0", payload="theirs")
    client: Any = server.client()
    key = f"packages/harness-promote-demo/{theirs.name}"
    client.put_object(Bucket=server.bucket, Key=key, Body=theirs.read_bytes())
    promote_support.write_report(tmp_path / "report", [ours])
    cp = run_promote(
        tmp_path / "report",
        "--to",
        f"s3://{server.bucket}",
        "--endpoint-url",
        proxy.url.rstrip("/"),
        env=harness_env(**server.env),
    )
    assert cp.returncode == 1, cp.stderr
    assert "already exists there with other content" in cp.stderr
    assert _puts(proxy) == []
    assert client.get_object(Bucket=server.bucket, Key=key)["Body"].read() == theirs.read_bytes()


def test_exclude_keeps_files_away_from_a_target(
    tmp_path: Path, s3: tuple[MotoServer, FaultProxy]
) -> None:
    server, proxy = s3
    dist = tmp_path / "dist"
    kept = promote_support.make_wheel(dist, version="2.0.0")
    away = promote_support.make_wheel(dist, version="2.1.0rc1")
    report = tmp_path / "report"
    promote_support.write_report(report, [kept, away])
    target = f"s3://{server.bucket}/policy"
    args = ["--to", target, "--endpoint-url", proxy.url.rstrip("/"), "--format", "json",
            "--exclude", f"{target}=*rc*"]  # fmt: skip
    env = harness_env(**server.env)

    plan = run_promote(report, *args, "--dry-run", env=env)
    assert plan.returncode == 0, plan.stderr
    actions = {f["filename"]: f["action"] for f in json.loads(plan.stdout)["files"]}
    assert actions == {kept.name: "upload", away.name: "excluded"}

    done = run_promote(report, *args, env=env)
    assert done.returncode == 0, done.stderr
    client: Any = server.client()
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=server.bucket)["Contents"]}
    demo = "harness-promote-demo"
    assert f"policy/packages/{demo}/{kept.name}" in keys
    assert f"policy/packages/{demo}/{away.name}" not in keys
    page = client.get_object(Bucket=server.bucket, Key=f"policy/simple/{demo}/index.html")
    assert away.name not in page["Body"].read().decode()
