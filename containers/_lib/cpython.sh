#!/usr/bin/env bash
# usage: cpython.sh OUTDIR VERSION SUITE LIBC ARCH [--disable-gil]   -> OUTDIR/rootfs.tar
#   VERSION  3.X: Debian's python3.X source package, from SUITE (bullseye, trixie, sid, ...)
#   LIBC     musl: busybox rootfs with musl's loader; glibc: a Debian SUITE rootfs (mmdebstrap)
#   ARCH     x86_64 (built with the host's gcc / musl-gcc) or aarch64 (musl only:
#            cross-compiled with gcc-aarch64-linux-gnu against musl built from Debian's
#            source; code under qemu measured ~10x slower, containers/README.md)
#   --disable-gil  the free-threaded build (pip's tags become cp3Xt)
# CPython goes to /usr/local with pip unpacked from its bundled wheel. Modules needing
# libraries not built here (ssl, ctypes, sqlite3, lzma, bz2, ...) are left out: pip works
# offline without them, and that is all a smoke run needs (wheels come from a wheelhouse).
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
need=(make gcc); [ "$libc" = musl ] && need+=(musl-gcc)
[ -n "$cross" ] && need+=("$cross-gcc")
for tool in "${need[@]}"; do
    command -v "$tool" >/dev/null || { echo "$tool not installed (harness envs build checks tools first)" >&2; exit 1; }
done

work="$out/work"
rm -rf "$work" && mkdir -p "$work/src" "$work/bin"
log() { echo "$*"; }
quiet() { "$@" >"$work/step.log" 2>&1 || { tail -30 "$work/step.log" >&2; exit 1; }; }

# -- sources (and, for a foreign arch, busybox-static of that arch) from the mirror
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources" "$apt_dir/preferences.d"
deb_arch=$([ "$arch" = aarch64 ] && echo arm64 || echo amd64)
types=deb-src; [ -n "$cross" ] && types="deb deb-src"
cat > "$apt_dir/sources/src.sources" <<SRC
Types: $types
URIs: $mirror
Suites: $suite bookworm
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
log "fetching sources (python$version/$suite, zlib/bookworm) from $mirror"
apt-get "${apt_opts[@]}" update >/dev/null
srcs=("python$version/$suite" zlib/bookworm); [ -n "$cross" ] && srcs+=(musl/bookworm)
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "${srcs[@]}" >/dev/null)
py_tar=""
for tarball in "$work"/src/*.orig.tar.*; do
    case "$tarball" in *.asc) continue ;; */python"$version"_*) py_tar=$tarball ;; esac
    tar -xf "$tarball" -C "$work/src"
done
py_src=$(ls -d "$work"/src/Python-"$version"*/ | head -1)
zlib_src=$(ls -d "$work"/src/zlib-*/ | head -1)

# -- the C compiler for the target
if [ -n "$cross" ]; then
    musl_src=$(ls -d "$work"/src/musl-*/ | head -1)
    log "building musl for $arch with $cross-gcc"
    # --enable-wrapper=gcc: musl-gcc is what compiles everything below. musl's "auto"
    # builds it only when the cross gcc finds glibc's headers (libc6-dev-arm64-cross, a
    # Recommends that --no-install-recommends leaves out): without it, no musl-gcc at all.
    (cd "$musl_src" && quiet ./configure --target="$arch-linux-musl" --prefix="$work/musl" --enable-wrapper=gcc \
        CROSS_COMPILE="$cross-" CC="$cross-gcc" && quiet make -j"$jobs" && quiet make install)
    real_cc="$work/musl/bin/musl-gcc"
    loader="$work/musl/lib/libc.so"
elif [ "$libc" = musl ]; then
    real_cc=musl-gcc
    loader=/usr/lib/$arch-linux-musl/libc.so
else
    real_cc=gcc
fi
# configure (--print-multiarch) and the setup.py of 3.9-3.11 (-print-multiarch) ask the
# compiler for its multiarch triplet, and gcc answers x86_64-linux-gnu even as musl-gcc.
# configure refuses that for a musl target: answer it nothing. setup.py, given nothing,
# asks dpkg-architecture instead, which also says x86_64-linux-gnu: it then compiles every
# extension with -I/usr/include/x86_64-linux-gnu (glibc's bits/errno.h wants
# <linux/errno.h>, which musl-gcc's include path lacks), so all of them failed and were
# dropped (no _posixsubprocess, no pip). Answer setup.py the musl triplet: it adds
# /usr/include/$arch-linux-musl (musl-gcc's own) where it exists, and skips dpkg-architecture.
# (glibc builds: nothing, as before; dpkg-architecture's answer is right for them.)
triplet=""; [ "$libc" = musl ] && triplet="$arch-linux-musl"
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

