#!/usr/bin/env bash
# Installs what building haplan needs beyond Rust: the Debian packages for
# HiGHS, the exact ILP solver (built from source by the highs-sys crate), and
# for the drivers crate and its end-to-end bench (libvirt, OpenIPMI, fence
# agents), Go and govmomi for the vSphere import's test against its
# simulator, the Python tools that build and test the Python package
# (maturin, pytest, mypy), and the browser that checks the HTML report
# (Debian's Chromium and ChromeDriver, driven by Playwright for Python,
# which uses that Chromium and downloads none). Idempotent and quiet when everything is already
# there.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v c++ >/dev/null 2>&1 || need+=(g++)

# The drivers crate (solver/drivers/) and its end-to-end bench (scripts/e2e/): the
# libvirt client library and headers (the `virt` crate links it), a libvirtd
# whose built-in test driver plays each simulated host, virsh, OpenIPMI's
# ipmi_sim as each host's BMC, the fence agents with the ipmitool that
# fence_ipmilan runs, and socat (each host's management relay). Recommends
# are left out: they would pull in QEMU.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
# bindgen (used by highs-sys) needs libclang itself (libclang.so or
# libclang-N.so), not just libclang-cpp, which other packages bring along.
if ! installed libclang-dev && ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* >/dev/null 2>&1; then
    need+=(libclang-dev)
fi
# The vSphere import's end-to-end test (HAPLAN_E2E_VCSIM=1): Go and
# Debian's govmomi, whose vSphere simulator scripts/e2e/vcsim/collect.go
# runs in process.
need_norec=()
# golang: the vSphere import's simulator test; chromium: the HTML report's
# browser test (scripts/browser-test.sh).
for pkg in libvirt-dev libvirt-daemon libvirt-clients openipmi ipmitool fence-agents socat pkgconf \
    golang-go golang-github-vmware-govmomi-dev chromium chromium-driver; do
    installed "$pkg" || need_norec+=("$pkg")
done

if [ ${#need[@]} -gt 0 ] || [ ${#need_norec[@]} -gt 0 ]; then
    echo "haplan: installing Debian packages: ${need[*]} ${need_norec[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    if [ ${#need[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if [ ${#need_norec[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_norec[@]}" >/dev/null
    fi
fi

command -v cargo >/dev/null 2>&1 || {
    echo "haplan: cargo not found; install Rust (rustup) first" >&2
    exit 1
}

# The Python package (python/): built by maturin, tested with pytest, stubs
# checked with mypy. Installed into python3's own environment, only when missing.
command -v python3 >/dev/null 2>&1 || {
    echo "haplan: python3 not found; install Python 3.9 or later first" >&2
    exit 1
}
py_need=()
python3 -c 'import maturin' >/dev/null 2>&1 || py_need+=('maturin>=1.16,<2')
python3 -c 'import pytest' >/dev/null 2>&1 || py_need+=(pytest)
python3 -c 'import mypy' >/dev/null 2>&1 || py_need+=(mypy)
# haplan.fleet: many pools, or one pool's search split, on a Dask cluster;
# answers as pandas DataFrames, written as Parquet with pyarrow. The pandas
# stubs let mypy --strict check the code that builds the DataFrames.
python3 -c 'import dask, distributed' >/dev/null 2>&1 || py_need+=('dask[distributed]')
python3 -c 'import pandas' >/dev/null 2>&1 || py_need+=(pandas)
python3 -c 'import pyarrow' >/dev/null 2>&1 || py_need+=(pyarrow)
python3 -c 'import importlib.metadata as m; m.version("pandas-stubs")' >/dev/null 2>&1 || py_need+=(pandas-stubs)
# Playwright drives /usr/bin/chromium; `playwright install` (a browser
# download) is never run.
python3 -c 'import playwright' >/dev/null 2>&1 || py_need+=('playwright>=1.40,<2')
# Packaging checks (scripts/packaging.sh): the pre-commit hook is run by
# pre-commit itself (`pre-commit try-repo`), the action's YAML read by PyYAML
# (a dependency of pre-commit), and the wheel and sdist installed into fresh
# virtual environments (venv, from the standard library).
python3 -c 'import pre_commit' >/dev/null 2>&1 || py_need+=(pre-commit)
if [ ${#py_need[@]} -gt 0 ]; then
    echo "haplan: installing Python packages: ${py_need[*]}" >&2
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check "${py_need[@]}"
fi
