"""What an environment *is* tonight, so a sweep can say what changed in it since last night.

An identity is a flat JSON object: the probe's interpreter and libc (python, implementation,
libc, machine, pip), for docker envs the image (reference, id, recipe hash), its distribution
(os-release), the archive it was built from (mirror, suite, arch: from the image's apt
sources) and every installed package's version (dpkg). Read once per image id and cached
(``$HARNESS_CACHE_DIR/sweep/identity/``): an image never changes under its id.

``--refresh`` asks the archive an image came from whether it moved: the suite's (In)Release
file names the sha256 of ``main/binary-ARCH/Packages``; when that differs from the one last
compared, the Packages index is fetched (checked against that sha256) and every installed
package's version compared with it. A newer version upstream, or a package gone from the
suite, means the image is stale even though its recipe did not change: it is rebuilt.
Images that are not Debian-based (the musl one) have no such signal; they rebuild only when
their recipe changes, and their identity says so (``base`` empty).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import platform
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import console
from harness.envs import Environment, EnvKind, Probe
from harness.envs.paths import cache_dir
from harness.errors import InfraError, UsageError

Identity = dict[str, Any]
# Fields compared one by one (in this order) when an env's identity changed.
FIELDS = (
    "python",
    "implementation",
    "libc",
    "machine",
    "pip",
    "executable",
    "os",
    "base",
    "recipe_hash",
    "image_id",
)

_SCRIPT = r"""
cat /etc/os-release 2>/dev/null; echo '@@HARNESS@@'
cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null
echo '@@HARNESS@@'
dpkg --print-architecture 2>/dev/null; echo '@@HARNESS@@'
dpkg-query -W -f '${Package}\t${Version}\n' 2>/dev/null
true
"""


def _os_release(text: str) -> str:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values.get("PRETTY_NAME", "")


def parse_sources(text: str) -> tuple[str, str]:
    """(mirror, suite) of the first Debian ``deb`` source (one-line or deb822 format)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb":
            args = [p for p in parts[1:] if not p.startswith("[")]
            if len(args) >= 2 and args[0].startswith(("http://", "https://")):
                return args[0].rstrip("/"), args[1]
    uris = re.search(r"^URIs:\s*(\S+)", text, re.M)
    suites = re.search(r"^Suites:\s*(\S+)", text, re.M)
    if uris and suites and uris.group(1).startswith(("http://", "https://")):
        return uris.group(1).rstrip("/"), suites.group(1)
    return "", ""


def parse_image_facts(output: str) -> dict[str, Any]:
    """os, base (mirror/suite/arch) and packages from the identity script's output."""
    parts = [*output.split("@@HARNESS@@\n"), "", "", "", ""][:4]
    mirror, suite = parse_sources(parts[1])
    arch = parts[2].strip()
    packages: dict[str, str] = {}
    for line in parts[3].splitlines():
        name, sep, version = line.partition("\t")
        if sep and name:
            packages[name] = version.strip()
    base = f"{mirror} {suite} {arch}" if mirror and suite and arch else ""
    return {
        "os": _os_release(parts[0]),
        "base": base,
        "packages": dict(sorted(packages.items())),
    }


def _from_probe(env: Environment, probe: Probe) -> Identity:
    return {
        "kind": str(env.spec.kind),
        "python": probe.python_version,
        "implementation": probe.implementation,
        "libc": f"{probe.libc} {probe.libc_version}".strip(),
        "machine": probe.machine,
        "pip": probe.pip_version,
    }


def _host_os() -> str:
    try:
        return _os_release(Path("/etc/os-release").read_text("utf-8", "replace"))
    except OSError:
        return f"{platform.system()} {platform.release()}".strip()


def identify(env: Environment, probe: Probe) -> Identity:
    """The identity of a prepared env (docker: one `docker run` per new image id, cached)."""
    ident = _from_probe(env, probe)
    if env.spec.kind is EnvKind.HOST:
        # the interpreter itself, not the venv that first probed it (probes are cached)
        ident["executable"] = str(Path(probe.executable).resolve())
        ident["os"] = _host_os()
        return ident
    from harness.envs.daemon import docker, image_inspect, image_labels

    image = env.image or ""
    info = image_inspect(image)
    if info is None:
        raise InfraError(f"env {env.spec.name}: image {image} is not here")
    image_id = str(info.get("Id", ""))
    ident["image"] = image
    ident["image_id"] = image_id.replace("sha256:", "")[:16]
    recipe_hash = image_labels(info).get("org.wheel-harness.recipe-hash", "")
    if recipe_hash:
        ident["recipe_hash"] = recipe_hash[:16]
    cache = cache_dir() / "sweep" / "identity" / f"{image_id.replace(':', '_')}.json"
    facts: dict[str, Any] | None = None
    if cache.is_file():
        try:
            loaded = json.loads(cache.read_text("utf-8"))
            facts = loaded if isinstance(loaded, dict) else None
        except (OSError, ValueError):
            facts = None
    if facts is None:
        done = docker(
            ["run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh",
             image, "-c", _SCRIPT],
            check=False,
            timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            # no shell in the image: the probe's facts are the identity (not cached: retried)
            console.warn(f"env {env.spec.name}: cannot read os/packages of {image}")
            facts = {"os": "", "base": "", "packages": {}}
        else:
            facts = parse_image_facts(done.stdout)
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(facts), "utf-8")
            tmp.replace(cache)
    ident.update(facts)
    return ident


