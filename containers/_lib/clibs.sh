# Sourced by cpython.sh (uses its apt_opts, work, jobs, bcache, log, quiet).
#
# target_libs LIBC ARCH CROSS
#   Builds, or finds in $HARNESS_BUILD_CACHE, the C libraries CPython's stdlib modules
#   link against, as static PIC archives for the target, from Debian's sources (trixie's,
#   but libffi's: trixie's orig tarball is a git snapshot without configure, which would
#   need autoconf/automake/libtool here; bookworm's 3.4.4 is a release tarball):
#   zlib, OpenSSL (_ssl, _hashlib), SQLite (_sqlite3), libffi (_ctypes), xz (_lzma),
#   bzip2 (_bz2); and for LIBC=musl, musl itself (1.2.5: it loads DT_RELR objects, which
#   the libgcc_s/libstdc++ auditwheel vendors into today's musllinux wheels have, and
#   1.2.3 (bookworm's musl-tools) does not), with its musl-gcc wrapper.
#   Sets TL (prefix: include/, lib/) and, for musl, TL_MUSL (bin/musl-gcc, lib/libc.so =
#   the dynamic loader). Everything musl-gcc links names $TL_MUSL/lib/ld-musl-ARCH.so.1 as
#   its program interpreter (musl's --syslibdir), so configure's test programs and the
#   build's own ./python run on the host with this musl, not the host's.
#   One build per (libc, arch), keyed by this script and the source versions: the x86_64
#   musl libs serve CPython 3.9, 3.11 and 3.13 (and the build interpreter of the cross
#   builds).
libs_srcs=(musl/trixie zlib/trixie openssl/trixie sqlite3/trixie libffi/bookworm
           xz-utils/trixie bzip2/trixie)

# src_versions PKG/SUITE: the versions of PKG that SUITE's Sources lists, newest first
# (from $madison: one apt-cache call for all, each costs seconds)
src_versions() {
    echo "$madison" \
        | awk -F'|' -v p="${1%/*}" -v s=" ${1#*/}/main Sources" \
              '{gsub(/ /, "", $1)} $1 == p && index($3, s) {gsub(/ /, "", $2); print $2}' \
        | sort -rV
}

# fetch_src PKG/SUITE DIR: the newest version that the mirror serves (its Sources may
# list a version whose files are not there)
fetch_src() {
    local v
    for v in $(src_versions "$1"); do
        (cd "$2" && apt-get "${apt_opts[@]}" source --download-only "${1%/*}=$v" >/dev/null 2>&1) && return 0
    done
    echo "no source of $1 could be fetched from the mirror" >&2
    return 1
}

