#!/usr/bin/env bash
# Builds the release artifacts of the command line into dist/:
#
#   dist/haplan-VERSION-x86_64-linux.tar.gz (and .sha256), holding
#     haplan                 the CLI, without the libvirt drivers, as static as can be built
#     completions/           haplan.bash, _haplan (zsh), haplan.fish
#     man/haplan.1           the manual page, and haplan-COMMAND.1 for each command
#     README.md, LICENSE-MIT, LICENSE-APACHE
#
# The binary: fully static with musl (x86_64-unknown-linux-musl), built with
# cargo-zigbuild, whose zig toolchain brings musl's C library and a C++
# library for HiGHS, the ILP solver (which is C++; Debian's musl-tools has
# only a C compiler). cargo-zigbuild and zig come from PyPI, pinned, and are
# installed once into .tools/zig/; the rustup target is added if missing.
# When either cannot be had (no rustup, no network), the binary is static
# with glibc instead (-C target-feature=+crt-static: glibc, libstdc++ and
# HiGHS linked in; it does no name lookups, where static glibc would need
# its own libraries at run time), and the script says why on stderr.
# HAPLAN_RELEASE_TARGET=musl|gnu-static forces one (musl then fails rather
# than fall back).
#
# The musl build compiles everything a second time for that target (HiGHS
# included): several minutes the first time, shared with later builds in
# target/x86_64-unknown-linux-musl/.
#
#   bash scripts/release.sh            # prints the tarball's path
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -n 1)
name=haplan-$version-x86_64-linux
dist=dist
target_dir=${CARGO_TARGET_DIR:-target}

MUSL=x86_64-unknown-linux-musl
# Pinned: cargo-zigbuild and the zig it runs (ziglang) from PyPI.
ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
tools=$PWD/.tools/zig

# Prints nothing and succeeds when the musl build can run; else says why.
musl_ready() {
    if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL"; then
        command -v rustup >/dev/null 2>&1 || { echo "rustup is not installed"; return 1; }
        rustup target add "$MUSL" >/dev/null 2>&1 || { echo "rustup could not add the $MUSL target"; return 1; }
    fi
    if [ "$("$tools/bin/cargo-zigbuild" --version 2>/dev/null)" != "cargo-zigbuild $ZIGBUILD_VERSION" ]; then
        echo "haplan: installing cargo-zigbuild $ZIGBUILD_VERSION and zig into .tools/zig/ (once)" >&2
        { python3 -m venv "$tools" &&
            "$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
                "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"; } >&2 ||
            { echo "cargo-zigbuild could not be installed from PyPI"; return 1; }
    fi
}

kind=${HAPLAN_RELEASE_TARGET:-}
if [ -z "$kind" ]; then
    if why=$(musl_ready); then
        kind=musl
    else
        echo "haplan: $why: the release binary is static with glibc, not musl" >&2
        kind=gnu-static
    fi
elif [ "$kind" = musl ]; then
    why=$(musl_ready) || { echo "haplan: cannot build with musl: $why" >&2; exit 1; }
fi

case "$kind" in
musl)
    # cargo-zigbuild puts zig's cc and c++ (targeting musl) in CC and CXX
    # for the target, which the cmake build of HiGHS picks up. It runs from
    # / because zig names its own library directory relative to the working
    # directory when it lies below it, and bindgen (run by highs-sys from
    # elsewhere) would then not find musl's headers.
    case "$target_dir" in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
    manifest=$PWD/Cargo.toml
    (cd / && PATH=$tools/bin:$PATH cargo zigbuild --release --locked --manifest-path "$manifest" \
        --target-dir "$target_dir" -p haplan-cli --target "$MUSL")
    bin=$target_dir/$MUSL/release/haplan
    ;;
gnu-static)
    # Only the final link is static: the libraries are the ones the
    # ordinary release build made (no second build of HiGHS).
    cargo rustc --release --locked -p haplan-cli --bin haplan -- \
        -C target-feature=+crt-static
    bin=$target_dir/release/haplan
    ;;
*)
    echo "haplan: HAPLAN_RELEASE_TARGET must be musl or gnu-static, not $kind" >&2
    exit 2
    ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
out=$stage/$name
mkdir -p "$out/completions" "$out/man"
cp "$bin" "$out/haplan"
strip "$out/haplan" 2>/dev/null || true
"$out/haplan" completions bash >"$out/completions/haplan.bash"
"$out/haplan" completions zsh >"$out/completions/_haplan"
"$out/haplan" completions fish >"$out/completions/haplan.fish"
"$out/haplan" man >"$out/man/haplan.1"
# One page per command, as listed under "Commands:" in the help.
for cmd in $("$out/haplan" --help | awk '/^Commands:/ {on = 1; next} /^$/ {on = 0} on {print $1}'); do
    [ "$cmd" = help ] && continue
    "$out/haplan" man "$cmd" >"$out/man/haplan-$cmd.1"
done
cp README.md LICENSE-MIT LICENSE-APACHE "$out/"
mkdir -p "$dist"
tar -C "$stage" -czf "$dist/$name.tar.gz" "$name"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
if readelf -d "$out/haplan" | grep -q NEEDED; then
    echo "haplan: $kind binary, linked with: $(readelf -d "$out/haplan" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" >&2
else
    echo "haplan: $kind binary, static (no shared library needed)" >&2
fi
echo "$dist/$name.tar.gz"