log "building static zlib ($libc, $arch)"
(cd "$zlib_src" && CC="$cc" CFLAGS="-fPIC -O2" quiet ./configure --static --prefix="$work/zlib" \
    && quiet make -j"$jobs" && quiet make install)

# -- a same-version CPython that runs here (cross builds only)
conf_extra=()
if [ -n "$cross" ]; then
    key=$(cat "$py_tar" "$0" | sha256sum | cut -c1-16)  # the source and this script
    build_py="${bcache:-$work/cache}/cpython-$version-$key-musl-$host_arch"
    if [ ! -x "$build_py/bin/python$version" ]; then
        log "no native CPython $version to cross-compile with: building it first"
        bash "$0" "$work/native" "$version" "$suite" musl "$host_arch" >/dev/null
        [ -x "$build_py/bin/python$version" ] || mkdir -p "$build_py"
        [ -x "$build_py/bin/python$version" ] || tar -xf "$work/native/rootfs.tar" -C "$build_py" --strip-components=3 ./usr/local
        rm -rf "$work/native"
    fi
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
na=""
for m in _ssl _hashlib _ctypes _sqlite3 _lzma _bz2 _uuid _dbm _gdbm _curses _curses_panel \
         readline _decimal _tkinter nis _ctypes_test xxlimited xxlimited_35 _zstd; do
    na+=" py_cv_module_${m}=n/a"
done
# -O1 without -g (CPython's default is -O3 -g): the image is for smoke runs; faster builds.
(cd "$py_src" && env $na ./configure CC="$cc" OPT="-DNDEBUG -fwrapv -O1" \
    CPPFLAGS="-I$work/zlib/include" LDFLAGS="-L$work/zlib/lib" \
    --prefix=/usr/local --with-ensurepip=no --without-static-libpython --disable-test-modules \
    "${conf_extra[@]}" >"$work/configure.log" 2>&1) || { tail -30 "$work/configure.log"; exit 1; }
log "compiling CPython (-j$jobs)"
(cd "$py_src" && make -j"$jobs" >"$work/make.log" 2>&1) || { tail -30 "$work/make.log"; exit 1; }
log "installing CPython"
root="$work/root"
(cd "$py_src" && make install DESTDIR="$root" >"$work/install.log" 2>&1) || { tail -30 "$work/install.log"; exit 1; }
lib=$(ls -d "$root"/usr/local/lib/python"$version"*/ | head -1)
rm -rf "$lib/test" "$lib/idlelib/idle_test" "$lib"/config-*/*.a
find "$lib" -name '*.opt-[12].pyc' -delete
if [ -n "$bcache" ] && [ "$libc/$arch" = "musl/$host_arch" ] && [ -z "$gil" ]; then
    key=$(cat "$py_tar" "$0" | sha256sum | cut -c1-16)
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
    if [ -z "$cross" ]; then  # a cross build's lists already have bookworm's packages
        cat > "$apt_dir/sources/whl.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm
Components: main
Architectures: $deb_arch
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get "${apt_opts[@]}" update >/dev/null
    fi
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

if [ "$libc" = glibc ]; then
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
    # A build whose extension modules all failed still installs (setup.py only lists
    # them): refuse it here. These are what pip and the smoke runs import (a foreign
    # arch's interpreter runs through binfmt_misc, as busybox above).
    log "checking the extension modules pip needs"
    chroot "$root" /usr/local/bin/python3 -c 'import zlib, _posixsubprocess, select, _socket, math, _struct, _json, pyexpat, binascii, _random, _bisect, _heapq, _datetime, hashlib; hashlib.sha256()' \
        || { echo "CPython $version ($libc, $arch) lacks extension modules pip needs (see make.log)" >&2; exit 1; }
    tar --numeric-owner -C "$root" -cf "$out/rootfs.tar" .
fi
rm -rf "$work"
echo "rootfs done: $(du -h "$out/rootfs.tar" | cut -f1)"
