#!/usr/bin/env bash
# Installs what building haplan needs beyond Rust: the Debian packages for
# HiGHS, the exact ILP solver (built from source by the highs-sys crate).
# Idempotent and quiet when everything is already there.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
# bindgen (used by highs-sys) needs libclang.
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
    need+=(libclang-dev)
fi
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v c++ >/dev/null 2>&1 || need+=(g++)

if [ ${#need[@]} -gt 0 ]; then
    echo "haplan: installing Debian packages: ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || {
    echo "haplan: cargo not found; install Rust (rustup) first" >&2
    exit 1
}
