#!/usr/bin/env bash
# The C ABI's tests (ffi/README.md, "Tests"): builds haplan-ffi, checks that
# the committed header is what cbindgen generates, then compiles each C test
# (smoke.c, garbage.c, capacity.c, and the README's example) with -Wall
# -Wextra -Werror and runs it three ways: against the shared library,
# against the static library, and against the static library under
# AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer. The
# header is also compiled as C++.
#
#   ffi/tests/run.sh           test
#   ffi/tests/run.sh --bless   regenerate ffi/include/haplan.h, then test
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bless=0
case "${1:-}" in
    --bless) bless=1 ;;
    "") ;;
    *) echo "usage: $0 [--bless]" >&2; exit 2 ;;
esac

# cbindgen, pinned (another version may lay the header out differently):
# from PATH if it is that version, else installed once into .tools/.
CBINDGEN_VERSION=0.29.4
cbindgen=cbindgen
if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
    cbindgen=$root/.tools/bin/cbindgen
    if [ "$("$cbindgen" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
        echo "haplan: installing cbindgen $CBINDGEN_VERSION into .tools/ (once, about 2 minutes)" >&2
        cargo install --quiet --locked --root "$root/.tools" --version "=$CBINDGEN_VERSION" cbindgen
    fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The header.
"$cbindgen" --quiet --config ffi/cbindgen.toml --crate haplan-ffi --output "$tmp/haplan.h" ffi
if [ $bless = 1 ]; then
    cp "$tmp/haplan.h" ffi/include/haplan.h
elif ! diff -u ffi/include/haplan.h "$tmp/haplan.h"; then
    echo "haplan: ffi/include/haplan.h differs from what cbindgen generates from ffi/src;" \
        "run ffi/tests/run.sh --bless and commit it" >&2
    exit 1
fi

# The libraries. Built alone, haplan-ffi links haplan without the workspace's
# other features (no libvirt). A workspace-wide build writes the same file
# names with those features, and cargo would call its own variant fresh over
# them: removing the files makes it link its own again (about 15 s).
target=${CARGO_TARGET_DIR:-target}/release
rm -f "$target"/libhaplan_ffi.so "$target"/libhaplan_ffi.a \
    "$target"/deps/libhaplan_ffi.so "$target"/deps/libhaplan_ffi.a
if ! cargo rustc --quiet --release --locked -p haplan-ffi --lib -- --print=native-static-libs \
    2>"$tmp/build.log"; then
    cat "$tmp/build.log" >&2
    exit 1
fi
# What a program linking the static library needs besides it.
native=$(sed -n 's/^note: native-static-libs: //p' "$tmp/build.log")
[ -n "$native" ] || { cat "$tmp/build.log" >&2; echo "haplan: no native-static-libs" >&2; exit 1; }
# A copy, so that another build cannot change them under the tests.
mkdir "$tmp/lib"
cp "$target"/libhaplan_ffi.so "$target"/libhaplan_ffi.a "$tmp/lib/"
# A program linked with it asks for its SONAME (ffi/build.rs), as installed.
built_soname=$(readelf -d "$tmp/lib/libhaplan_ffi.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -n "$built_soname" ] || { echo "haplan: libhaplan_ffi.so has no SONAME" >&2; exit 1; }
ln -s libhaplan_ffi.so "$tmp/lib/$built_soname"
if ldd "$tmp/lib/libhaplan_ffi.so" | grep -q libvirt; then
    echo "haplan: libhaplan_ffi.so links libvirt: not the library haplan-ffi builds alone" >&2
    exit 1
fi

cc=${CC:-cc}
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -Iffi/include -Iffi/tests)
"${CXX:-c++}" -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ ffi/include/haplan.h

# The README's example, as written there.
awk '/^## Example/ {on = 1} on && /^```c$/ {code = 1; next} code && /^```$/ {exit} code' \
    ffi/README.md >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "haplan: no example in ffi/README.md" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for src in ffi/tests/smoke.c ffi/tests/garbage.c ffi/tests/capacity.c "$tmp/example.c"; do
    name=$(basename "$src" .c)
    "$cc" "${cflags[@]}" "$src" -L"$tmp/lib" -lhaplan_ffi -Wl,-rpath,"$tmp/lib" -o "$tmp/$name-shared"
    # shellcheck disable=SC2086 # $native is a list of flags
    "$cc" "${cflags[@]}" "$src" "$tmp/lib/libhaplan_ffi.a" $native -o "$tmp/$name-static"
    # shellcheck disable=SC2086
    "$cc" "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer "$src" \
        "$tmp/lib/libhaplan_ffi.a" $native -o "$tmp/$name-asan"
    for variant in shared static asan; do
        if ! "$tmp/$name-$variant" "$root" >"$tmp/out" 2>&1; then
            cat "$tmp/out" >&2
            echo "haplan: ffi test $name ($variant) failed" >&2
            exit 1
        fi
        if [ "$name" = example ] && ! grep -q '"max_tolerable":1,' "$tmp/out"; then
            cat "$tmp/out" >&2
            echo "haplan: the README's example did not print its report" >&2
            exit 1
        fi
        echo "ffi: $name ($variant) ok"
    done
done

# The installed copy: ffi/install.sh into a prefix, the SONAME and links it
# makes, and a program built only with what pkg-config says, against the
# shared library (found through the SONAME link) and the static one.
prefix=$tmp/prefix
PREFIX=$prefix NATIVE_LIBS="$native" bash ffi/install.sh --from "$tmp/lib"
soname=$(readelf -d "$prefix"/lib/libhaplan.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$prefix/lib/$soname" ] || {
    echo "haplan: the installed libhaplan.so has no SONAME, or no link by it: '$soname'" >&2
    exit 1
}
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion haplan)" = "$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -n 1)" ]
# shellcheck disable=SC2046 # pkg-config prints a list of flags
"$cc" -std=c11 -Wall -Wextra -Werror ffi/tests/installed.c $(pkg-config --cflags --libs haplan) \
    -o "$tmp/installed-shared"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror ffi/tests/installed.c $(pkg-config --cflags haplan) \
    "$prefix/lib/libhaplan.a" $(pkg-config --static --libs-only-other --libs-only-l haplan | sed 's/-lhaplan//') \
    -o "$tmp/installed-static"
readelf -d "$tmp/installed-shared" | grep -q "NEEDED.*\[$soname\]" || {
    echo "haplan: the program does not ask for $soname" >&2
    exit 1
}
LD_LIBRARY_PATH=$prefix/lib "$tmp/installed-shared"
"$tmp/installed-static"
echo "ffi: installed ($soname, pkg-config) ok"
