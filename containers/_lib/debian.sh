#!/usr/bin/env bash
# usage: debian.sh SUITE ARCH OUTDIR  -> OUTDIR/rootfs.tar
# A Debian rootfs with CPython (+ pip, venv) and a non-root user "harness" (uid 1000),
# made offline from the Debian mirror by mmdebstrap (no registry).
set -euo pipefail
suite=$1 arch=$2 out=$3
mirror=${HARNESS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
command -v mmdebstrap >/dev/null || { echo "mmdebstrap not installed (apt-get install mmdebstrap)" >&2; exit 1; }

hooks=()
cache=${HARNESS_APT_CACHE:-}
if [ -n "$cache" ]; then
    # Reuse .debs between builds of the same suite/arch (a changed recipe rebuilds fast).
    mkdir -p "$cache/$suite-$arch"
    hooks+=(--setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"; cp -a \"$cache/$suite-$arch/.\" \"\$1/var/cache/apt/archives/\" 2>/dev/null || true")
    hooks+=(--skip=download/empty)
    hooks+=(--customize-hook="find \"\$1/var/cache/apt/archives\" -maxdepth 1 -name '*.deb' -exec cp -n -t \"$cache/$suite-$arch/\" {} + || true")
    hooks+=(--customize-hook="rm -f \"\$1\"/var/cache/apt/archives/*.deb")
fi

echo "mmdebstrap $suite $arch from $mirror"
# sid and testing Release files carry Valid-Until; a mirror snapshot outlives it.
mmdebstrap --variant=apt --arch="$arch" --aptopt='Acquire::Check-Valid-Until "false"' \
    --include=passwd,python3,python3-venv,python3-pip \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "${hooks[@]}" \
    --customize-hook='chroot "$1" useradd --create-home --uid 1000 --user-group --shell /bin/bash harness' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
    "$suite" "$out/rootfs.tar" "$mirror"
echo "rootfs done: $(du -h "$out/rootfs.tar" | cut -f1)"
