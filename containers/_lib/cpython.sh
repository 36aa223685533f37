#!/usr/bin/env bash
# usage: cpython.sh OUTDIR VERSION SUITE LIBC ARCH [--disable-gil]   -> OUTDIR/rootfs.tar
#   VERSION  3.X: Debian's python3.X source package, from SUITE (bullseye, trixie, sid, ...)
#   LIBC     musl: busybox rootfs with musl's loader; glibc: a Debian SUITE rootfs (mmdebstrap)
#   ARCH     x86_64 (built with the host's gcc, or musl-gcc of musl 1.2.5 built here from
#            trixie's source) or aarch64 (musl only: cross-compiled with
#            gcc-aarch64-linux-gnu against that musl; code under qemu measured ~10x slower,
#            containers/README.md)
#   --disable-gil  the free-threaded build (pip's tags become cp3Xt)
# CPython goes to /usr/local with pip unpacked from its bundled wheel. Its ssl/hashlib,
# sqlite3, ctypes, lzma, bz2 and zlib modules link static libraries built from trixie's
# sources for the target (clibs.sh, cached per libc+arch). Left out, as nothing a smoke run
# needs: tkinter, curses, readline, dbm/gdbm, nis, _uuid (uuid falls back to pure Python),
# _decimal (decimal falls back to _pydecimal), _zstd (3.14).
# A cross build needs a same-version CPython that runs here: the native musl build of the
# same source, kept in $HARNESS_BUILD_CACHE (built first when it is not there yet).
set -euo pipefail
out=$1 version=$2 suite=$3 libc=$4 arch=$5 gil=${6:-}
jobs=${HARNESS_JOBS:-$(nproc)}
mirror=${HARNESS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
bcache=${HARNESS_BUILD_CACHE:-}
host_arch=$(uname -m)
case "$libc/$arch" in
    musl/"$host_arch"|glibc/"$host_arch") cross="" ;;
    musl/aarch64) cross=aarch64-linux-gnu ;;
    *) echo "cpython.sh: $libc/$arch is not supported (musl any arch, glibc $host_arch)" >&2; exit 1 ;;
esac
need=(make gcc perl tclsh flock); [ -n "$cross" ] && need+=("$cross-gcc")
for tool in "${need[@]}"; do
    command -v "$tool" >/dev/null || { echo "$tool not installed (harness envs build checks tools first)" >&2; exit 1; }
done

work="$out/work"
rm -rf "$work" && mkdir -p "$work/src" "$work/bin"
# without a build cache, what would be cached lives in the work dir for this build only
[ -n "$bcache" ] || bcache="$work/cache"
log() { echo "$*"; }
quiet() { "$@" >"$work/step.log" 2>&1 || { tail -30 "$work/step.log" >&2; exit 1; }; }

# -- sources (and, for a foreign arch, busybox-static of that arch) from the mirror
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources" "$apt_dir/preferences.d"
deb_arch=$([ "$arch" = aarch64 ] && echo arm64 || echo amd64)
# deb: linux-libc-dev (kernel headers for musl-gcc), busybox-static and python3-pip-whl
cat > "$apt_dir/sources/src.sources" <<SRC
Types: deb deb-src
URIs: $mirror
Suites: $suite bookworm trixie
Components: main
Architectures: $deb_arch
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-q -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Dir::State::Status=/dev/null" -o "APT::Architecture=$deb_arch"
          -o "APT::Architectures=$deb_arch"
          -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
          -o "APT::Sandbox::User=root" -o "Acquire::Check-Valid-Until=false")
log "fetching sources (python$version/$suite) from $mirror"
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "python$version/$suite" >/dev/null)
py_tar=$(ls "$work"/src/python"$version"_*.orig.tar.* | grep -v '\.asc$' | head -1)
tar -xf "$py_tar" -C "$work/src"
py_src=$(ls -d "$work"/src/Python-"$version"*/ | head -1)

# -- musl (for a musl target) and the static C libraries, built or from the cache
. "$(dirname "${BASH_SOURCE[0]}")/clibs.sh"
target_libs "$libc" "$arch" "$cross"
if [ "$libc" = musl ]; then
    real_cc="$TL_MUSL/bin/musl-gcc"
    loader="$TL_MUSL/lib/libc.so"
