"""containers/ recipes -> docker images, cached by a hash of the recipe.

A recipe is a directory ``containers/<name>/`` with ``recipe.toml`` and ``build.sh``
(containers/README.md). Its image is ``wheel-harness/<name>:<hash16>``, the hash covering
every file of the recipe, the ``containers/_lib`` files it ``uses``, and :data:`ASSEMBLY`;
so a changed recipe rebuilds and an unchanged one never does (a warm ``envs build`` is one
``docker image inspect`` per env).

A build: lock (one builder per recipe; a second waits, then finds the image and returns)
-> ``build.sh OUTDIR`` -> ``docker import`` under a temporary tag -> probe in a container
with no network -> ``docker commit`` of a created (never started) container to the final
tag, with the probe as a label. The final tag appears only in that last step, so an
interrupted build never leaves an image under it; the temporary tag, container and
build directory are removed in ``finally``, and `envs prune` removes any left by a
SIGKILL.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
import tomllib
import uuid
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness import proc
from harness.envs.base import EnvSpec, Probe, ProgressLog
from harness.envs.daemon import (
    LABEL,
    docker,
    ensure_daemon,
    image_inspect,
    image_labels,
    run_probe,
)
from harness.envs.paths import cache_dir, containers_dir
from harness.errors import InfraError, InputError, UsageError

# Bump when the way a rootfs becomes an image changes (the --change list, labels, probe).
ASSEMBLY = "wheel-harness-image/1"
REPOSITORY = "wheel-harness"
TMP_REPOSITORY = "wheel-harness-tmp"
LIB_DIR = "_lib"
RECIPE_KEYS = frozenset({"description", "platform", "python", "interpreter", "user", "uses"})
PLATFORMS = frozenset(
    {
        "linux/amd64",
        "linux/386",
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
        "linux/riscv64",
    }
)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

L_RECIPE = f"{LABEL}.recipe"
L_HASH = f"{LABEL}.recipe-hash"
L_PROBE = f"{LABEL}.probe"
L_BUILD_S = f"{LABEL}.build-seconds"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    name: str
    path: Path
    description: str
    platform: str
    python: str
    interpreter: str
    user: str
    digest: str
    uses: tuple[str, ...] = ()  # the containers/_lib scripts build.sh runs

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}/{self.name}:{self.digest[:16]}"

    @property
    def build_script(self) -> Path:
        return self.path / "build.sh"


def recipe_digest(recipe_dir: Path, uses: Sequence[str] = ()) -> str:
    """sha256 over the recipe's files, the containers/_lib files it uses, and ASSEMBLY."""
    h = hashlib.sha256(ASSEMBLY.encode())
    lib = recipe_dir.parent / LIB_DIR
    files = [(f"{recipe_dir.name}/{p.relative_to(recipe_dir).as_posix()}", p)
             for p in sorted(recipe_dir.rglob("*")) if p.is_file()]  # fmt: skip
    files += [(f"{LIB_DIR}/{name}", lib / name) for name in sorted(set(uses))]
    for rel, path in files:
        mode = "x" if os.access(path, os.X_OK) else "-"
        data = path.read_bytes()
        h.update(f"{rel}\0{mode}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def load_recipe(name: str, *, base: Path | None = None, origin: EnvSpec | None = None) -> Recipe:
    root = base if base is not None else containers_dir()
    path = root / name
    where = f"{origin.source}: env.{origin.name}.recipe" if origin and origin.source else name
    if not NAME_RE.match(name) or not (path / "recipe.toml").is_file():
        known = ", ".join(_recipe_names(root)) or "none"
        raise InputError(f"{where}: no recipe {name!r} in {root} (known: {known})")
    meta = path / "recipe.toml"
    try:
        data = tomllib.loads(meta.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{meta}: not readable TOML: {exc}") from exc
    for key in data:
        if key not in RECIPE_KEYS:
            raise InputError(f"{meta}: {key}: unknown key")
    uses = data.get("uses", [])
    if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses):
        raise InputError(f"{meta}: uses: must be a list of file names in containers/{LIB_DIR}")
    for i, used in enumerate(uses):
        if "/" in used or used.startswith(".") or not (root / LIB_DIR / used).is_file():
            raise InputError(f"{meta}: uses[{i}]: no file {used!r} in {root / LIB_DIR}")
    values: dict[str, str] = {}
    for key in sorted(RECIPE_KEYS - {"uses"}):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise InputError(f"{meta}: {key}: missing or not a non-empty string")
        values[key] = value
    if values["platform"] not in PLATFORMS:
        raise InputError(
            f"{meta}: platform: {values['platform']!r} is not one of {sorted(PLATFORMS)}"
        )
    if not re.match(r"^[a-z_][a-z0-9_-]*$", values["user"]) or values["user"] == "root":
        raise InputError(f"{meta}: user: must be a non-root user name")
    if not (path / "build.sh").is_file():
        raise InputError(f"{path}: build.sh missing")
    return Recipe(
        name=name,
        path=path,
        description=values["description"],
        platform=values["platform"],
        python=values["python"],
        interpreter=values["interpreter"],
        user=values["user"],
        digest=recipe_digest(path, uses),
        uses=tuple(uses),
    )


def _recipe_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return [
        p.name
        for p in sorted(root.iterdir())
        if p.is_dir() and p.name != LIB_DIR and (p / "recipe.toml").is_file()
    ]


def all_recipes(base: Path | None = None) -> list[Recipe]:
    root = base if base is not None else containers_dir()
    return [load_recipe(name, base=root) for name in _recipe_names(root)]


def encode_probe(probe: Probe) -> str:
    raw = json.dumps(probe.to_json(), separators=(",", ":")).encode()
    return "zb64:" + base64.b64encode(zlib.compress(raw, 9)).decode()


def decode_probe(text: str) -> Probe:
    if not text.startswith("zb64:"):
        raise ValueError("unknown probe encoding")
    data = json.loads(zlib.decompress(base64.b64decode(text[5:])))
    if not isinstance(data, dict):
        raise ValueError("probe is not an object")  # noqa: TRY004
    return Probe.from_json(data)


def probe_from_labels(labels: dict[str, str], image: str) -> Probe:
    text = labels.get(L_PROBE)
    if text is None:
        raise InfraError(f"image {image} has no probe label: run `harness envs prune` and rebuild")
    try:
        return decode_probe(text)
    except (ValueError, zlib.error) as exc:
        raise InfraError(f"image {image}: unreadable probe label ({exc})") from exc


@contextmanager
def _lock(recipe: Recipe, log: ProgressLog | None) -> Iterator[None]:
    path = _lock_path(recipe.name, recipe.digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if log:
                log(f"{recipe.name}: another build of this recipe is running; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _snapshot(recipe: Recipe, outdir: Path) -> Path:
    """Copy the recipe and the _lib files it uses into the build directory and run those:
    bash reads a script as it goes, so an edit of the tree during a build would otherwise
    run half old, half new (and the image would not be what its hash says)."""
    snap = outdir / "recipe"
    shutil.copytree(recipe.path, snap / recipe.name)
    (snap / LIB_DIR).mkdir()
    for name in recipe.uses:
        shutil.copy2(recipe.path.parent / LIB_DIR / name, snap / LIB_DIR / name)
    if recipe_digest(snap / recipe.name, recipe.uses) != recipe.digest:
        raise InfraError(f"recipe {recipe.name} changed while its build started: run it again")
    return snap


def _run_script(recipe: Recipe, outdir: Path, logfile: Path, log: ProgressLog | None) -> None:
    snap = _snapshot(recipe, outdir)
    env = dict(os.environ)
    env.update(
        HARNESS_LIB=str(snap / LIB_DIR),
        HARNESS_JOBS=env.get("HARNESS_JOBS") or str(os.cpu_count() or 2),
        HARNESS_APT_CACHE=env.get("HARNESS_APT_CACHE") or str(cache_dir() / "apt"),
        HARNESS_BUILD_CACHE=env.get("HARNESS_BUILD_CACHE") or str(cache_dir() / "cpython"),
        LC_ALL="C.UTF-8",
    )
    result: list[proc.Completed] = []

    def target() -> None:
        # The script's output goes to the log file as it runs (so it can be followed).
        result.append(
            proc.run(
                ["bash", "-c", 'exec bash "$0" "$1" >"$2" 2>&1',
                 str(snap / recipe.name / "build.sh"), str(outdir), str(logfile)],
                env=env,
                check=False,
            )
        )  # fmt: skip

    worker = threading.Thread(target=target, name=f"build-{recipe.name}", daemon=True)
    worker.start()
    last = ""
    try:
        while worker.is_alive():
            worker.join(2.0)
            line = _last_line(logfile)
            if line and line != last and log:
                log(f"{recipe.name}: {line}")
                last = line
    except KeyboardInterrupt:
        # Ctrl-C reaches the script's process group from the terminal, SIGTERM only this
        # process (harness.__main__.Terminated): the script, waited on by the worker
        # thread, must not outlive it. (The build's own clean-up commands still run.)
        proc.kill_all(stop=False)
        raise
    done = result[0] if result else None
    if done is None or done.returncode != 0:
        tail = _last_line(logfile) or "no output"
        code = done.returncode if done else "?"
        raise InfraError(
            f"recipe {recipe.name}: build.sh failed (exit {code}): {tail} (log: {logfile})"
        )


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            lines = handle.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:160] if lines else ""


def build(recipe: Recipe, *, log: ProgressLog | None = None, force: bool = False) -> bool:
    """Build ``recipe`` unless its image exists; True if it was built. Safe concurrently."""
    ensure_daemon()
    if not force and image_inspect(recipe.tag) is not None:
        return False
    with _lock(recipe, log):
        if not force and image_inspect(recipe.tag) is not None:
            return False  # another process built it while we waited
        start = time.monotonic()
        token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        workdir = cache_dir() / "build" / f"{recipe.name}-{recipe.digest[:12]}-{token}"
        logfile = cache_dir() / "logs" / f"{recipe.name}-{recipe.digest[:12]}.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        tmp_tag = f"{TMP_REPOSITORY}/{recipe.name}:{recipe.digest[:16]}-{token}"
        holder = f"wheel-harness-build-{recipe.name}-{token}"
        try:
            workdir.mkdir(parents=True)
            if log:
                log(f"{recipe.name}: building (log: {logfile})")
            _run_script(recipe, workdir, logfile, log)
            rootfs = workdir / "rootfs.tar"
            if not rootfs.is_file():
                raise InfraError(f"recipe {recipe.name}: build.sh wrote no rootfs.tar")
            if log:
                log(f"{recipe.name}: importing the rootfs")
            home = f"/home/{recipe.user}"
            changes = [
                f"USER {recipe.user}",
                f"WORKDIR {home}",
                "ENV LANG=C.UTF-8",
                f"ENV HOME={home}",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                f'CMD ["{recipe.interpreter}"]',
                f"LABEL {L_RECIPE}={recipe.name} {L_HASH}={recipe.digest}",
            ]
            args: list[str] = ["import", "--platform", recipe.platform]
            for change in changes:
                args += ["--change", change]
            docker([*args, str(rootfs), tmp_tag], timeout=1800)
            shutil.rmtree(workdir, ignore_errors=True)
            if log:
                log(f"{recipe.name}: probing the image")
            # No --platform on run: the image is local (binfmt runs foreign binaries), and
            # daemons before 23 ignore `import --platform`, so it would not match anyway.
            probe = run_probe(
                tmp_tag, interpreter=recipe.interpreter, platform=None, user=recipe.user
            )
            got = ".".join(probe.python_version.split(".")[:2])
            if got != recipe.python:
                raise InfraError(
                    f"recipe {recipe.name}: image has Python {probe.python_version}, "
                    f"recipe.toml says {recipe.python}"
                )
            elapsed = time.monotonic() - start
            docker(["create", "--name", holder, tmp_tag], timeout=300)
            docker(
                [
                    "commit",
                    "--change", f"LABEL {L_PROBE}={encode_probe(probe)}",
                    "--change", f"LABEL {L_BUILD_S}={elapsed:.0f}",
                    holder,
                    recipe.tag,
                ],
                timeout=600,
            )  # fmt: skip
            if log:
                log(f"{recipe.name}: built {recipe.tag} in {elapsed:.0f}s")
            return True
        finally:
            docker(["rm", "-f", holder], check=False, timeout=120)
            docker(["rmi", "--force", tmp_tag], check=False, timeout=120)
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True, kw_only=True)
class ImageRow:
    ref: str  # repository:tag, or image id for untagged leftovers
    recipe: str
    digest: str
    size: int
    current: bool
    age_s: float = 0.0  # since docker made the image (its import)


def harness_images() -> list[ImageRow]:
    """Every image the harness made (final and temporary), from its labels."""
    ensure_daemon()
    done = docker(
        ["image", "ls", "--filter", f"label={L_RECIPE}", "--format", "{{json .}}"],
        timeout=120,
    )
    current = {(r.name, r.digest) for r in all_recipes()}
    rows: list[ImageRow] = []
    for line in done.stdout.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        repo, tag, image_id = item.get("Repository"), item.get("Tag"), item.get("ID")
        ref = f"{repo}:{tag}" if repo and repo != "<none>" else str(image_id)
        info = image_inspect(ref)
        if info is None:
            continue
        labels = image_labels(info)
        recipe = labels.get(L_RECIPE, "")
        digest = labels.get(L_HASH, "")
        size = info.get("Size")
        is_final = isinstance(repo, str) and repo.startswith(f"{REPOSITORY}/")
        rows.append(
            ImageRow(
                ref=ref,
                recipe=recipe,
                digest=digest,
                size=size if isinstance(size, int) else 0,
                current=is_final and (recipe, digest) in current,
                age_s=_age(info.get("Created")),
            )
        )
    return rows


def _age(created: object) -> float:
    """Seconds since docker's RFC 3339 ``Created`` (nanoseconds cut to micro); 0 unknown."""
    if not isinstance(created, str):
        return 0.0
    text = re.sub(r"(\.\d{6})\d+", r"\1", created.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


def _lock_path(name: str, digest: str) -> Path:
    return cache_dir() / "locks" / f"{name}-{digest[:16]}.lock"


def _building(row: ImageRow) -> bool:
    """A temporary image whose build is running right now (its lock is held)."""
    if not row.ref.startswith(f"{TMP_REPOSITORY}/"):
        return False
    path = _lock_path(row.recipe, row.digest)
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def prune(
    *, dry_run: bool = False, older_than_s: float = 24 * 3600, recipes: Sequence[str] = ()
) -> list[ImageRow]:
    """Remove images of recipes (or recipe versions) no longer in the tree, made more than
    ``older_than_s`` ago, and leftovers of killed builds. The age rule is there because
    one Docker daemon serves every checkout of the machine: another branch's recipe
    version is "no longer in the tree" from here, and is in use there. ``recipes``: only
    the images of these recipes."""

    def stale(row: ImageRow) -> bool:
        if recipes and row.recipe not in recipes:
            return False
        if row.current or _building(row):
            return False
        leftover = row.ref.startswith(f"{TMP_REPOSITORY}/") or not row.ref.startswith(
            f"{REPOSITORY}/"
        )
        return leftover or row.age_s >= older_than_s

    stale_rows = [row for row in harness_images() if stale(row)]
    if not dry_run:
        # Holder containers a killed build left (never started; a running build's holder
        # lives for seconds, so only old ones go), and old build directories.
        docker(
            ["container", "prune", "--force", "--filter", "until=1h",
             "--filter", f"label={L_RECIPE}"],
            check=False,
            timeout=120,
        )  # fmt: skip
        for row in stale_rows:
            docker(["rmi", "--force", row.ref], check=False, timeout=300)
        build_root = cache_dir() / "build"
        if build_root.is_dir():
            for workdir in build_root.iterdir():
                if time.time() - workdir.stat().st_mtime > 6 * 3600:
                    shutil.rmtree(workdir, ignore_errors=True)
    return stale_rows


def build_cache_dir() -> Path:
    """Where cpython.sh/clibs.sh keep what several builds share (native CPythons, musl and
    the C libraries per libc+arch): $HARNESS_BUILD_CACHE, as the build scripts get it."""
    return Path(os.environ.get("HARNESS_BUILD_CACHE") or cache_dir() / "cpython")


def _tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


def prune_build_cache(
    *, dry_run: bool = False, older_than_s: float = 24 * 3600
) -> list[tuple[Path, int]]:
    """Entries of the build cache made more than ``older_than_s`` ago and not in use (a
    build holds ``ENTRY.lock`` while it makes or reads one): each (path, bytes). Keys are
    hashes of Debian's sources and the scripts, so old entries are never read again once
    a script changes; a removed entry that is still current is rebuilt when needed."""
    root = build_cache_dir()
    if not root.is_dir():
        return []
    gone: list[tuple[Path, int]] = []
    for entry in sorted(root.iterdir()):
        if entry.suffix == ".lock" or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            age = time.time() - entry.stat().st_mtime
        except OSError:
            continue
        if age < older_than_s:
            continue
        lock = entry.with_name(entry.name + ".lock")
        with contextlib.ExitStack() as held:
            if lock.exists():  # clibs.sh's entries (native CPythons are renamed into place)
                handle = held.enter_context(open(lock, "a"))
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a build is using it
            size = _tree_size(entry)
            if not dry_run:
                shutil.rmtree(entry, ignore_errors=True)
                lock.unlink(missing_ok=True)
            gone.append((entry, size))
    return gone


def find(name: str) -> Recipe:
    try:
        return load_recipe(name)
    except InputError as exc:
        raise UsageError(str(exc)) from exc


# ---------------------------------------------------------------- host tools (preflight)

# What each containers/_lib script runs on the host: command -> the Debian package with it.
LIB_TOOLS: dict[str, dict[str, str]] = {
    "debian.sh": {"mmdebstrap": "mmdebstrap"},
    "cpython.sh": {
        "gcc": "gcc",
        "make": "make",
        # clibs.sh builds musl itself (1.2.5; bookworm's musl-tools is 1.2.3), OpenSSL
        # (its Configure is perl) and SQLite's amalgamation (generated by tclsh)
        "perl": "perl",
        "tclsh": "tcl",
        "mmdebstrap": "mmdebstrap",
        # Debian's orig tarballs: python3.9/3.13, sqlite3, xz .tar.xz; python3.11, openssl,
        # musl, libffi, zlib, bzip2 .tar.gz
        "xz": "xz-utils",
        "gzip": "gzip",
        "bzip2": "bzip2",
        # busybox-static (aarch64), python-pip-whl (3.9), linux-libc-dev (musl) from .debs
        "dpkg-deb": "dpkg",
    },
}
# cpython.sh cross-compiles for these platforms (the native musl build comes first)
CROSS_TOOLS: dict[str, dict[str, str]] = {
    "linux/arm64": {"aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu"},
}
# platforms that run here only through qemu-user-static + binfmt_misc (x86_64 host)
QEMU_ARCH = {
    "linux/arm64": "aarch64",
    "linux/arm/v7": "arm",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
}
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


def host_needs(recipe: Recipe) -> tuple[dict[str, str], set[str]]:
    """(command -> package, qemu arches needing binfmt) to build ``recipe`` here."""
    tools: dict[str, str] = {}
    for lib in recipe.uses:
        tools.update(LIB_TOOLS.get(lib, {}))
        if lib == "cpython.sh":
            tools.update(CROSS_TOOLS.get(recipe.platform, {}))
            if recipe.platform == "linux/amd64":
                tools["busybox"] = "busybox-static"
    arch = QEMU_ARCH.get(recipe.platform)
    qemu: set[str] = set()
    if arch and os.uname().machine != arch:
        tools[f"qemu-{arch}-static"] = "qemu-user-static"
        qemu.add(arch)
    return tools, qemu


def _has(command: str) -> bool:
    if command == "busybox":  # the static one: the musl rootfs has no glibc to run others
        return Path("/bin/busybox").is_file() and shutil.which("busybox") is not None
    return shutil.which(command) is not None


def _binfmt_ok(arch: str) -> bool:
    entry = BINFMT_DIR / f"qemu-{arch}"
    try:
        text = entry.read_text()
    except OSError:
        return False
    flags = next((ln.split(":", 1)[1] for ln in text.splitlines() if ln.startswith("flags:")), "")
    return text.startswith("enabled") and "F" in flags


def preflight(recipes: Sequence[Recipe]) -> None:
    """Before building anything: every host tool the (missing) images need, or one
    InfraError (exit 3) naming all that is missing and the one command installing it."""
    missing: dict[str, str] = {}
    binfmt: set[str] = set()
    who: set[str] = set()
    for recipe in recipes:
        tools, qemu = host_needs(recipe)
        for command, package in tools.items():
            if not _has(command):
                missing[command] = package
                who.add(recipe.name)
        for arch in qemu:
            if not _binfmt_ok(arch):
                binfmt.add(arch)
                who.add(recipe.name)
    if not missing and not binfmt:
        return
    what = [f"{c} ({p})" for c, p in sorted(missing.items())]
    what += [f"binfmt_misc entry qemu-{a} with flag F" for a in sorted(binfmt)]
    fix: list[str] = []
    # update-binfmts registers from qemu-user-static's /usr/share/binfmts files, which ask
    # for flag F ("fix_binary yes")
    register = {"qemu-user-static"} | (set() if _has("update-binfmts") else {"binfmt-support"})
    packages = sorted(set(missing.values()) | (register if binfmt else set()))
    if packages:
        fix.append("apt-get install -y --no-install-recommends " + " ".join(packages))
    if binfmt:
        fix.append("update-binfmts --enable " + " ".join(f"qemu-{a}" for a in sorted(binfmt)))
    raise InfraError(
        f"cannot build {', '.join(sorted(who))}: missing on this host: {'; '.join(what)}. "
        f"Install (as root): {' && '.join(fix)}"
    )


def preflight_specs(specs: Sequence[EnvSpec]) -> None:
    """:func:`preflight` for the docker-recipe envs of ``specs`` whose image is not here."""
    from harness.envs.base import EnvKind

    recipes = [
        load_recipe(s.recipe, origin=s)
        for s in specs
        if s.kind is EnvKind.DOCKER_RECIPE and s.recipe is not None
    ]
    todo = [r for r in recipes if image_inspect(r.tag) is None] if recipes else []
    if todo:
        preflight(todo)
