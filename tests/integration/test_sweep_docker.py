"""`harness sweep --refresh` with a docker env whose base distribution moves under an
unchanged recipe: a loopback Debian archive (Release + Packages, as deb.debian.org serves
them) drops libstdc++6; the refresh sees it, rebuilds the image, and the next sweep reports
the cell that passed last night as a new failure, naming the removed package as the cause.

The test recipe derives its rootfs from the bookworm image (docker export; what mmdebstrap
would give from the moved archive is simulated by purging the package), so it costs
seconds, not a Debian bootstrap."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.__main__ import main
from harness.envs import images
from harness.envs.daemon import docker
from tests.integration.sweep_support import PROJECT, build_wheel, pypiserver, upload

pytestmark = pytest.mark.integration

RECIPE = "sweeptest-bookworm"
BUILD_SH = r"""#!/usr/bin/env bash
# the bookworm image, as the archive has it today (see $SWEEPTEST_ARCHIVE_STATE)
set -euo pipefail
state=$(cat "$SWEEPTEST_ARCHIVE_STATE")
c=$(docker create --user 0 --entrypoint sh "$SWEEPTEST_BASE_IMAGE" -c \
    'if [ "$1" = no-libstdcxx ]; then dpkg --purge --force-all libstdc++6 >/dev/null 2>&1; fi' \
    sh "$state")
trap 'docker rm -f "$c" >/dev/null 2>&1' EXIT
docker start -a "$c"
docker export "$c" -o "$1/rootfs.tar"
echo "rootfs from $SWEEPTEST_BASE_IMAGE ($state)"
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "archive"
    (root / "dists").mkdir(parents=True)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/debian", root
    finally:
        server.shutdown()
        server.server_close()


def publish(root: Path, packages: dict[str, str], date: str) -> None:
    """dists/bookworm/Release + main/binary-amd64/Packages, like the real archive."""
    dists = root / "debian" / "dists" / "bookworm"
    binary = dists / "main" / "binary-amd64"
    binary.mkdir(parents=True, exist_ok=True)
    body = "".join(f"Package: {n}\nVersion: {v}\n\n" for n, v in sorted(packages.items()))
    (binary / "Packages").write_text(body)
    sha = hashlib.sha256(body.encode()).hexdigest()
    (dists / "Release").write_text(
        f"Codename: bookworm\nDate: {date}\nSHA256:\n"
        f" {sha} {len(body)} main/binary-amd64/Packages\n"
    )


def _cleanup() -> None:
    done = docker(["image", "ls", "-q", "--filter", f"label=org.wheel-harness.recipe={RECIPE}"],
                  check=False)  # fmt: skip
    for image_id in sorted(set(done.stdout.split())):
        docker(["rmi", "-f", image_id], check=False)


def test_refresh_rebuilds_a_moved_image_and_the_diff_names_the_cause(
    tmp_path: Path, docker_daemon: None, archive: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    base = images.load_recipe("debian-bookworm-amd64")
    images.build(base)  # cached by recipe hash: seconds when warm
    listed = docker(["run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", base.tag,
                     "-W", "-f", "${Package}\t${Version}\n"]).stdout  # fmt: skip
    installed = dict(line.split("\t", 1) for line in listed.splitlines() if "\t" in line)
    assert "libstdc++6" in installed

    mirror, root = archive
    publish(root, installed, "Sat, 08 Nov 2026 09:00:00 UTC")
    containers = tmp_path / "containers"
    recipe = containers / RECIPE
    recipe.mkdir(parents=True)
    (recipe / "recipe.toml").write_text(
        'description = "bookworm as the (loopback) archive has it"\nplatform = "linux/amd64"\n'
        'python = "3.11"\ninterpreter = "python3"\nuser = "harness"\n'
    )
    (recipe / "build.sh").write_text(BUILD_SH)
    state = tmp_path / "archive-state"
    state.write_text("full")
    matrix = tmp_path / "sweeptest.toml"
    matrix.write_text(f'[env.box]\nkind = "docker-recipe"\nrecipe = "{RECIPE}"\npython = "3.11"\n')
    for key, value in {
        "HARNESS_CACHE_DIR": str(tmp_path / "cache"),
        "HARNESS_CONTAINERS_DIR": str(containers),
        "HARNESS_DEBIAN_MIRROR": mirror,
        "SWEEPTEST_ARCHIVE_STATE": str(state),
        "SWEEPTEST_BASE_IMAGE": base.tag,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    _cleanup()
    try:
        with pypiserver(tmp_path / "index") as index:
            upload(index, build_wheel(tmp_path / "dist", "1.0"))
            args = ["sweep", PROJECT, "--index-url", index.simple, "--matrix", str(matrix),
                    "--refresh", "--history", str(tmp_path / "h.sqlite")]  # fmt: skip
            rc = main([*args, "--report-dir", str(tmp_path / "night1")])
            out = capsys.readouterr()
            assert rc == 0, out.err[-3000:]
            night1 = json.loads((tmp_path / "night1" / "sweep.json").read_text())
            ident1 = night1["sweep"]["envs"]["box"]
            assert ident1["packages"]["libstdc++6"] == installed["libstdc++6"]
            assert ident1["os"].startswith("Debian GNU/Linux 12")

            # nothing moved: --refresh keeps the image
            rc = main([*args, "--report-dir", str(tmp_path / "quiet")])
            out = capsys.readouterr()
            assert rc == 0, out.err[-3000:]
            assert "box: up to date with" in out.err
            quiet = json.loads((tmp_path / "quiet" / "sweep.json").read_text())
            assert quiet["diff"]["changed_envs"] == {}

            # the archive drops libstdc++6; the recipe does not change
            publish(root, {k: v for k, v in installed.items() if k != "libstdc++6"},
                    "Sat, 15 Nov 2026 09:00:00 UTC")  # fmt: skip
            state.write_text("no-libstdcxx")
            rc = main([*args, "--report-dir", str(tmp_path / "night2")])
            out = capsys.readouterr()
        assert rc == 1, out.err[-3000:]
        assert "box: rebuilding" in out.err
        assert "libstdc++6" in out.err
        night2 = json.loads((tmp_path / "night2" / "sweep.json").read_text())
        ident2 = night2["sweep"]["envs"]["box"]
        assert ident2["recipe_hash"] == ident1["recipe_hash"]  # same recipe, new image
        assert ident2["image_id"] != ident1["image_id"]
        assert "libstdc++6" not in ident2["packages"]
        (new,) = night2["diff"]["new_failures"]
        assert (new["version"], new["env"], new["was"]) == ("1.0", "box", "passed")
        assert "libstdc++.so.6" in new["reason"]
        assert f"package libstdc++6 {installed['libstdc++6']} removed" in new["env_changes"]
        summary = (tmp_path / "night2" / "summary.md").read_text()
        assert "env **box** changed" in summary
        assert "libstdc\\+\\+6" in summary  # escaped Markdown
    finally:
        _cleanup()
        subprocess.run(["docker", "image", "prune", "-f", "--filter",
                        f"label=org.wheel-harness.recipe={RECIPE}"], check=False,
                       capture_output=True)  # fmt: skip
