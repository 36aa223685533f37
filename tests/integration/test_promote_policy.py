"""Per-target promote policy, end to end: named selectors from pyproject.toml and the command
line, shown by --dry-run per target with the reason, then honoured by a real pypiserver and a
moto S3 server (what each one holds afterwards)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from promote_servers import harness_env, motoserver, promote_support, pypiserver, run_promote

pytestmark = pytest.mark.integration

TAGS = {
    "cp313": "cp313-cp313-manylinux_2_17_x86_64",
    "cp314t": "cp314-cp314t-manylinux_2_17_x86_64",  # free-threaded
    "cp399": "cp399-cp399-manylinux_2_17_x86_64",  # a CPython with no final release
    "pure": "py3-none-any",
    "abi3": "cp39-abi3-win_amd64",
}


def _release(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    dist = tmp_path / "dist"
    wheels = {
        key: promote_support.make_wheel(dist, name="demo_policy", version="3.1.0", tag=tag)
        for key, tag in TAGS.items()
    }
    report = tmp_path / "report"
    promote_support.write_report(report, list(wheels.values()))
    return report, wheels


def test_policy_per_target_dry_run_then_real(tmp_path: Path) -> None:
    report, wheels = _release(tmp_path)
    with (
        pypiserver(tmp_path / "srv", "pw-policy-0123") as index,
        motoserver(tmp_path / "moto") as s3,
    ):
        mirror = f"s3://{s3.bucket}/mirror"
        # the project's own pyproject.toml (run_promote works in report/..): PyPI-like index
        # gets neither free-threaded nor pre-release-Python wheels
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "demo-policy"\n\n[tool.harness.promote]\n'
            f'exclude = {{ "{index.url}" = ["free-threaded", "prerelease-python"] }}\n'
        )
        args = ["--to", index.url, mirror, "--endpoint-url", s3.endpoint,
                "--include", f"{mirror}=python:>=3.13", "--include", f"{mirror}=pure"]  # fmt: skip
        env = harness_env(TWINE_USERNAME=index.username, TWINE_PASSWORD=index.password, **s3.env)

        plan = run_promote(report, *args, "--dry-run", env=env)
        assert plan.returncode == 0, plan.stderr
        lines = plan.stdout.splitlines()
        assert f"{index.url}: 3 of 5 file(s) (exclude free-threaded, prerelease-python)" in lines
        assert f"{mirror}: 4 of 5 file(s) (include python:>=3.13, pure)" in lines
        text = plan.stdout
        assert "excluded by free-threaded from pyproject.toml: ABI cp314t" in text
        assert "prerelease-python from pyproject.toml: CPython 3.99 has no final release" in text
        assert "matches no include (python:>=3.13 from --include, pure from --include)" in text
        assert "included by python:>=3.13 from --include: CPython 3.14" in text
        assert "dry run: nothing uploaded, nothing written" in text

        as_json = run_promote(report, *args, "--dry-run", "--format", "json", env=env)
        files = json.loads(as_json.stdout)["files"]
        actions = {(f["target"], f["filename"]): f["action"] for f in files}
        assert actions[(index.url, wheels["cp314t"].name)] == "excluded"
        assert actions[(mirror, wheels["cp314t"].name)] == "upload"
        assert actions[(mirror, wheels["abi3"].name)] == "excluded"
        reasons = {(f["target"], f["filename"]): f["reason"] for f in files}
        assert reasons[(mirror, wheels["abi3"].name)].startswith("matches no include")

        done = run_promote(report, *args, env=env)
        assert done.returncode == 0, done.stderr
        on_index = sorted(p.name for p in index.packages.iterdir())
        assert on_index == sorted(wheels[k].name for k in ("cp313", "pure", "abi3"))
        client: Any = s3.client()
        listed = client.list_objects_v2(Bucket=s3.bucket, Prefix="mirror/packages/")
        in_mirror = sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"])
        assert in_mirror == sorted(wheels[k].name for k in ("cp313", "cp314t", "cp399", "pure"))


def test_pyproject_of_another_project_is_not_applied(tmp_path: Path) -> None:
    report, wheels = _release(tmp_path)
    with pypiserver(tmp_path / "srv", "pw-policy-0123") as index:
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "someone-else"\n\n[tool.harness.promote]\n'
            f'exclude = {{ "{index.url}" = ["free-threaded"] }}\n'
        )
        env = harness_env(TWINE_USERNAME=index.username, TWINE_PASSWORD=index.password)
        plan = run_promote(report, "--to", index.url, "--dry-run", env=env)
        assert plan.returncode == 0, plan.stderr
        note = "pyproject.toml: [tool.harness.promote] not used (project 'someone-else'"
        assert note in plan.stderr
        assert f"{index.url}: 5 of 5 file(s)" in plan.stdout.splitlines()
        # --config applies a file whatever project it names
        applied = run_promote(
            report, "--to", index.url, "--dry-run", "--config", "pyproject.toml", env=env
        )
        assert f"{index.url}: 4 of 5 file(s) (exclude free-threaded)" in applied.stdout
        assert wheels["cp314t"].name in applied.stdout
