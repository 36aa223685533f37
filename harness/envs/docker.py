"""The docker Environment kind: an image built here from a containers/ recipe
(``envs/images.py``) or pulled from a registry, used through ``envs/daemon.py`` and its
sessions through ``envs/containers.py``.

Direction of use, one way only: docker.py -> images.py, containers.py -> daemon.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from harness.envs import images
from harness.envs.base import EnvKind, EnvSpec, Limits, Mount, Probe, ProgressLog, check_python
from harness.envs.containers import DockerSession, SharedContainer, container_session
from harness.envs.daemon import (
    SESSION_UID,
    docker,
    ensure_daemon,
    error_line,
    image_inspect,
    image_labels,
    run_probe,
)
from harness.envs.paths import cache_dir
from harness.errors import InfraError


class DockerEnvironment:
    """docker-recipe (an image built here from containers/) or docker-image (pulled)."""

    def __init__(self, spec: EnvSpec) -> None:
        if spec.kind is EnvKind.HOST:
            raise ValueError("DockerEnvironment needs a docker kind")
        self._spec = spec
        self._probe: Probe | None = None
        self._info: dict[str, object] | None = None  # from is_ready, for probe
        self._recipe = None
        if spec.kind is EnvKind.DOCKER_RECIPE:
            assert spec.recipe is not None
            self._recipe = images.load_recipe(spec.recipe, origin=spec)

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    @property
    def image(self) -> str:
        if self._recipe is not None:
            return self._recipe.tag
        assert self._spec.image is not None
        return self._spec.image

    @property
    def platform(self) -> str | None:
        """docker run --platform: only for pulled images (recipe images are local, and
        old daemons ignore `import --platform`, so asking for it would try a pull)."""
        return None if self._recipe is not None else self._spec.platform

    @property
    def interpreter(self) -> str:
        if self._spec.interpreter:
            return self._spec.interpreter
        return self._recipe.interpreter if self._recipe is not None else "python3"

    def is_ready(self) -> bool:
        ensure_daemon()
        # kept for the probe that follows (one `docker image inspect` per env, not two)
        self._info = image_inspect(self.image)
        return self._info is not None

    def prepare(self, *, log: ProgressLog | None = None) -> bool:
        ensure_daemon()
        self._info = None
        if self._recipe is not None:
            return images.build(self._recipe, log=log)
        if image_inspect(self.image) is not None:
            return False
        if log:
            log(f"pulling {self.image}")
        args = ["pull", "--quiet"]
        if self._spec.platform:
            args += ["--platform", self._spec.platform]
        done = docker([*args, self.image], check=False, timeout=1800)
        if done.returncode != 0:
            raise InfraError(
                f"cannot pull {self.image} for env {self._spec.name}: {error_line(done)}"
            )
        return True

    def probe(self) -> Probe:
        if self._probe is None:
            self._probe = self._load_probe()
            check_python(self._spec, self._probe)
        return self._probe

    def _load_probe(self) -> Probe:
        ensure_daemon()
        info, self._info = self._info or image_inspect(self.image), None
        if info is None:
            raise InfraError(
                f"env {self._spec.name}: image {self.image} is not here; "
                f"run `harness envs build {self._spec.name}`"
            )
        if self._recipe is not None:
            return images.probe_from_labels(image_labels(info), self.image)
        # Registry image: probe once, cache by image id (+ interpreter).
        image_id = str(info.get("Id", "")).replace("sha256:", "")
        key = f"{image_id}-{self.interpreter}".replace("/", "_")
        cache = cache_dir() / "probes" / f"{key}.json"
        if cache.is_file():
            try:
                return Probe.from_json(json.loads(cache.read_text("utf-8")))
            except ValueError:
                pass
        probe = run_probe(
            self.image, interpreter=self.interpreter, platform=self._spec.platform, user=None
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(probe.to_json()), "utf-8")
        tmp.replace(cache)
        return probe

    def _session_user(self) -> tuple[str, str]:
        """The user sessions run as and its home."""
        if self._recipe is not None:
            return self._recipe.user, f"/home/{self._recipe.user}"
        return SESSION_UID, "/tmp/harness-home"

    def _check_image(self) -> None:
        ensure_daemon()
        if image_inspect(self.image) is None:
            raise InfraError(
                f"env {self._spec.name}: image {self.image} is not here "
                f"(run `harness envs build {self._spec.name}`)"
            )

    def session(
        self, mounts: Sequence[Mount] = (), *, limits: Limits | None = None
    ) -> AbstractContextManager[DockerSession]:
        self._check_image()
        user, home = self._session_user()
        return container_session(
            image=self.image,
            env_name=self._spec.name,
            python=self.interpreter,
            user=user,
            home=home,
            mounts=mounts,
            limits=limits or Limits(),
            platform=self.platform,
        )

    def shared(
        self, mounts: Sequence[Mount] = (), *, limits: Limits, cells_dir: Path | None = None
    ) -> SharedContainer:
        self._check_image()
        user, home = self._session_user()
        return SharedContainer.start(
            image=self.image,
            env_name=self._spec.name,
            python=self.interpreter,
            user=user,
            home=home,
            mounts=mounts,
            limits=limits,
            platform=self.platform,
            cells_dir=cells_dir,
        )
