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

# A browser that cannot start fails here, with Chromium's own words, not as
# a pytest error per page.
chromium=${HAPLAN_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || {
    echo "haplan: $chromium is not there (Debian's chromium, installed by scripts/deps.sh)" >&2
    exit 1
}
python3 -c 'import playwright' 2>/dev/null || {
    echo "haplan: Playwright for Python is not installed (scripts/deps.sh installs it)" >&2
    exit 1
}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
status=0
out=$(timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --dump-dom 'data:text/html,<p>haplan-ok</p>' 2>&1) || status=$?
if [ "$status" -ne 0 ] || [[ $out != *"<p>haplan-ok</p>"* ]]; then
    case $status in
    0) why="it did not render a page" ;;
    124) why="no page within 60 s" ;;
    *) why="exit status $status" ;;
    esac
    echo "haplan: Chromium ($chromium) does not start headless ($why):" >&2
    printf '%s\n' "$out" | tail -n 20 >&2
    exit 1
fi
python3 -m pytest tests/browser -q -p no:cacheprovider "$@"
echo "haplan: screenshots in target/report-screenshots/ ($(ls target/report-screenshots | wc -l) pages)"
