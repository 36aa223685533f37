"""Beyond one machine, for real: the plan's jobs run as separate `harness` processes (as
separate CI jobs would), their reports are merged, and the merge equals one unsharded run;
a lost shard fails the merged verdict naming its cells; a tampered shard is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import matrix
from harness.envs.base import Environment, EnvKind

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEFECTS = REPO / "tests" / "data" / "defects"
HARNESS = [sys.executable, "-m", "harness"]
WHEELS = ("good-limited-ok-abi3", "good-needs-glibc234-cp313-manylinux_2_35")


def _wheels(tmp_path: Path, *real: str) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    for case in WHEELS:
        shutil.copy2(next((DEFECTS / case).glob("*.whl")), d)
    for name in real:
        shutil.copy2(REPO / "tests" / "data" / "real" / name, d)
    os.chmod(d, 0o755)
    return d


def _harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=3600
    )


def _cells(report_dir: Path) -> dict[tuple[str, str], str]:
    doc = json.loads((report_dir / "report.json").read_text())
    return {
        (r["env"], r["wheel"]["filename"]): r["status"] for r in doc["runs"] if r["env"] != "static"
    }


def _write_matrix(path: Path, docker: list[tuple[str, str, str]]) -> None:
    lines = []
    for name, recipe, python in docker:
        lines += [f"[env.{name}]", 'kind = "docker-recipe"', f'recipe = "{recipe}"']
        lines += [f'python = "{python}"', ""]
    lines += ["[env.host]", 'kind = "host"', 'python = "3.11"', f'interpreter = "{sys.executable}"']
    path.write_text("\n".join(lines) + "\n")


def _sharded_equals_unsharded(tmp_path: Path, jobs: list[list[str]]) -> None:
    wheels = tmp_path / "wheels"
    m = str(tmp_path / "m.toml")
    # the import suite only: this test is about planning and merging, not profiler timing
    # (3 jobs compete for this machine's cores)
    (tmp_path / "pyproject.toml").write_text('[tool.harness]\nsuites = ["import"]\n')
    r = _harness(
        "plan", str(wheels), "--matrix", m, "--shards", "2", "--output", "plan.json", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    # the jobs, concurrently, each its own process and report directory
    procs = [
        subprocess.Popen(
            [*HARNESS, "verify", str(wheels), *job, "--report-dir", f"shard-{i}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, job in enumerate(jobs)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=3600)
        assert p.returncode == 0, err[-3000:]
    shards = [f"shard-{i}" for i in range(len(jobs))]
    merged = _harness("merge", *shards, "--report-dir", "merged", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    one = _harness("verify", str(wheels), "--matrix", m, "--report-dir", "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert _cells(tmp_path / "merged") == _cells(tmp_path / "one")
    assert set(_cells(tmp_path / "one").values()) == {"passed"}
    # ... and says how much ran, wheel by wheel, as the unsharded run does
    cov = [
        json.loads((tmp_path / d / "report.json").read_text())["coverage"]
        for d in ("merged", "one")
    ]
    assert [(c["ran"], c["of"]) for c in cov] == [(cov[1]["ran"], cov[1]["of"])] * 2
    rows = [sorted((w["filename"], sorted(w["ran_in"])) for w in c["wheels"]) for c in cov]
    assert rows[0] == rows[1]

    # a lost shard: the merged verdict fails and names the cells that job had
    plan = json.loads((tmp_path / "plan.json").read_text())
    lost = _harness("merge", *shards[1:], "--report-dir", "lost", cwd=tmp_path)
    assert lost.returncode == 1
    first = json.loads((tmp_path / shards[0] / "report.json").read_text())["plan"]["job"]
    for cell in (c for c in plan["cells"] if c["job"] == first):
        assert f"{cell['env']} x {cell['wheel']}" in lost.stderr

    # a tampered shard: a wheel's sha256 edited in its inspect block and runs
    doc = json.loads((tmp_path / shards[0] / "report.json").read_text())
    old = doc["inspect"]["wheels"][0]["sha256"]
    text = json.dumps(doc).replace(old, "f" * 64)
    tampered = json.loads(text)
    tampered["plan"] = doc["plan"]  # the plan block untouched: only the evidence edited
    (tmp_path / "tampered").mkdir()
    (tmp_path / "tampered" / "report.json").write_text(json.dumps(tampered))
    refused = _harness("merge", "tampered", *shards[1:], "--report-dir", "t", cwd=tmp_path)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t").exists()

    # promote's gate takes the merged report, not a shard's
    from harness.promote.gate import evaluate, load_report

    assert evaluate(load_report(tmp_path / "merged"), dist=wheels).ok
    assert not evaluate(load_report(tmp_path / shards[0]), dist=wheels).ok


def test_host_jobs_merge_like_one_run(tmp_path: Path) -> None:
    """Two host-mode jobs (no Docker): each runs on 'its runner' and the merge is one run."""
    _wheels(tmp_path)
    (tmp_path / "m.toml").write_text(
        '[env.host]\nkind = "host"\npython = "3.11"\n'
        f'[env.host2]\nkind = "host"\npython = "3.11"\ninterpreter = "{sys.executable}"\n'
    )
    _sharded_equals_unsharded(
        tmp_path,
        [["--plan", "plan.json", "--shard", "host"], ["--plan", "plan.json", "--shard", "host2"]],
    )


def test_linux_shards_and_a_host_job_merge_like_one_run(
    tmp_path: Path, docker_envs: dict[str, Environment], test_matrix: matrix.Matrix
) -> None:
    """The plan's 2 Linux container shards (computed independently by each process from
    K/N) + the host job, concurrently; merged = one unsharded run of the same matrix.
    The container envs are the test matrix's native ones (no qemu: keeps it to minutes)."""
    from harness.ci.tags import NATIVE_ARCHES, container_platforms

    wheels = _wheels(tmp_path, "yappi-1.7.6-cp313-cp313-musllinux_1_2_x86_64.whl")
    docker = [
        (s.name, s.recipe or "", s.python or container_platforms(s)[0])
        for s in test_matrix.envs
        if s.kind is EnvKind.DOCKER_RECIPE and container_platforms(s)[1] in NATIVE_ARCHES
    ]
    _write_matrix(tmp_path / "m.toml", docker)
    m = str(tmp_path / "m.toml")
    from harness.ci.plan import plan_for

    plan = plan_for([wheels], matrix.load(m), 2)
    assert len([c for c in plan.cells if c.job.startswith("linux-")]) >= 2, plan.cells
    _sharded_equals_unsharded(
        tmp_path,
        [
            ["--matrix", m, "--shard", "1/2"],
            ["--matrix", m, "--shard", "2/2"],
            ["--plan", "plan.json", "--shard", "host"],
        ],
    )


def test_predicted_tags_are_the_probed_tags_of_every_built_env(
    docker_envs: dict[str, Environment],
) -> None:
    """The plan's prediction (no Docker) equals pip's real tag list in each env, in order."""
    from harness.ci.tags import container_platforms, cpython_tag_list

    assert docker_envs
    for name, env in docker_envs.items():
        python, _, plats = container_platforms(env.spec)
        assert cpython_tag_list(python, plats, name) == env.probe().tags, name