else
    real_cc=gcc
fi
# configure (--print-multiarch) and the setup.py of 3.9-3.11 (-print-multiarch) ask the
# compiler for its multiarch triplet, and gcc answers x86_64-linux-gnu even as musl-gcc.
# configure refuses that for a musl target: answer it nothing. setup.py, given nothing,
# asks dpkg-architecture instead, which also says x86_64-linux-gnu: it then compiles every
# extension with -I/usr/include/x86_64-linux-gnu (glibc's bits/errno.h wants
# <linux/errno.h>, which musl-gcc's include path lacks), so all of them failed and were
# dropped (no _posixsubprocess, no pip). setup.py adds /usr/include/ANSWER and
# /usr/lib/ANSWER where they exist and, given an answer, skips dpkg-architecture: answer a
# name that exists nowhere (/usr/include/$arch-linux-musl is the host's musl-tools, an
# older musl than the one built here). (glibc builds: nothing, as before;
# dpkg-architecture's answer is right for them.)
triplet=""; [ "$libc" = musl ] && triplet="$arch-linux-musl-harness-none"
# gcc-aarch64-linux-gnu defaults to -moutline-atomics: atomics become calls to libgcc's
# __aarch64_* helpers, whose CPU check (lse-init.o) needs glibc's __getauxval, and CPython
# 3.13's configure then adds gcc's -latomic, which is glibc's libatomic.so: the link of
# python and Programs/_testembed failed there. Inline atomics (ARMv8.0 LL/SC, what every
# aarch64 CPU runs) need neither.
flags=""; [ -n "$cross" ] && [ "$arch" = aarch64 ] && flags=-mno-outline-atomics
cat > "$work/bin/cc" <<CC
#!/bin/sh
for arg in "\$@"; do
    case "\$arg" in
        --print-multiarch) exit 0 ;;
        -print-multiarch) [ -n "$triplet" ] && echo $triplet; exit 0 ;;
    esac
done
exec $real_cc $flags "\$@"
CC
chmod +x "$work/bin/cc"
cc="$work/bin/cc"

# -- a same-version CPython that runs here (cross builds only)
conf_extra=()
if [ -n "$cross" ]; then
    key=$(cat "$py_tar" "$0" "$(dirname "${BASH_SOURCE[0]}")/clibs.sh" | sha256sum | cut -c1-16)
    build_py="${bcache:-$work/cache}/cpython-$version-$key-musl-$host_arch"
    if [ ! -x "$build_py/bin/python$version" ]; then
        log "no native CPython $version to cross-compile with: building it first"
        HARNESS_BUILD_CACHE="$bcache" bash "$0" "$work/native" "$version" "$suite" musl "$host_arch" >/dev/null
        [ -x "$build_py/bin/python$version" ] \
            || { echo "the native build left no CPython in $build_py" >&2; exit 1; }
        rm -rf "$work/native"
    fi
    # (its program interpreter is the x86_64 musl of the build cache: it runs here)
    export PATH="$build_py/bin:$PATH"
    # READELF: 3.9-3.11's configure wants the target's readelf for a cross build and looks
    # only for $arch-linux-musl-readelf (binutils here is $cross-*).
    conf_extra+=(--host="$arch-linux-musl" --build="$host_arch-linux-gnu" --disable-ipv6
                 READELF="$cross-readelf" AR="$cross-ar"
                 ac_cv_file__dev_ptmx=yes ac_cv_file__dev_ptc=no ac_cv_buggy_getaddrinfo=no)
    case "$version" in 3.9|3.10) ;; *) conf_extra+=(--with-build-python="$build_py/bin/python$version") ;; esac
fi
[ "$gil" = --disable-gil ] && conf_extra+=(--disable-gil)