def digest(ident: Mapping[str, Any]) -> str:
    """Content address of an identity (history stores each distinct identity once)."""
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


def changes(before: Mapping[str, Any], after: Mapping[str, Any], limit: int = 12) -> list[str]:
    """What changed in an env, one short line per difference, packages last."""
    out: list[str] = []
    if after.get("refreshed"):
        out.append(f"rebuilt by --refresh: {after['refreshed']}")
    for key in FIELDS:
        old, new = before.get(key, ""), after.get(key, "")
        if old != new and key != "image_id":
            out.append(f"{key}: {old or '-'} -> {new or '-'}")
    old_pk: Mapping[str, str] = before.get("packages") or {}
    new_pk: Mapping[str, str] = after.get("packages") or {}
    pk: list[str] = []
    for name in sorted(set(old_pk) | set(new_pk)):
        if name not in new_pk:
            pk.append(f"package {name} {old_pk[name]} removed")
        elif name not in old_pk:
            pk.append(f"package {name} {new_pk[name]} added")
        elif old_pk[name] != new_pk[name]:
            pk.append(f"package {name}: {old_pk[name]} -> {new_pk[name]}")
    if len(pk) > limit:
        pk = [*pk[:limit], f"... and {len(pk) - limit} more package change(s)"]
    out += pk
    if not out and before.get("image_id") != after.get("image_id"):
        out.append(f"image rebuilt: {before.get('image_id') or '-'} -> {after.get('image_id')}")
    return out


# ---------------------------------------------------------------- upstream (--refresh)

Fetch = Callable[[str], bytes]


def _fetch(url: str) -> bytes:
    from harness.release import _get

    body, _ = _get(url, timeout=300)
    return body


def _release_text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        body = text.split("\n\n", 1)[-1]
        return body.split("-----BEGIN PGP SIGNATURE-----", 1)[0]
    return text


def release_index(text: str) -> tuple[str, dict[str, tuple[str, int]]]:
    """(Date, {path: (sha256, size)}) of a Release file."""
    date = ""
    files: dict[str, tuple[str, int]] = {}
    in_sha = False
    for line in text.splitlines():
        if line.startswith("Date:"):
            date = line.split(":", 1)[1].strip()
        if not line.startswith(" "):
            in_sha = line.startswith("SHA256:")
            continue
        if in_sha:
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                files[parts[2]] = (parts[0].lower(), int(parts[1]))
    return date, files


def parse_packages(text: str) -> dict[str, str]:
    """{Package: Version} of a Debian Packages index (highest listed version wins)."""
    out: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("Package:"):
            name = line[8:].strip()
        elif line.startswith("Version:") and name:
            out[name] = line[8:].strip()
    return out


@dataclass(frozen=True, kw_only=True)
class Upstream:
    date: str  # the suite's Release Date
    changes: tuple[str, ...]  # installed package -> upstream, for those that differ

    @property
    def moved(self) -> bool:
        return bool(self.changes)


def upstream(ident: Mapping[str, Any], *, fetch: Fetch = _fetch) -> Upstream | None:
    """Compare an image's packages with its suite on the archive now; None: no base known."""
    base = str(ident.get("base") or "")
    packages: Mapping[str, str] = ident.get("packages") or {}
    if not base or not packages:
        return None
    mirror, suite, arch = base.split(" ")
    mirror = os.environ.get("HARNESS_DEBIAN_MIRROR", "").rstrip("/") or mirror
    dists = f"{mirror}/dists/{urllib.parse.quote(suite)}/"
    try:
        raw = fetch(dists + "InRelease")
    except UsageError:  # 404: an archive without InRelease
        raw = fetch(dists + "Release")
    date, files = release_index(_release_text(raw))
    for suffix in (".xz", ".gz", ""):
        path = f"main/binary-{arch}/Packages{suffix}"
        if path in files:
            break
    else:
        raise InfraError(f"{dists}Release lists no main/binary-{arch}/Packages")
    sha, _size = files[path]
    cached = cache_dir() / "sweep" / "upstream" / f"{sha[:32]}.json.gz"
    listing: dict[str, str] | None = None
    if cached.is_file():
        try:
            listing = json.loads(gzip.decompress(cached.read_bytes()))
        except (OSError, ValueError, EOFError):
            listing = None
    if listing is None:
        data = fetch(dists + path)
        if hashlib.sha256(data).hexdigest() != sha:
            raise InfraError(f"{dists}{path}: sha256 differs from the one its Release file names")
        if suffix == ".xz":
            data = lzma.decompress(data)
        elif suffix == ".gz":
            data = gzip.decompress(data)
        listing = parse_packages(data.decode("utf-8", "replace"))
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(gzip.compress(json.dumps(listing).encode(), 6))
        tmp.replace(cached)
    diffs: list[str] = []
    for name, version in sorted(packages.items()):
        now = listing.get(name)
        if now is None:
            diffs.append(f"{name} {version} is gone from {suite}")
        elif now != version:
            diffs.append(f"{name}: {version} -> {now}")
    return Upstream(date=date, changes=tuple(diffs))
