#!/usr/bin/env bash
# Packaging checks, each on the artifact rather than the source tree
# (scripts/test.sh runs this after the other tests; the builds share
# target/, so nothing is compiled twice but the few crates whose flags
# differ):
#
# - the release tarball (scripts/release.sh): its binary runs with no
#   shared library at all (so without libvirt; built with musl where the
#   musl target is installed), checks a pool, its
#   completions load in bash, its manual pages are there;
# - the GitHub Action (action.yml), its steps run as the runner runs them,
#   building haplan with `cargo install --path solver/cli` on the way, with
#   its annotations and exit status;
# - the pre-commit hook, through `pre-commit try-repo` in a scratch
#   repository, with the release binary on PATH;
# - the Python package: an abi3 wheel and an sdist built by maturin, each
#   installed into a fresh virtual environment; the test suite runs against
#   the installed wheel, and the sdist's build answers as the wheel does.
# (The C library's install, SONAME and pkg-config file: ffi/tests/run.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "haplan: packaging: $*" >&2; exit 1; }

# --- The release tarball -------------------------------------------------
tarball=$(bash scripts/release.sh)
tar -C "$tmp" -xzf "$tarball"
rel=$(echo "$tmp"/haplan-*-x86_64-linux)
bin=$rel/haplan
(cd "$(dirname "$tarball")" && sha256sum -c --quiet "$(basename "$tarball").sha256")
if readelf -d "$bin" | grep -q NEEDED; then
    readelf -d "$bin" | grep NEEDED >&2
    fail "the release binary needs shared libraries"
fi
# Where the musl target is installed, the release binary is the musl one
# (the glibc fallback is for machines that cannot build it). musl's C
# library reads MUSL_LOCPATH; glibc has no such string.
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    grep -a -q MUSL_LOCPATH "$bin" || fail "the musl target is installed, but the release binary is not linked with musl"
fi
status=0
"$bin" check fixtures/citrix/two-hosts-two-vms-each.json >"$tmp/out" || status=$?
[ $status = 1 ] && grep -q '^OVERCOMMITTED: pool citrix-2x2 tolerates 0' "$tmp/out" ||
    fail "the release binary's check: exit $status, $(cat "$tmp/out")"
"$bin" check fixtures/basic/demo.json --tolerate 1 --format json >"$tmp/out"
python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["ok"] is True' "$tmp/out"
status=0
"$bin" run fixtures/runtime/rack.json --driver libvirt 2>"$tmp/err" || status=$?
[ $status = 2 ] && grep -q "without the libvirt driver" "$tmp/err" ||
    fail "the release binary should say it has no libvirt driver (exit $status)"
bash -c "source '$rel/completions/haplan.bash' && complete -p haplan" | grep -q haplan ||
    fail "the bash completions do not load"
grep -q 'haplan' "$rel/completions/_haplan" && grep -q 'complete -c haplan' "$rel/completions/haplan.fish" ||
    fail "zsh or fish completions missing"
for page in haplan haplan-check haplan-headroom haplan-completions; do
    head -n 5 "$rel/man/$page.1" | grep -q "^\.TH $page" || fail "man/$page.1 is not a manual page"
done
echo "packaging: release tarball $(basename "$tarball") ok"

# --- The GitHub Action ---------------------------------------------------
mkdir -p "$tmp/action/pools"
cp fixtures/basic/demo.json "$tmp/action/pools/ok-pool.json"
cp fixtures/citrix/two-hosts-two-vms-each.json "$tmp/action/pools/bad-pool.json"
run_action() { # inputs as NAME=VALUE...; prints the log, returns the job's status
    (cd "$tmp/action" && python3 - "$root/action.yml" "$@" <<'PY'
import os, re, subprocess, sys, tempfile, yaml
action = yaml.safe_load(open(sys.argv[1]))
inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
inputs.update(a.split("=", 1) for a in sys.argv[2:])
expr = lambda s: re.sub(r"\$\{\{\s*inputs\.([a-z_-]+)\s*\}\}", lambda m: inputs[m.group(1)], s)
env = dict(os.environ, GITHUB_ACTION_PATH=os.path.dirname(sys.argv[1]), RUNNER_TEMP=tempfile.mkdtemp())
assert action["runs"]["using"] == "composite"
for step in action["runs"]["steps"]:
    files = {n: tempfile.mktemp() for n in ("GITHUB_ENV", "GITHUB_OUTPUT")}
    for f in files.values(): open(f, "w").close()
    step_env = dict(env, **files, **{k: expr(str(v)) for k, v in step.get("env", {}).items()})
    r = subprocess.run([step["shell"], "-e", "-c", step["run"]], env=step_env)
    env.update(l.split("=", 1) for l in open(files["GITHUB_ENV"]).read().splitlines() if "=" in l)
    print("outputs:", open(files["GITHUB_OUTPUT"]).read().strip(), flush=True)
    if r.returncode != 0:
        sys.exit(r.returncode)
PY
    )
}
status=0
run_action pools="pools/ok-pool.json pools/bad-pool.json" >"$tmp/action.log" 2>&1 || status=$?
[ $status != 0 ] || fail "the action passed a pool that is overcommitted"
grep -q '^::error file=pools/bad-pool.json,title=haplan::OVERCOMMITTED' "$tmp/action.log" &&
    grep -q '^::notice file=pools/ok-pool.json,title=haplan::OK' "$tmp/action.log" &&
    grep -q '^outputs: failed=1$' "$tmp/action.log" || { cat "$tmp/action.log" >&2; fail "the action's annotations"; }
