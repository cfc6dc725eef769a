#!/usr/bin/env bash
# The pre-commit hook `haplan-check` (.pre-commit-hooks.yaml): `haplan check
# FILE ARGS...` on each file pre-commit passes (options, the hook's `args`,
# come first), failing when any check does. The haplan used is $HAPLAN,
# else the one on PATH, else one built from this repository with cargo
# into pre-commit's cache (once).
set -euo pipefail
haplan=${HAPLAN:-}
if [ -z "$haplan" ] && command -v haplan >/dev/null 2>&1; then
    haplan=haplan
fi
if [ -z "$haplan" ]; then
    repo=$(cd "$(dirname "$0")/.." && pwd)
    root=${XDG_CACHE_HOME:-$HOME/.cache}/haplan-pre-commit
    if [ ! -x "$root/bin/haplan" ]; then
        echo "haplan: building haplan into $root (once; a few minutes)" >&2
        cargo install --quiet --locked --path "$repo/solver/cli" --root "$root" >&2
    fi
    haplan=$root/bin/haplan
fi
opts=()
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
    opts+=("$1")
    # The flags that take a value.
    case "$1" in --tolerate | --time-limit | --threads | --format | --strategy) opts+=("$2"); shift ;; esac
    shift
done
status=0
for file in "$@"; do
    "$haplan" check "$file" "${opts[@]}" || status=1
done
exit $status
