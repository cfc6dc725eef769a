#!/usr/bin/env bash
# The HTML report in a real browser: headless Chromium (Debian's, from
# scripts/deps.sh) driven by Playwright for Python opens `haplan report`'s
# page of every fixture pool and `haplan diff --format html`'s pages, and
# checks them against the JSON answers (tests/browser/test_report.py). The
# screenshots are kept in target/report-screenshots/. Needs the release
# binary (cargo build --release -p haplan-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf target/report-screenshots
python3 -m pytest tests/browser -q -p no:cacheprovider "$@"
echo "haplan: screenshots in target/report-screenshots/ ($(ls target/report-screenshots | wc -l) pages)"