log "configuring CPython ($(basename "$py_src")) for $libc $arch ${gil}"
# The platform triplet names extension modules (EXT_SUFFIX .cpython-3X-x86_64-linux-musl.so),
# and a musllinux wheel's .so files are named by the CPython that built it on a musl
# machine. 3.13 tells the libc apart from the headers (Misc/platform_triplet.c). 3.10-3.12
# switch gnu to musl when the *build* machine is musl ($build_os): config.guess says so
# for a native build with musl-gcc, but a cross build says --build=x86_64-linux-gnu, and
# the aarch64 3.11 named its extensions -aarch64-linux-gnu.so (no cp311 musllinux
# extension, _yappi.cpython-311-aarch64-linux-musl.so, could be imported). Make that rule
# follow the target. 3.9 has no such rule: a CPython 3.9 on musl names its extensions
# -linux-gnu, and so do cp39 musllinux wheels (yappi 1.7.6's
# _yappi.cpython-39-x86_64-linux-gnu.so): keep it.
if [ "$libc" = musl ] && grep -q '^  linux-musl\*)$' "$py_src/configure"; then
    sed -i 's/^  case "\$build_os" in$/  case "linux-musl" in/' "$py_src/configure"
    grep -q '^  case "linux-musl" in$' "$py_src/configure" \
        || { echo "configure: no \$build_os rule for the platform triplet to make musl's" >&2; exit 1; }
fi
na=""
for m in _uuid _dbm _gdbm _curses _curses_panel readline _decimal _tkinter nis _ctypes_test \
         xxlimited xxlimited_35 _zstd; do
    na+=" py_cv_module_${m}=n/a"
done
# The libraries come from $TL only: pkg-config sees none of the host's (they are glibc's),
# and the *_CFLAGS/*_LIBS (3.11+) and CPPFLAGS/LDFLAGS (3.9's setup.py) point at $TL.
libvars=(PKG_CONFIG_LIBDIR="$work/no-pkgconfig"
         LIBFFI_CFLAGS="-I$TL/include" LIBFFI_LIBS="-L$TL/lib -lffi"
         LIBSQLITE3_CFLAGS="-I$TL/include" LIBSQLITE3_LIBS="-L$TL/lib -lsqlite3 -lm"
         LIBLZMA_CFLAGS="-I$TL/include" LIBLZMA_LIBS="-L$TL/lib -llzma"
         BZIP2_CFLAGS="-I$TL/include" BZIP2_LIBS="-L$TL/lib -lbz2"
         ZLIB_CFLAGS="-I$TL/include" ZLIB_LIBS="-L$TL/lib -lz")
ssl_opts=(--with-openssl="$TL")
case "$version" in 3.9) ;; *) ssl_opts+=(--with-openssl-rpath=no) ;; esac
# -O1 without -g (CPython's default is -O3 -g): the image is for smoke runs; faster builds.
(cd "$py_src" && env $na "${libvars[@]}" ./configure CC="$cc" OPT="-DNDEBUG -fwrapv -O1" \
    CPPFLAGS="-I$TL/include" LDFLAGS="-L$TL/lib" \
    --prefix=/usr/local --with-ensurepip=no --without-static-libpython --disable-test-modules \
    "${ssl_opts[@]}" "${conf_extra[@]}" >"$work/configure.log" 2>&1) \
    || { tail -30 "$work/configure.log"; exit 1; }
