#!/usr/bin/env bash
# Installs haplan's C library (ffi/README.md, "Installing"):
#
#   PREFIX/lib/libhaplan.so.0.1.0   the shared library, SONAME libhaplan.so.0.1
#   PREFIX/lib/libhaplan.so.0.1 -> libhaplan.so.0.1.0, libhaplan.so -> libhaplan.so.0.1
#   PREFIX/lib/libhaplan.a          the static library
#   PREFIX/include/haplan.h         the header (HAPLAN_VERSION_* macros)
#   PREFIX/lib/pkgconfig/haplan.pc  `pkg-config --cflags --libs haplan`
#
# PREFIX defaults to /usr/local; LIBDIR (default PREFIX/lib) and DESTDIR
# (a staging root, for packagers) are honoured. It builds the libraries
# (release) unless given `--from DIR` (a directory holding
# libhaplan_ffi.so and libhaplan_ffi.a already built) with NATIVE_LIBS set
# to what the static library needs besides itself (rustc's
# native-static-libs).
#
#   PREFIX=$HOME/.local ffi/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
libdir=${LIBDIR:-$prefix/lib}
includedir=$prefix/include
dest=${DESTDIR:-}
from=
case "${1:-}" in
    --from) from=${2:?--from needs a directory} ;;
    "") ;;
    *) echo "usage: PREFIX=... $0 [--from DIR]" >&2; exit 2 ;;
esac

version=$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -n 1)
IFS=. read -r major minor _ <<<"$version"
if [ "$major" = 0 ]; then soversion=0.$minor; else soversion=$major; fi

if [ -z "$from" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    target=${CARGO_TARGET_DIR:-target}/release
    # Removed first, so that cargo links them again and prints what the
    # static library needs (it prints nothing when they are fresh).
    rm -f "$target"/libhaplan_ffi.so "$target"/libhaplan_ffi.a \
        "$target"/deps/libhaplan_ffi.so "$target"/deps/libhaplan_ffi.a
    cargo rustc --quiet --release --locked -p haplan-ffi --lib -- --print=native-static-libs \
        2>"$tmp/build.log" || { cat "$tmp/build.log" >&2; exit 1; }
    NATIVE_LIBS=$(sed -n 's/^note: native-static-libs: //p' "$tmp/build.log")
    from=$target
fi
: "${NATIVE_LIBS:?NATIVE_LIBS must list what the static library needs}"

install -d "$dest$libdir/pkgconfig" "$dest$includedir"
install -m 0755 "$from/libhaplan_ffi.so" "$dest$libdir/libhaplan.so.$version"
ln -sfn "libhaplan.so.$version" "$dest$libdir/libhaplan.so.$soversion"
ln -sfn "libhaplan.so.$soversion" "$dest$libdir/libhaplan.so"
install -m 0644 "$from/libhaplan_ffi.a" "$dest$libdir/libhaplan.a"
install -m 0644 ffi/include/haplan.h "$dest$includedir/haplan.h"
cat >"$dest$libdir/pkgconfig/haplan.pc" <<PC
prefix=$prefix
libdir=$libdir
includedir=$includedir

Name: haplan
Description: Exact host-failure tolerance and restart plans for virtualization pools (C ABI)
Version: $version
Libs: -L\${libdir} -lhaplan
Libs.private: $NATIVE_LIBS
Cflags: -I\${includedir}
PC
echo "haplan: installed the C library $version into $dest$prefix" >&2