run_action pools="pools/ok-*.json" tolerate=1 haplan="$bin" >"$tmp/action.log" 2>&1 ||
    { cat "$tmp/action.log" >&2; fail "the action failed a pool that tolerates K"; }
echo "packaging: GitHub Action ok"

# --- The pre-commit hook -------------------------------------------------
hookrepo=$tmp/hookrepo
mkdir -p "$hookrepo/pools"
cp fixtures/basic/demo.json "$hookrepo/pools/ok-pool.json"
export GIT_AUTHOR_NAME=haplan GIT_AUTHOR_EMAIL=haplan@localhost GIT_COMMITTER_NAME=haplan GIT_COMMITTER_EMAIL=haplan@localhost
git -C "$hookrepo" init --quiet
git -C "$hookrepo" add pools
export PRE_COMMIT_HOME=$tmp/pre-commit-home
try_hook() { (cd "$hookrepo" && PATH=$rel:$PATH pre-commit try-repo "$root" haplan-check --all-files) >"$tmp/hook.log" 2>&1; }
try_hook || { cat "$tmp/hook.log" >&2; fail "the hook refused a pool that tolerates K"; }
cp fixtures/citrix/two-hosts-two-vms-each.json "$hookrepo/pools/bad-pool.json"
git -C "$hookrepo" add pools
status=0
try_hook || status=$?
[ $status = 1 ] && grep -q "OVERCOMMITTED: pool citrix-2x2" "$tmp/hook.log" ||
    { cat "$tmp/hook.log" >&2; fail "the hook let an overcommitted pool through (exit $status)"; }
echo "packaging: pre-commit hook ok"

# --- The Python wheel and sdist ------------------------------------------
python3 -m maturin build --quiet --release --locked --manifest-path python/Cargo.toml --out "$tmp/wheels" >/dev/null 2>&1 ||
    python3 -m maturin build --release --locked --manifest-path python/Cargo.toml --out "$tmp/wheels"
wheel=$(echo "$tmp"/wheels/haplan-*.whl)
case "$wheel" in *-abi3-*) ;; *) fail "not an abi3 wheel: $wheel" ;; esac
python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-index --ignore-installed "$wheel"
(cd "$tmp" && "$tmp/venv/bin/python" -c 'import haplan, sys; assert haplan.__file__.startswith(sys.prefix), haplan.__file__')
(cd "$tmp" && "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests")
echo "packaging: wheel $(basename "$wheel") ok"
python3 -m maturin sdist --manifest-path python/Cargo.toml --out "$tmp/sdist" >/dev/null
sdist=$(echo "$tmp"/sdist/haplan-*.tar.gz)
python3 -m venv --system-site-packages "$tmp/venv-sdist"
PIP_ROOT_USER_ACTION=ignore "$tmp/venv-sdist/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps --no-build-isolation --ignore-installed "$sdist"
(cd "$tmp" && "$tmp/venv-sdist/bin/python" - "$root" <<'PY'
import sys, haplan
assert haplan.__file__.startswith(sys.prefix), haplan.__file__
r = haplan.Pool.load(sys.argv[1] + "/fixtures/citrix/two-hosts-two-vms-each.json").check()
assert (r.max_tolerable, r.verdict) == (0, "not_ok"), r
PY
)
echo "packaging: sdist $(basename "$sdist") ok"