log "compiling CPython (-j$jobs)"
(cd "$py_src" && make -j"$jobs" >"$work/make.log" 2>&1) || { tail -30 "$work/make.log"; exit 1; }
log "installing CPython"
root="$work/root"
(cd "$py_src" && make install DESTDIR="$root" >"$work/install.log" 2>&1) || { tail -30 "$work/install.log"; exit 1; }
lib=$(ls -d "$root"/usr/local/lib/python"$version"*/ | head -1)
rm -rf "$lib/test" "$lib/idlelib/idle_test" "$lib"/config-*/*.a
find "$lib" -name '*.opt-[12].pyc' -delete
# (kept with the build's program interpreter, $TL_MUSL's loader, so that it runs here)
if [ "$libc/$arch" = "musl/$host_arch" ] && [ -z "$gil" ]; then
    key=$(cat "$py_tar" "$0" "$(dirname "${BASH_SOURCE[0]}")/clibs.sh" | sha256sum | cut -c1-16)
    keep="$bcache/cpython-$version-$key-musl-$host_arch"
    if [ ! -d "$keep" ]; then
        mkdir -p "$bcache" && cp -a "$root/usr/local" "$keep.tmp$$" && mv "$keep.tmp$$" "$keep"
    fi
fi
site=$(ls -d "$lib"/site-packages)
pip_whl=$(ls "$lib"/ensurepip/_bundled/pip-*.whl | head -1)
pip_version=$(basename "$pip_whl" | cut -d- -f2)
if [ "$(printf '%s\n' 21.2 "$pip_version" | sort -V | head -1)" != 21.2 ]; then
    # pip before 21.2 (3.9.2 bundles 20.2.3) knows no musllinux tags (PEP 656) and would
    # install no musllinux wheel: take the pip wheel Debian bookworm ships (python3-pip-whl).
    log "bundled pip $pip_version predates musllinux tags: pip from bookworm's python3-pip-whl"
    (cd "$work" && apt-get "${apt_opts[@]}" download python3-pip-whl/bookworm >/dev/null)
    dpkg-deb -x "$work"/python3-pip-whl_*.deb "$work/pipwhl"
    new_whl=$(ls "$work"/pipwhl/usr/share/python-wheels/pip-*.whl | head -1)
    new_version=$(basename "$new_whl" | cut -d- -f2)
    new_tag=$(basename "$new_whl" | cut -d- -f3)
    # ensurepip (what `python -m venv` installs, and what harness's mkvenv.py runs) names
    # its wheel by version and python tag: point it at the new one.
    rm "$pip_whl" && cp "$new_whl" "$lib/ensurepip/_bundled/"
    sed -i -e "s/^_PIP_VERSION = .*/_PIP_VERSION = \"$new_version\"/" \
        -e "s/(\"pip\", _PIP_VERSION, \"[a-z0-9.]*\")/(\"pip\", _PIP_VERSION, \"$new_tag\")/" \
        "$lib/ensurepip/__init__.py"
    grep -q "^_PIP_VERSION = \"$new_version\"" "$lib/ensurepip/__init__.py" \
        || { echo "ensurepip/__init__.py: no _PIP_VERSION to point at pip $new_version" >&2; exit 1; }
    rm -rf "$lib"/ensurepip/__pycache__
    pip_whl="$lib/ensurepip/_bundled/$(basename "$new_whl")"
fi
python3 -m zipfile -e "$pip_whl" "$site"
exe=$(cd "$root/usr/local/bin" && ls python"$version"* | grep -v config | head -1)
for name in pip pip3 "pip$version"; do
    printf '#!/usr/local/bin/%s\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' "$exe" \
        > "$root/usr/local/bin/$name"
    chmod 755 "$root/usr/local/bin/$name"
