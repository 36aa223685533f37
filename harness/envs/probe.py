# This file's *source* is what runs inside an environment: ``python -c <this file>``.
# Keep it stdlib + pip only, Python 3.6+ syntax (bullseye has 3.9, manylinux2014 3.6),
# and print exactly one JSON object on stdout.
"""Probe of an environment's Python: version, libc, arch and pip's supported tags."""

import glob
import json
import os
import platform
import re
import subprocess
import sys


def _tags():  # type: () -> tuple[list[str], str]
    """pip's own tag list, in pip's order of preference (what pip install ranks by)."""
    try:
        import pip

        pip_version = str(pip.__version__)
    except ImportError:
        pip_version = ""
    try:
        from pip._internal.utils.compatibility_tags import get_supported

        return [str(t) for t in get_supported()], pip_version
    except ImportError:
        pass
    try:
        from pip._vendor.packaging import tags
    except ImportError:
        from packaging import tags  # type: ignore[no-redef]
    return [str(t) for t in tags.sys_tags()], pip_version


def _libc():  # type: () -> tuple[str, str]
    try:
        conf = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        conf = ""
    if conf.startswith("glibc "):
        return "glibc", conf.split()[1]
    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        try:
            done = subprocess.run(  # noqa: UP022 (Python 3.6 has no capture_output)
                [loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False
            )
        except OSError:
            continue
        match = re.search(r"Version ([0-9.]+)", done.stderr.decode("ascii", "replace"))
        if match:
            return "musl", match.group(1)
    return "", ""


def _arch(tags):  # type: (list[str]) -> str
    """The arch pip believes in (a 32-bit Python on a 64-bit kernel says i686, not x86_64)."""
    for tag in tags:
        plat = tag.rsplit("-", 1)[-1]
        match = re.match(r"^(?:many|musl)linux_\d+_\d+_(.+)$|^linux_(.+)$", plat)
        if match:
            return match.group(1) or match.group(2)
    return platform.machine()


def main():  # type: () -> None
    tags, pip_version = _tags()
    libc, libc_version = _libc()
    json.dump(
        {
            "python_version": platform.python_version(),
            "implementation": sys.implementation.name,
            "executable": sys.executable,
            "libc": libc,
            "libc_version": libc_version,
            "machine": _arch(tags),
            "pip_version": pip_version,
            "tags": tags,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