target_libs() {
    local libc=$1 arch=$2 cross=$3 key versions
    local here=${BASH_SOURCE[0]} p
    madison=$(apt-cache "${apt_opts[@]}" madison "${libs_srcs[@]%/*}" linux-libc-dev)
    versions=$(for p in "${libs_srcs[@]}"; do echo "$p $(src_versions "$p" | tr '\n' ' ')"; done
               echo "$madison" | grep "linux-libc-dev | .* trixie/main ")
    key=$( { cat "$here"; echo "$libc $arch $cross"; echo "$versions"; } | sha256sum | cut -c1-16)
    TL="${bcache:-$work/cache}/clibs-$libc-$arch-$key"
    TL_MUSL=""; [ "$libc" = musl ] && TL_MUSL="$TL/musl"
    mkdir -p "$(dirname "$TL")"
    exec 8>"$TL.lock"
    flock 8  # two builds of the same arch wait for one another
    if [ -e "$TL/.done" ]; then
        log "C libraries ($libc $arch) from the build cache: $TL"
        exec 8>&-
        return 0
    fi
    rm -rf "$TL" && mkdir -p "$TL/bin"
    local w="$work/clibs" started=$SECONDS
    rm -rf "$w" && mkdir -p "$w/src"
    log "fetching sources of the C libraries (${libs_srcs[*]})"
    local first=()  # the newest of each in one apt-get call; one by one if that fails
    for p in "${libs_srcs[@]}"; do
        [ "$p" = musl/trixie ] && [ "$libc" != musl ] && continue
        first+=("${p%/*}=$(src_versions "$p" | head -1)")
    done
    if ! (cd "$w/src" && apt-get "${apt_opts[@]}" source --download-only "${first[@]}" >/dev/null 2>&1); then
        rm -f "$w"/src/*
        for p in "${libs_srcs[@]}"; do
            [ "$p" = musl/trixie ] && [ "$libc" != musl ] && continue
            fetch_src "$p" "$w/src"
        done
    fi
    for tarball in "$w"/src/*.orig.tar.*; do
        case "$tarball" in *.asc|*orig-www*) continue ;; esac
        tar -xf "$tarball" -C "$w/src"
    done
    src() { ls -d "$w"/src/"$1"-[0-9]*/ | head -1; }

    local real_cc flags="" host ar=ar ranlib=ranlib
    if [ "$libc" = musl ]; then
        log "building musl $(basename "$(src musl)" | cut -d- -f2) ($arch)"
        # --enable-wrapper=gcc: musl's configure builds musl-gcc on its own only when $CC
        # compiles against glibc's headers, which gcc-aarch64-linux-gnu alone lacks
        local mconf=(--prefix="$TL_MUSL" --syslibdir="$TL_MUSL/lib" --enable-wrapper=gcc)
        [ -n "$cross" ] && mconf+=(--target="$arch-linux-musl" CROSS_COMPILE="$cross-" CC="$cross-gcc")
        (cd "$(src musl)" && quiet ./configure "${mconf[@]}" && quiet make -j"$jobs" && quiet make install)
        # musl-gcc sees only musl's headers: add the kernel's (linux/, asm/: OpenSSL's
        # mem_sec.c, CPython's socket and select modules want them; Alpine's linux-headers),
        # from trixie's linux-libc-dev (Architecture: all, every arch's asm/ inside)
        (cd "$w" && apt-get "${apt_opts[@]}" download linux-libc-dev/trixie >/dev/null)
        dpkg-deb -x "$w"/linux-libc-dev_*.deb "$w/kh"
        for d in "$w"/kh/usr/include/*/; do
            case "$d" in *-linux-*) ;; *) cp -a "$d" "$TL_MUSL/include/" ;; esac
        done
        cp -rL "$w/kh/usr/include/$arch-linux-gnu/asm" "$TL_MUSL/include/asm"  # links into usr/lib/linux
        real_cc="$TL_MUSL/bin/musl-gcc"
        host="$arch-linux-musl"
    else
        real_cc=gcc
        host="$arch-linux-gnu"
    fi
    if [ -n "$cross" ]; then
        ar="$cross-ar" ranlib="$cross-ranlib"
        # see cpython.sh: inline atomics (libgcc's outline ones need glibc's __getauxval)
        [ "$arch" = aarch64 ] && flags=-mno-outline-atomics
    fi
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$real_cc" "$flags" > "$TL/bin/cc"
    chmod +x "$TL/bin/cc"
    local cc="$TL/bin/cc" cflags="-O1 -fPIC"
    local ac=(--prefix="$TL" --libdir="$TL/lib" --host="$host" --build="$(uname -m)-linux-gnu"
              --disable-shared --enable-static --with-pic)

    log "building static zlib ($libc $arch)"
    (cd "$(src zlib)" && CC="$cc" AR="$ar" RANLIB="$ranlib" CFLAGS="$cflags" quiet ./configure --static --prefix="$TL" \
        && quiet make -j"$jobs" libz.a && quiet make install)

    log "building static bzip2"
    (cd "$(src bzip2)" && quiet make -j"$jobs" libbz2.a CC="$cc" AR="$ar" RANLIB="$ranlib" \
        CFLAGS="$cflags -D_FILE_OFFSET_BITS=64" \
        && cp libbz2.a "$TL/lib/" && cp bzlib.h "$TL/include/")

    log "building static liblzma (xz)"
    (cd "$(src xz)" && CC="$cc" AR="$ar" RANLIB="$ranlib" CFLAGS="$cflags" quiet ./configure "${ac[@]}" \
        --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
        --disable-scripts --disable-doc --disable-nls \
        && quiet make -j"$jobs" -C src/liblzma && quiet make -C src/liblzma install)

    log "building static libffi"
    (cd "$(src libffi)" && CC="$cc" AR="$ar" RANLIB="$ranlib" CFLAGS="$cflags" quiet ./configure "${ac[@]}" \
        --disable-docs --disable-multi-os-directory --disable-exec-static-tramp \
        && quiet make -j"$jobs" && quiet make install)

    # Debian's sqlite3 source is SQLite's tree, not the amalgamation: its configure and
    # tclsh (the host's) generate sqlite3.c, which the target's compiler then builds.
    log "building static SQLite (amalgamation made with tclsh)"
    (cd "$(src sqlite3)" && quiet ./configure --disable-tcl --disable-shared && quiet make sqlite3.c \
        && quiet "$cc" $cflags -DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE \
            -DSQLITE_ENABLE_MATH_FUNCTIONS -DSQLITE_ENABLE_COLUMN_METADATA -c sqlite3.c -o sqlite3.o \
        && quiet "$ar" rcs "$TL/lib/libsqlite3.a" sqlite3.o && cp sqlite3.h sqlite3ext.h "$TL/include/")

    # OpenSSL: static, libraries only (no apps, tests, docs), and without what CPython's
    # ssl/hashlib never use (engines, providers as modules, legacy ciphers, QUIC/DTLS, CMS,
    # post-quantum signatures, ...). Its assembler stays: hashlib's speed matters little
    # here, but the asm is what OpenSSL is tested with.
    local ossl_target=linux-x86_64
    [ "$arch" = aarch64 ] && ossl_target=linux-aarch64
    log "building static OpenSSL $(basename "$(src openssl)" | cut -d- -f2) ($ossl_target)"
    local t0=$SECONDS
    (cd "$(src openssl)" && quiet ./Configure "$ossl_target" --prefix="$TL" --libdir=lib \
        --openssldir=/etc/ssl no-shared no-tests no-docs no-apps no-module no-legacy no-engine \
        no-dso no-async no-comp no-quic no-dtls no-srp no-ct no-cms no-cmp no-ts no-srtp \
        no-sctp no-ssl-trace no-rfc3779 no-aria no-camellia no-idea no-seed no-sm2 no-sm3 \
        no-sm4 no-whirlpool no-mdc2 no-rc2 no-rc4 no-bf no-cast no-slh-dsa no-ml-dsa \
        CC="$cc" AR="$ar" RANLIB="$ranlib" CFLAGS="$cflags" \
        && quiet make -j"$jobs" build_libs && quiet make install_dev)
    log "OpenSSL took $((SECONDS - t0)) s"

    rm -rf "$TL/share" "$TL"/lib/*.la "$TL"/lib/*.so* "$w"
    touch "$TL/.done"
    exec 8>&-
    log "C libraries ($libc $arch) built in $((SECONDS - started)) s: $TL"
}