done
ln -sf "$exe" "$root/usr/local/bin/python3"
if [ "$libc" = musl ]; then
    # What musl-gcc linked names $TL_MUSL/lib/ld-musl-$arch.so.1 as its interpreter (so
    # the build could run ./python here): in the image it is /lib/ld-musl-$arch.so.1.
    python3 - "/lib/ld-musl-$arch.so.1" "$root"/usr/local/bin/* <<'PY'
import struct, sys
new = sys.argv[1].encode()
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        head = f.read(64)
    if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        continue  # not a 64-bit little-endian ELF (x86_64, aarch64): scripts, links
    phoff, = struct.unpack_from("<Q", head, 32)
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    with open(path, "r+b") as f:
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:  # PT_INTERP
                if len(new) >= p_filesz:
                    sys.exit(f"{path}: PT_INTERP too short for {new!r}")
                f.seek(p_offset)
                f.write(new + b"\0" * (p_filesz - len(new)))
PY
fi
# The build must be an interpreter of the kind it claims: extension suffix of its libc and
# arch (what wheels' .so files are named), and the stdlib modules pip, the deps step (ssl)
# and the smoke runs (coverage: sqlite3; cffi/ctypes users) import, each used once.
t=""; [ "$gil" = --disable-gil ] && t=t
triplet_libc=gnu; [ "$libc" = musl ] && [ "$version" != 3.9 ] && triplet_libc=musl
want_suffix=".cpython-${version/./}$t-$arch-linux-$triplet_libc.so"
cat > "$root/tmp-check.py" <<'PY'
import importlib.machinery, sys, sysconfig
want = sys.argv[1]
got = sysconfig.get_config_var("EXT_SUFFIX")
if got != want or importlib.machinery.EXTENSION_SUFFIXES[0] != want:
    sys.exit(f"EXT_SUFFIX is {got} {importlib.machinery.EXTENSION_SUFFIXES}, not {want}")
import zlib, _posixsubprocess, select, _socket, math, _struct, _json, pyexpat, binascii
import _random, _bisect, _heapq, _datetime, hashlib
import ssl, sqlite3, ctypes, lzma, bz2
hashlib.sha256(b"x"), hashlib.md5(b"x"), hashlib.sha3_256(b"x"), hashlib.blake2b(b"x")
ssl.create_default_context()
sqlite3.connect(":memory:").execute("create table t (x)").fetchall()
for codec in (zlib, lzma, bz2):
    assert codec.decompress(codec.compress(b"harness")) == b"harness", codec
assert ctypes.CDLL(None).strlen(b"harness") == 7  # libffi calls into libc
print(f"{got}; {ssl.OPENSSL_VERSION}, SQLite {sqlite3.sqlite_version}")
PY

if [ "$libc" = glibc ]; then
    # built with the host's gcc and glibc (older than the rootfs's): it runs here
    log "checking the extension suffix and modules"
    PYTHONHOME="$root/usr/local" "$root/usr/local/bin/$exe" "$root/tmp-check.py" "$want_suffix" \
        || { echo "CPython $version ($libc, $arch): wrong extension suffix or missing modules (see make.log)" >&2; exit 1; }
    rm "$root/tmp-check.py"
    log "mmdebstrap $suite ($deb_arch) for the rootfs"
    command -v mmdebstrap >/dev/null || { echo "mmdebstrap not installed" >&2; exit 1; }
    mmdebstrap --variant=apt --arch="$deb_arch" --include=passwd \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --customize-hook="cp -a \"$root/usr/local/.\" \"\$1/usr/local/\"" \
        --customize-hook='ln -sf /usr/local/bin/python3 "$1/usr/bin/python3"' \
        --customize-hook='chroot "$1" useradd --create-home --uid 1000 --user-group --shell /bin/bash harness' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
        "$suite" "$out/rootfs.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1 \
        || { tail -30 "$work/mmdebstrap.log"; exit 1; }
else
    log "assembling the rootfs (musl loader, busybox, user harness, pip)"
    mkdir -p "$root"/{bin,sbin,lib,etc,tmp,root,home/harness,usr/bin,usr/sbin,var/tmp}
    cp "$loader" "$root/lib/ld-musl-$arch.so.1"
    ln -sf "ld-musl-$arch.so.1" "$root/lib/libc.musl-$arch.so.1"
    if [ -n "$cross" ]; then
        (cd "$work" && apt-get "${apt_opts[@]}" download busybox-static/bookworm >/dev/null)
        dpkg-deb -x "$work"/busybox-static_*.deb "$work/bb"
        cp "$work/bb/bin/busybox" "$root/bin/busybox"
    else
        [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 \
            || { echo "no static /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
        cp /bin/busybox "$root/bin/busybox"
    fi
    for applet in $(chroot "$root" /bin/busybox --list-full); do
        [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
    done
    printf '%s\n' root:x:0:0:root:/root:/bin/sh harness:x:1000:1000:harness:/home/harness:/bin/sh \
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false > "$root/etc/passwd"
    printf '%s\n' root:x:0: harness:x:1000: nogroup:x:65534: > "$root/etc/group"
    echo "127.0.0.1 localhost" > "$root/etc/hosts"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chown 1000:1000 "$root/home/harness"
    ln -sf /usr/local/bin/python3 "$root/usr/bin/python3"
    # A build whose extension modules failed still installs (setup.py only lists them):
    # refuse it here (a foreign arch's interpreter runs through binfmt_misc, as busybox).
    log "checking the extension suffix and modules"
    chroot "$root" /usr/local/bin/python3 /tmp-check.py "$want_suffix" \
        || { echo "CPython $version ($libc, $arch): wrong extension suffix or missing modules (see make.log)" >&2; exit 1; }
    rm "$root/tmp-check.py"
    tar --numeric-owner -C "$root" -cf "$out/rootfs.tar" .
fi
rm -rf "$work"
echo "rootfs done: $(du -h "$out/rootfs.tar" | cut -f1)"
