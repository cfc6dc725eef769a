#!/usr/bin/env bash
# Every test: formatting, the workspace's unit, integration, fixture and
# property tests (release: the HiGHS build is shared with the binary), and the
# benchmarks compiled (not run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo build --release --locked --workspace --bins
cargo test --release --locked --workspace
cargo bench --locked --workspace --no-run
