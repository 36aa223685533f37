"""The pick without pip is pip's pick: in every built env of the test matrix, the env's own
pip (the compiled copy of its bundled wheel the cells ran before, harness.verify.pipcache)
downloads from a wheelhouse of every real wheel in tests/data/real, one project at a
time, and the file it takes must be the one ``harness.coverage.pick`` names from the
env's probed tag list (what a host-installed cell's "pick" step proves). A project pip
finds nothing of must be one the replica finds nothing of too.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from harness import coverage
from harness.envs import Environment, Mount
from harness.verify import pipcache
from harness.verify.cell import SMOKE, SMOKE_DIR

pytestmark = pytest.mark.integration

REAL = Path(__file__).resolve().parents[1] / "data" / "real"

# pip download --no-deps of NAME==VERSION; prints "PICKED NAME FILE" or "NONE NAME"
SCRIPT = r"""
pip="$1"; shift
for req in "$@"; do
  dest=$(mktemp -d)
  if "$PY" "$pip" --isolated download --no-deps --no-index --disable-pip-version-check \
       --find-links /wh -d "$dest" "$req" >/dev/null 2>&1; then
    echo "PICKED $req $(ls "$dest")"
  else
    echo "NONE $req"
  fi
  rm -rf "$dest"
done
"""


def test_pick_matches_the_envs_own_pip(docker_envs: dict[str, Environment], tmp_path: Path) -> None:
    house = tmp_path / "wh"
    house.mkdir()
    for wheel in REAL.glob("*.whl"):
        shutil.copy(wheel, house / wheel.name)
    os.chmod(tmp_path, 0o755)
    os.chmod(house, 0o755)
    wheels = coverage.collect([house])
    releases = sorted({(w.project, str(w.version)) for w in wheels})
    compared = 0
    for name, env in docker_envs.items():
        probe = env.probe()
        root, _ = pipcache.ensure(env, probe, smoke_dir=SMOKE_DIR, smoke_target=SMOKE, timeout=3600)
        assert root is not None, f"{name}: no compiled pip"
        pip_dir = next(p for p in root.iterdir() if (p / "pip" / "__main__.py").is_file())
        mounts = [
            Mount(source=house, target="/wh"),
            Mount(source=root, target=pipcache.TARGET),
        ]
        with env.session(mounts) as session:
            argv = ["sh", "-c", SCRIPT, "sh", f"{pipcache.TARGET}/{pip_dir.name}/pip"]
            argv += [f"{project}=={version}" for project, version in releases]
            done = session.exec(argv, timeout=1800, env={"PY": session.python})
        assert done.returncode == 0, done.stderr
        pip_says = {}
        for line in done.stdout.splitlines():
            what, req, *picked = line.split()
            pip_says[req] = picked[0] if what == "PICKED" and picked else None
        for project, version in releases:
            group = [w for w in wheels if w.project == project and str(w.version) == version]
            numeric = re.match(r"\d+(\.\d+)*", probe.python_version)  # "3.14.0rc1": 3.14.0
            assert numeric is not None
            ours = coverage.pick(group, probe.tags, numeric.group(0))
            req = f"{project}=={version}"
            assert (ours.filename if ours else None) == pip_says[req], f"{name}: {req}"
            compared += ours is not None
    assert compared >= len(docker_envs)  # every env picked at least one real wheel
