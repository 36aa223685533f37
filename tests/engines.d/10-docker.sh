#!/usr/bin/env bash
# Docker + what the environment layer needs to build its images offline (DESIGN.md):
# dockerd (overlay2), qemu-user-static + binfmt (aarch64, ppc64le, s390x, riscv64 with flag
# F, so it works inside containers), mmdebstrap (Debian rootfs from the mirror), gcc + perl +
# tcl + busybox-static + gcc-aarch64-linux-gnu (the musl images: musl and the C libraries are
# built from Debian's source, containers/_lib/clibs.sh; aarch64 ones are cross-compiled). Idempotent:
# seconds when everything is already there and running.
# Needs root + apt (Debian), as on CI. Honors DOCKER_HOST: if set, only waits for it.
set -euo pipefail

log() { echo "engines/docker: $*" >&2; }

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have dockerd || need_pkgs+=(docker.io)
# mmdebstrap with the recommends it uses here (foreign-arch check, keyring handling)
have mmdebstrap || need_pkgs+=(mmdebstrap arch-test gpg libdpkg-perl libdistro-info-perl)
have qemu-aarch64-static || need_pkgs+=(qemu-user-static)
have update-binfmts || need_pkgs+=(binfmt-support)
# cpython.sh builds musl 1.2.5, OpenSSL (Configure is perl) and SQLite (tclsh) itself
have perl || need_pkgs+=(perl)
have tclsh || need_pkgs+=(tcl)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
have make || need_pkgs+=(make)
have gcc || need_pkgs+=(gcc)
# aarch64 musl CPython is cross-compiled (containers/_lib/cpython.sh)
have aarch64-linux-gnu-gcc || need_pkgs+=(gcc-aarch64-linux-gnu)
have xz || need_pkgs+=(xz-utils)
have gzip || need_pkgs+=(gzip)
have bzip2 || need_pkgs+=(bzip2)  # zlib's orig tarball (containers/_lib/cpython.sh)
dpkg -s debian-archive-keyring >/dev/null 2>&1 || need_pkgs+=(debian-archive-keyring)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# binfmt_misc: qemu-aarch64, -ppc64le, -s390x, -riscv64 with flag F (the interpreter is
# opened at registration, so it works inside containers and chroots whose rootfs has no
# qemu binary).
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || log "cannot mount binfmt_misc (arm64/ppc64le/s390x/riscv64 images will not build)"
fi
# magic/mask exactly as Debian's qemu-user-static binfmt files (/usr/share/binfmts/qemu-ARCH)
# have them (the kernel decodes the \x escapes); aarch64 for the arm64 images, the others for the sid images of
# matrices/arches.toml (ppc64le and riscv64 little-endian, s390x big-endian).
register_qemu() {  # name magic mask
    local name=$1 magic=$2 mask=$3 entry=/proc/sys/fs/binfmt_misc/qemu-$1
    if [ ! -e "$entry" ] || ! grep -q '^flags:.*F' "$entry"; then
        [ -e "$entry" ] && echo -1 > "$entry"
        printf '%s' ":qemu-$name:M::$magic:$mask:/usr/bin/qemu-$name-static:OCF" > /proc/sys/fs/binfmt_misc/register
        log "registered qemu-$name (flags OCF)"
    fi
}
if [ -e /proc/sys/fs/binfmt_misc/register ]; then
    register_qemu aarch64 \
        '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00' \
        '\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    register_qemu ppc64le \
        '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x15\x00' \
        '\xff\xff\xff\xff\xff\xff\xff\xfc\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\x00'
    register_qemu s390x \
        '\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16' \
        '\xff\xff\xff\xff\xff\xff\xff\xfc\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff'
    register_qemu riscv64 \
        '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00' \
        '\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
fi

docker_ok() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if docker_ok; then
    exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
    log "DOCKER_HOST=$DOCKER_HOST is set but not answering; not starting a local dockerd"
    exit 1
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/harness-dockerd.log)"
    # containerd is started by dockerd itself when not running as a service.
    nohup dockerd --storage-driver=overlay2 >/var/log/harness-dockerd.log 2>&1 &
fi
for _ in $(seq 120); do
    docker_ok && { log "dockerd is up"; exit 0; }
    sleep 0.5
done
log "dockerd did not come up in 60s; last lines of /var/log/harness-dockerd.log:"
tail -n 20 /var/log/harness-dockerd.log >&2 || true
exit 1
