#!/usr/bin/env bash
# Every test: formatting, clippy and rustdoc without a warning, the
# workspace's unit, integration, fixture and property tests (release: the
# HiGHS build is shared with the binary), the benchmarks compiled (not run),
# the C ABI (its header regenerated and compared, its C tests run plain and
# under AddressSanitizer: ffi/tests/run.sh), the Python package built,
# installed and tested (pytest, then its stubs against the compiled module),
# the HTML report checked in headless Chromium (scripts/browser-test.sh),
# and the packaging: the release tarball, the GitHub Action, the pre-commit
# hook, the wheel and the sdist, each tested from the artifact
# (scripts/packaging.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# How long each step took, printed at the end (and where it stopped, on a
# failure), so a slow CI run shows where its time went.
steps=()
last=$SECONDS
step() {
    steps+=("$(printf '%6d s  %s' $((SECONDS - last)) "$1")")
    last=$SECONDS
}
summary() {
    local status=$?
    echo "scripts/test.sh: $((SECONDS / 60)) min $((SECONDS % 60)) s, exit $status" >&2
    printf '%s\n' "${steps[@]}" >&2
    [ $status = 0 ] || echo "  (then failed in the step after the last one listed)" >&2
}
trap summary EXIT
bash scripts/deps.sh
step "deps"
cargo fmt --all -- --check
step "fmt"
cargo build --release --locked --workspace --bins
step "build"
# Lints and the API docs without a warning (both reuse the release HiGHS
# build: only the workspace's crates are checked and documented again).
cargo clippy --release --locked --workspace --all-targets -- -D warnings
step "clippy"
RUSTDOCFLAGS=-Dwarnings cargo doc --release --locked --workspace --no-deps
step "rustdoc"
# HAPLAN_E2E_VCSIM: the vSphere import also runs against govmomi's simulator.
HAPLAN_E2E_VCSIM=1 cargo test --release --locked --workspace
step "cargo test"
cargo bench --locked --workspace --no-run
step "benches built"

# The C ABI: the committed header is what cbindgen generates (cbindgen is
# installed into .tools/ the first time), and the C tests pass against the
# shared and the static library, and under AddressSanitizer.
bash ffi/tests/run.sh
step "C tests"

# The Python package, installed as the README says (without build isolation:
# maturin is already there, and the build reuses target/release).
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation ./python
python3 -m pytest python/tests -q
python3 -m mypy.stubtest haplan --allowlist python/stubtest-allowlist.txt
python3 -m mypy --strict python/python/haplan python/examples python/tests
python3 -m mypy --strict tests/browser
step "Python"

# The HTML report in a real browser (screenshots in target/report-screenshots/).
bash scripts/browser-test.sh
step "browser"

# What users install: the release tarball (static binary, completions, man
# pages), the GitHub Action, the pre-commit hook, the wheel and the sdist.
bash scripts/packaging.sh
step "packaging"
