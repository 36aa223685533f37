"""`harness sweep` and `harness history` against real servers on loopback: a pypiserver
holding releases of a small compiled project built here, a moto S3 server for the history,
real pip and venvs on this machine's interpreter (host matrix), and one docker env whose
image is refreshed from a (loopback) Debian archive that dropped a library."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.__main__ import main
from tests.integration.promote_servers import harness_env, motoserver
from tests.integration.sweep_support import (
    PROJECT,
    build_wheel,
    pypiserver,
    run_harness,
    upload,
)

pytestmark = pytest.mark.integration


def _sweep_doc(report_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((report_dir / "sweep.json").read_text())
    return doc


def _cells(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (c["version"], c["env"]): c["status"] for c in doc["sweep"]["cells"] if c["env"] != "static"
    }


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache dir of its own (release downloads, probes, the default history)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(cache))
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    return cache


def test_new_release_failing_at_import_is_the_one_new_failure(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    dist = tmp_path / "dist"
    history = tmp_path / "history.sqlite"
    step_summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    with pypiserver(tmp_path / "index") as index:
        upload(index, build_wheel(dist, "1.0"), build_wheel(dist, "1.1"))
        common = ["--index-url", index.simple, "--releases", "3", "--history", str(history)]

        rc = main(["sweep", PROJECT, *common, "--report-dir", str(tmp_path / "night1")])
        out = capsys.readouterr()
        assert rc == 0, out.err[-3000:]
        night1 = _sweep_doc(tmp_path / "night1")
        assert _cells(night1) == {("1.1", "host"): "passed", ("1.0", "host"): "passed"}
        assert {r["version"] for r in night1["diff"]["new_releases"]} == {"1.0", "1.1"}
        assert night1["diff"]["new_failures"] == []
        ident = night1["sweep"]["envs"]["host"]
        assert ident["python"] == ".".join(map(str, sys.version_info[:3]))
        assert ident["libc"].startswith("glibc 2.")
        for version in ("1.0", "1.1"):  # each release's full verify report
            assert json.loads((tmp_path / "night1" / f"{PROJECT}-{version}" /
                               "report.json").read_text())["verdict"] == "pass"  # fmt: skip

        assert main(["history", "--history", str(history), "--format", "json"]) == 0
        hist = json.loads(capsys.readouterr().out)
        assert [s["id"] for s in hist["sweeps"]] == [night1["sweep"]["id"]]

        # a new release whose extension fails at import (HTML-hostile message on purpose)
        broken = "tinyext 1.2 <b>broken</b> & gone"
        upload(index, build_wheel(dist, "1.2", broken=broken))
        step_summary.write_text("")
        rc = main(["sweep", PROJECT, *common, "--report-dir", str(tmp_path / "night2")])
        out = capsys.readouterr()
    assert rc == 1, out.err[-3000:]
    night2 = _sweep_doc(tmp_path / "night2")
    diff = night2["diff"]
    (new,) = diff["new_failures"]
    assert (new["version"], new["env"], new["status"]) == ("1.2", "host", "failed")
    assert new["was"] == "new release"
    assert broken in new["reason"]
    assert diff["fixed"] == []
    assert diff["unchanged_failures"] == []
    assert diff["new_releases"] == [{"project": PROJECT, "version": "1.2"}]
    assert diff["changed_envs"] == {}
    assert diff["newly_untested"] == []
    # the older releases' cells are unchanged
    cells = _cells(night2)
    assert cells[("1.0", "host")] == cells[("1.1", "host")] == "passed"
    assert "NEW FAILURE tinyext 1.2 host" in out.out
    # summary.md (and the step summary) lead with the diff; the HTML escapes the message
    summary = (tmp_path / "night2" / "summary.md").read_text()
    assert summary.startswith("## Nightly sweep: 1 NEW FAILURE(S)")
    assert summary.index("### New failures") < summary.index("### Releases")
    assert step_summary.read_text() == summary
    html = (tmp_path / "night2" / "report.html").read_text()
    assert "&lt;b&gt;broken&lt;/b&gt; &amp; gone" in html
    assert "<b>broken</b>" not in html

    assert main(["history", "--history", str(history), "--format", "json",
                 "--project", PROJECT]) == 0  # fmt: skip
    hist = json.loads(capsys.readouterr().out)
    assert len(hist["sweeps"]) == 2
    host = hist["projects"][PROJECT]["host"]
    assert [(r["passed"], r["failed"]) for r in host] == [(2, 0), (2, 1)]

    # a third night with nothing new: the failure is unchanged, exit 0, and it is listed
    with pypiserver(tmp_path / "index2") as index:
        upload(index, *sorted(dist.glob("*.whl")))
        rc = main(
            [
                "sweep",
                PROJECT,
                "--index-url",
                index.simple,
                "--releases",
                "3",
                "--history",
                str(history),
                "--report-dir",
                str(tmp_path / "night3"),
            ]
        )
    assert rc == 0
    diff3 = _sweep_doc(tmp_path / "night3")["diff"]
    assert diff3["new_failures"] == []
    assert [(c["version"], c["env"]) for c in diff3["unchanged_failures"]] == [("1.2", "host")]


def test_s3_history_from_fresh_processes(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    with pypiserver(tmp_path / "index") as index, motoserver(tmp_path) as s3:
        upload(index, build_wheel(dist, "1.0"))
        prefix = f"s3://{s3.bucket}/nightly/sweeps"
        for night in (1, 2):
            env = harness_env(
                HARNESS_CACHE_DIR=str(tmp_path / f"cache{night}"),  # a fresh machine each night
                AWS_ENDPOINT_URL=s3.endpoint, **s3.env,
            )  # fmt: skip
            cp = run_harness(
                "sweep", PROJECT, "--index-url", index.simple, "--history", prefix,
                "--report-dir", str(tmp_path / f"night{night}"), env=env, cwd=tmp_path,
            )  # fmt: skip
            assert cp.returncode == 0, cp.stderr[-3000:]
            assert s3.env["AWS_SECRET_ACCESS_KEY"] not in cp.stdout + cp.stderr
        keys = [o["Key"] for o in s3.client().list_objects_v2(  # type: ignore[attr-defined]
            Bucket=s3.bucket, Prefix="nightly/sweeps/")["Contents"]]  # fmt: skip
        assert len(keys) == 2
        assert all(k.endswith(".json.gz") for k in keys)
        env = harness_env(HARNESS_CACHE_DIR=str(tmp_path / "cache3"),
                          AWS_ENDPOINT_URL=s3.endpoint, **s3.env)  # fmt: skip
        cp = run_harness("history", "--history", prefix, "--format", "json",
                         env=env, cwd=tmp_path)  # fmt: skip
        assert cp.returncode == 0, cp.stderr
        hist = json.loads(cp.stdout)
        text = run_harness("history", "--history", prefix, env=env, cwd=tmp_path)
    assert len(hist["sweeps"]) == 2
    # night 2 compared with night 1 (read from S3 on a machine that never saw it)
    night2 = _sweep_doc(tmp_path / "night2")
    assert night2["diff"]["baselines"] == {PROJECT: hist["sweeps"][0]["id"]}
    assert night2["diff"]["new_releases"] == []
    assert [r["passed"] for r in hist["projects"][PROJECT]["host"]] == [1, 1]
    assert text.returncode == 0
    assert "2 sweep(s)" in text.stdout
    assert ".." in text.stdout


def test_two_sweeps_at_once_on_one_sqlite_history(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    history = tmp_path / "shared.sqlite"
    results: dict[int, Any] = {}
    with pypiserver(tmp_path / "index") as index:
        upload(index, build_wheel(dist, "1.0"))

        def one(n: int) -> None:
            env = harness_env(HARNESS_CACHE_DIR=str(tmp_path / f"cache{n}"))
            results[n] = run_harness(
                "sweep", PROJECT, "--index-url", index.simple, "--history", str(history),
                "--report-dir", str(tmp_path / f"r{n}"), env=env, cwd=tmp_path,
            )  # fmt: skip

        threads = [threading.Thread(target=one, args=(n,)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for n in (1, 2):
        assert results[n].returncode == 0, results[n].stderr[-3000:]
    env = harness_env(HARNESS_CACHE_DIR=str(tmp_path / "cache3"))
    cp = run_harness("history", "--history", str(history), "--format", "json",
                     env=env, cwd=tmp_path)  # fmt: skip
    ids = {_sweep_doc(tmp_path / f"r{n}")["sweep"]["id"] for n in (1, 2)}
    assert {s["id"] for s in json.loads(cp.stdout)["sweeps"]} == ids
    assert os.path.getsize(history) > 0


def test_unreachable_s3_history_is_exit_3_before_any_work(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from tests.integration.promote_servers import free_port

    for key, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "canary-secret",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    closed = f"http://127.0.0.1:{free_port()}"
    with pypiserver(tmp_path / "index") as index:
        upload(index, build_wheel(tmp_path / "dist", "1.0"))
        rc = main(["sweep", PROJECT, "--index-url", index.simple, "--history", "s3://b/p",
                   "--endpoint-url", closed, "--report-dir", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 3
    assert "history s3://b/p" in err
    assert "Traceback" not in err
    assert "canary-secret" not in err
    assert not (tmp_path / "r" / f"{PROJECT}-1.0").exists()  # nothing verified


def test_release_commands_read_pip_index_url(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Without --index-url, `coverage --release` asks the index pip is pointed at
    ($PIP_INDEX_URL), as verify, sweep and ci do (harness.release.index_url), not PyPI: a
    release that exists only on the loopback index is found."""
    with pypiserver(tmp_path / "index") as index:
        upload(index, build_wheel(tmp_path / "dist", "1.0"))
        monkeypatch.setenv("PIP_INDEX_URL", index.simple)
        rc = main(["coverage", "--release", f"{PROJECT}==1.0", "--matrix", "host"])
        out = capsys.readouterr().out
        assert rc == 0, out
        assert f"{PROJECT.replace('-', '_')}-1.0-" in out
