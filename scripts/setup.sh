#!/usr/bin/env bash
# One command from a fresh Debian machine with Rust: install what the build
# needs, build haplan, and check the bundled demo pool.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked -p haplan-cli
echo "+ target/release/haplan check fixtures/basic/demo.json" >&2
status=0
target/release/haplan check fixtures/basic/demo.json || status=$?
# Exit 1 means "not ok" (a verdict), which still means the setup worked.
[ "$status" -le 1 ] || exit "$status"
