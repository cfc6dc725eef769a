#!/usr/bin/env bash
# Builds the release artifacts of the command line into dist/:
#
#   dist/haplan-VERSION-x86_64-linux.tar.gz (and .sha256), holding
#     haplan                 the CLI, without the libvirt drivers, as static as can be built
#     completions/           haplan.bash, _haplan (zsh), haplan.fish
#     man/haplan.1           the manual page, and haplan-COMMAND.1 for each command
#     README.md, LICENSE-MIT, LICENSE-APACHE
#
# The binary: fully static with musl when the x86_64-unknown-linux-musl
# target and a C++ compiler for musl (for HiGHS, the ILP solver, which is
# C++) are both there; otherwise static with glibc (-C target-feature=+crt-static:
# glibc, libstdc++ and HiGHS linked in; needs no shared library at all, and
# it does no name lookups, where static glibc would need its own libraries
# at run time). HAPLAN_RELEASE_TARGET=musl|gnu-static forces one.
#
#   bash scripts/release.sh            # prints the tarball's path
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -n 1)
name=haplan-$version-x86_64-linux
dist=dist
target_dir=${CARGO_TARGET_DIR:-target}

kind=${HAPLAN_RELEASE_TARGET:-}
if [ -z "$kind" ]; then
    kind=gnu-static
    if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl &&
        command -v x86_64-linux-musl-g++ >/dev/null 2>&1; then
        kind=musl
    fi
fi

case "$kind" in
musl)
    CC_x86_64_unknown_linux_musl=x86_64-linux-musl-gcc \
        CXX_x86_64_unknown_linux_musl=x86_64-linux-musl-g++ \
        cargo build --release --locked -p haplan-cli --target x86_64-unknown-linux-musl
    bin=$target_dir/x86_64-unknown-linux-musl/release/haplan
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
