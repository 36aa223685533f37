#!/usr/bin/env bash
# usage: build.sh OUTDIR -> OUTDIR/rootfs.tar
# CPython 3.13 on musl, with no Alpine mirror: Debian's musl-tools (musl-gcc) compiles
# Debian's python3.13 source package (trixie) and a static zlib (bookworm's source: trixie's
# answered 404 when measured); the rootfs is musl's loader + busybox-static + that CPython,
# with pip unpacked from CPython's own bundled wheel. Modules that need libraries not built
# for musl (ssl, ctypes, sqlite3, lzma, bz2, ...) are left out: pip works offline without
# them, and that is all a smoke run needs (wheels come from a local wheelhouse).
set -euo pipefail
out=$1
jobs=${HARNESS_JOBS:-$(nproc)}
mirror=${HARNESS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
musl_lib=/usr/lib/x86_64-linux-musl
for tool in musl-gcc make gcc; do
    command -v "$tool" >/dev/null || { echo "$tool not installed (apt-get install musl-tools make gcc)" >&2; exit 1; }
done
# a static busybox (Debian's busybox-static): the rootfs has no glibc to run a dynamic one
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 \
    || { echo "no static /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

work="$out/work"
rm -rf "$work" && mkdir -p "$work"
cd "$work"

echo "fetching sources (python3.13/trixie, zlib/bookworm) from $mirror"
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources"
cat > "$apt_dir/sources/src.sources" <<SRC
Types: deb-src
URIs: $mirror
Suites: trixie bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-q -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/nonexistent"
          -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update >/dev/null
mkdir -p src && (cd src && apt-get "${apt_opts[@]}" source --download-only python3.13/trixie zlib/bookworm >/dev/null)
py_tar=$(ls src/python3.13_*.orig.tar.* | head -1)
zlib_tar=$(ls src/zlib_*.orig.tar.* | head -1)
tar -xf "$py_tar" -C src
tar -xf "$zlib_tar" -C src
py_src=$(ls -d src/Python-3.13*/ | head -1)
zlib_src=$(ls -d src/zlib-*/ | head -1)

echo "building static zlib with musl-gcc"
(cd "$zlib_src" && CC=musl-gcc CFLAGS="-fPIC -O2" ./configure --static --prefix="$work/zlib" >/dev/null \
    && make -j"$jobs" >/dev/null && make install >/dev/null)

# configure asks the compiler for its multiarch triplet and refuses gcc's (x86_64-linux-gnu)
# for a musl target: answer nothing.
mkdir -p "$work/bin"
cat > "$work/bin/musl-cc" <<'CC'
#!/bin/sh
for arg in "$@"; do [ "$arg" = "--print-multiarch" ] && exit 0; done
exec musl-gcc "$@"
CC
chmod +x "$work/bin/musl-cc"

echo "configuring CPython ($(basename "$py_src")) for musl"
na=""
for m in _ssl _hashlib _ctypes _sqlite3 _lzma _bz2 _uuid _dbm _gdbm _curses _curses_panel \
         readline _decimal _tkinter nis _ctypes_test xxlimited xxlimited_35; do
    na+=" py_cv_module_${m}=n/a"
done
(cd "$py_src" && env $na ./configure CC="$work/bin/musl-cc" \
    CPPFLAGS="-I$work/zlib/include" LDFLAGS="-L$work/zlib/lib" \
    --prefix=/usr/local --with-ensurepip=no --disable-test-modules --without-static-libpython \
    >"$work/configure.log" 2>&1) || { tail -30 "$work/configure.log"; exit 1; }
echo "compiling CPython with musl-gcc (-j$jobs)"
(cd "$py_src" && make -j"$jobs" >"$work/make.log" 2>&1) || { tail -30 "$work/make.log"; exit 1; }
echo "installing CPython into the rootfs"
root="$work/root"
(cd "$py_src" && make install DESTDIR="$root" >"$work/install.log" 2>&1) || { tail -30 "$work/install.log"; exit 1; }
rm -rf "$root"/usr/local/lib/python3.13/test "$root"/usr/local/lib/python3.13/idlelib/idle_test \
       "$root"/usr/local/lib/python3.13/config-3.13-*/*.a
find "$root/usr/local/lib/python3.13" -name '*.opt-[12].pyc' -delete

echo "assembling the rootfs (musl loader, busybox, user harness, pip)"
mkdir -p "$root"/{bin,sbin,lib,etc,tmp,root,home/harness,usr/bin,usr/sbin,var/tmp}
cp "$musl_lib/libc.so" "$root/lib/ld-musl-x86_64.so.1"
ln -sf ld-musl-x86_64.so.1 "$root/lib/libc.musl-x86_64.so.1"
cp /bin/busybox "$root/bin/busybox"
chroot "$root" /bin/busybox --install -s
cat > "$root/etc/passwd" <<PW
root:x:0:0:root:/root:/bin/sh
harness:x:1000:1000:harness:/home/harness:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$root/etc/group" <<GR
root:x:0:
harness:x:1000:
nogroup:x:65534:
GR
echo "127.0.0.1 localhost" > "$root/etc/hosts"
chmod 1777 "$root/tmp" "$root/var/tmp"
chown 1000:1000 "$root/home/harness"
site="$root/usr/local/lib/python3.13/site-packages"
pip_whl=$(ls "$root"/usr/local/lib/python3.13/ensurepip/_bundled/pip-*.whl | head -1)
python3 -m zipfile -e "$pip_whl" "$site"
for name in pip pip3 pip3.13; do
    printf '#!/usr/local/bin/python3.13\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' \
        > "$root/usr/local/bin/$name"
    chmod 755 "$root/usr/local/bin/$name"
done
ln -sf /usr/local/bin/python3 "$root/usr/bin/python3"

tar --numeric-owner -C "$root" -cf "$out/rootfs.tar" .
rm -rf "$work"
echo "rootfs done: $(du -h "$out/rootfs.tar" | cut -f1)"
