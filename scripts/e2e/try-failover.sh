#!/usr/bin/env bash
# A real failover in one minute, on this machine: three simulated hosts
# (libvirtd with libvirt's test driver, each powered by its own IPMI BMC),
# two protected VMs and a best-effort one on h1, the HA runtime watching
# them through libvirt and fence_ipmilan. After a few seconds h1 loses its
# power; the runtime detects it, has a peer confirm, fences it through its
# BMC, restarts its VMs on the other hosts in start order, and libvirt shows
# where each VM runs at the end. Everything started is stopped on exit.
#
#   bash scripts/e2e/try-failover.sh          (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/deps.sh
# The runtime against libvirt is the CLI's feature `drivers`.
cargo build --release --locked --quiet -p haplan-cli --features drivers
haplan=$PWD/target/release/haplan
dir=$(mktemp -d /tmp/haplan-try.XXXXXX)
cleanup() { bash scripts/e2e/bench.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM

bash scripts/e2e/bench.sh start 3 "$dir" --owner $$ >/dev/null
uri() { echo "test+unix:///default?socket=$dir/$1/libvirt-sock"; }
for vm in db:512 app:512 batch:256; do
    name=${vm%%:*} mib=${vm##*:}
    echo "<domain type='test'><name>$name</name><memory unit='MiB'>$mib</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>" >"$dir/$name.xml"
    virsh -q -c "$(uri h1)" define "$dir/$name.xml" >/dev/null
    virsh -q -c "$(uri h1)" start "$name" >/dev/null
done
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
pool = json.load(open(f"{d}/pool.json"))
for h in pool["hosts"]:
    # Peers reach a host straight; the runtime goes through its management relay.
    h["labels"]["libvirt_peer_uri"] = f"test+unix:///default?socket={d}/{h['name']}/libvirt-sock"
pool["vms"] = [
    {"name": "db", "host": "h1", "demand": {"memory_mib": 512, "vcpus": 1}, "priority": "critical", "order": 0, "start_delay_s": 2},
    {"name": "app", "host": "h1", "demand": {"memory_mib": 512, "vcpus": 1}, "order": 1},
    {"name": "batch", "host": "h1", "demand": {"memory_mib": 256, "vcpus": 1}, "restart": "best_effort"},
]
json.dump(pool, open(f"{d}/pool-vms.json", "w"), indent=1)
PY
echo "== the pool ($dir/pool-vms.json): h1 runs db, app, batch; health checks every 1 s, down after 2 misses"
"$haplan" check "$dir/pool-vms.json" | head -2
echo "== the runtime, watching (h1 loses power at 4 s)"
"$haplan" run "$dir/pool-vms.json" --driver libvirt --until 14 --log "$dir/runtime.log" &
runner=$!
sleep 4
bash scripts/e2e/bench.sh power-off "$dir" h1 >/dev/null
wait $runner
echo "== where libvirt says each VM runs now"
for h in h2 h3; do
    echo "$h: $(virsh -q -c "$(uri "$h")" list --name | tr '\n' ' ')"
done
echo "== the runtime's log: $(wc -l <"$dir/runtime.log") steps (removed on exit)"
