#!/usr/bin/env bash
# The end-to-end bench: simulated hypervisor hosts on loopback, each with a
# BMC that really powers it off, for the drivers' and the runtime's tests.
#
#   bench.sh start N DIR [--refuse HOST]... [--refuse-first HOST]... [--owner PID]
#   bench.sh stop DIR
#   bench.sh power-off DIR HOST   the BMC powers the host off (libvirtd is killed)
#   bench.sh power-on DIR HOST    the BMC powers it on again (a fresh libvirtd)
#   bench.sh crash DIR HOST       the host dies (SIGKILL to its libvirtd); its BMC then reports off
#   bench.sh isolate DIR HOST     the management network to the host is lost
#   bench.sh heal DIR HOST        ... and comes back
#   bench.sh status DIR           one line per host: power, management reachable or not
#
# Host hN (h1..hN) is a libvirtd running libvirt's built-in test driver (it
# pretends to run domains; no QEMU) with its own sockets under DIR/hN, started
# by its own OpenIPMI ipmi_sim BMC on a UDP port of 127.0.0.1. Power off at
# the BMC kills that libvirtd, so a fence really stops the host.
#
# Management traffic goes through a per-host relay (socat, DIR/hN/mgmt-sock to
# DIR/hN/libvirt-sock): `isolate` freezes the relay with SIGSTOP, so the host
# and its domains keep running and its BMC still answers, but every packet to
# or from its libvirtd is held, like a cut network: open connections hang
# and new ones never complete, and health checks time out rather than fail
# fast. `heal` lets the held traffic through. (Freezing libvirtd itself would
# be a hung host instead, and would stop the domains' keeper too.)
#
# The test driver keeps its domains only while a connection to it is open, so
# each host also has a keeper: a `virsh event --loop` connection, reopened
# whenever the host comes back, that also removes the driver's built-in
# domain so that every host starts empty.
#
# `start` writes DIR/pool.json (a haplan pool describing the hosts: capacity,
# storage pools, networks, the management URI in labels.libvirt_uri, and
# fencing by fence_ipmilan at the host's BMC) and DIR/bench.json (ports,
# credentials, process group ids). Every process the bench starts runs in a
# process group of its own, recorded in DIR/pgids before anything else
# happens; `stop` ends exactly those groups (checking that each still belongs
# to this bench), and `start` stops whatever it started if it fails. With
# --owner PID, a watchdog stops the bench when that process ends, so a killed
# test run leaves nothing behind.
#
# --refuse HOST: HOST's only fencing level has a wrong password (fencing it
# fails). --refuse-first HOST: a wrong-password level comes first, the right
# one second.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
# libvirt's test driver starts with this domain; the bench removes it.
TEST_DOMAIN_UUID=6695eb01-f6a4-8304-79aa-97f2502e193f
BMC_USER=admin

die() {
    echo "bench: $*" >&2
    exit 1
}

usage() {
    sed -n '5,12p' "$SELF" | sed 's/^#  *//' >&2
    exit 2
}

find_bin() {
    local b=$1 d
    if command -v "$b" >/dev/null 2>&1; then
        command -v "$b"
        return 0
    fi
    for d in /usr/sbin /sbin /usr/local/sbin /usr/local/bin; do
        if [ -x "$d/$b" ]; then
            echo "$d/$b"
            return 0
        fi
    done
    return 1
}

check_dir_name() {
    case "$1" in
    *[!A-Za-z0-9._/-]*) die "directory $1: only letters, digits and ._/- please (it ends up in config files and URIs)" ;;
    esac
}

check_host() {
    local dir=$1 host=$2
    case "$host" in
    h[0-9]*) ;;
    *) die "unknown host $host" ;;
    esac
    [ -f "$dir/$host/host.env" ] || die "unknown host $host in $dir"
}

# Process group of a pid (empty if gone).
pgid_of() {
    ps -o pgid= -p "$1" 2>/dev/null | tr -d ' '
}

# Whether process group $1 still has a live (non-zombie) member.
group_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# Whether process group $1 has a member whose command line names bench dir $2
# (so that a recycled group id is never signalled).
group_is_ours() {
    local pid
    for pid in $(ps -e -o pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2/"; then
            return 0
        fi
    done
    return 1
}

# Starts a command in a session (and process group) of its own and records
# the group in $DIR/pgids as "PGID ROLE HOST" (HOST "-" for the bench's own).
spawn() {
    local role=$1 host=$2 log=$3
    shift 3
    setsid "$@" >"$log" 2>&1 </dev/null &
    echo "$! $role $host" >>"$DIR/pgids"
}

# The process group of a role (of a host) in bench dir $1.
group_of() {
    awk -v r="$2" -v h="$3" '$2 == r && $3 == h { print $1 }' "$1/pgids"
}

wait_for() {
    local what=$1 secs=$2
    shift 2
    # Counted in time, not tries: each try runs a virsh or ipmitool, which
    # can take long on a loaded machine.
    local end=$((SECONDS + secs))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        [ "$SECONDS" -lt "$end" ] || break
        sleep 0.05
    done
    die "$what: not ready after $secs s"
}

ipmi() {
    local dir=$1 host=$2
    shift 2
    # shellcheck disable=SC1090
    . "$dir/$host/host.env"
    IPMI_PASSWORD=$BMC_PASSWORD ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$BMC_PORT" \
        -U "$BMC_USER" -E -N 1 -R 2 "$@"
}

power_is() {
    ipmi "$1" "$2" chassis power status 2>/dev/null | grep -q "is $3\$"
}

libvirtd_pid() {
    local f=$1/$2/libvirtd.pid pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/$2/" || return 1
    echo "$pid"
}

libvirtd_gone() {
    ! libvirtd_pid "$1" "$2" >/dev/null
}

virsh_ok() {
    virsh -q -c "$1" version
}

# Free loopback ports: $1 UDP ones then $1 TCP ones, all distinct.
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
n = int(sys.argv[1])
held, ports = [], []
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    for _ in range(n):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        held.append(s)
        ports.append(s.getsockname()[1])
print(" ".join(map(str, ports)))
EOF
}

random_word() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

json_list() {
    local first=1 x
    printf '['
    for x in "$@"; do
        [ $first -eq 1 ] || printf ', '
        first=0
        printf '"%s"' "$x"
    done
    printf ']'
}

fence_level() {
    local port=$1 password=$2
    printf '{"agent": "fence_ipmilan", "params": {"ip": "127.0.0.1", "ipport": "%s", "username": "%s", "password": "%s", "lanplus": "1", "cipher": "3", "power_wait": "0"}}' \
        "$port" "$BMC_USER" "$password"
}

cmd_start() {
    [ $# -ge 2 ] || usage
    local n=$1
    DIR=$2
    shift 2
    local refuse=" " refuse_first=" " owner=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --refuse) refuse+="$2 " && shift 2 ;;
        --refuse-first) refuse_first+="$2 " && shift 2 ;;
        --owner) owner=$2 && shift 2 ;;
        *) usage ;;
        esac
    done
    case "$n" in
    '' | *[!0-9]*) die "N must be a number" ;;
    esac
    [ "$n" -ge 1 ] && [ "$n" -le 64 ] || die "N must be between 1 and 64"

    local missing=() b
    for b in libvirtd virsh ipmi_sim ipmitool fence_ipmilan socat python3 setsid; do
        find_bin "$b" >/dev/null || missing+=("$b")
    done
    [ ${#missing[@]} -eq 0 ] ||
        die "missing programs: ${missing[*]} (scripts/deps.sh installs the Debian packages)"
    local libvirtd
    libvirtd=$(find_bin libvirtd)

    check_dir_name "$DIR"
    if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR exists and is not empty"
    fi
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    check_dir_name "$DIR"
    # Unix socket paths are limited to 107 bytes.
    [ ${#DIR} -le 80 ] || die "$DIR is too long for unix socket paths (80 characters at most)"
    : >"$DIR/pgids"
    trap 'status=$?; if [ $status -ne 0 ]; then echo "bench: start failed, stopping what it started" >&2; cmd_stop "$DIR" || true; fi' EXIT

    local ports
    read -r -a ports <<<"$(free_ports "$n")"
    local password
    password=$(random_word 8)

    local i h port serial
    for ((i = 1; i <= n; i++)); do
        h=$DIR/h$i
        port=${ports[$((i - 1))]}
        serial=${ports[$((n + i - 1))]}
        mkdir -p "$h/drivers" "$h/bmc-state"
        cat >"$h/host.env" <<EOF
BMC_PORT=$port
BMC_PASSWORD=$password
EOF
        cat >"$h/libvirtd.conf" <<EOF
unix_sock_dir = "$h"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:stderr"
EOF
        # The BMC's "power": this program runs while the host is on.
        cat >"$h/power.sh" <<EOF
#!/bin/sh
# No hypervisor drivers but the built-in test driver (the QEMU one would need
# a libvirt-qemu user and real guests).
exec env LIBVIRT_DRIVER_DIR=$h/drivers $libvirtd -f $h/libvirtd.conf -p $h/libvirtd.pid
EOF
        chmod +x "$h/power.sh"
        cat >"$h/bmc.conf" <<EOF
name "h$i"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcd$(printf '%02x' "$i")
  endlan
  # Without a VM serial channel, ipmi_sim refuses power control.
  serial 15 127.0.0.1 $serial codec VM
  startcmd "$h/power.sh"
  startnow true
  poweroff_wait 1
  kill_wait 2
  user 2 true "$BMC_USER" "$password" admin 10 none md2 md5 straight
EOF
        cat >"$h/bmc.emu" <<'EOF'
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
EOF
        spawn bmc "h$i" "$h/bmc.log" ipmi_sim -n -c "$h/bmc.conf" -f "$h/bmc.emu" -s "$h/bmc-state"
    done

    local pid
    while read -r pid _; do
        # setsid(1) makes the group after the fork: a process just spawned
        # may not have it yet, so wait up to 2 s for it.
        local tries=0
        until [ "$(pgid_of "$pid")" = "$pid" ]; do
            ((++tries <= 40)) || die "process $pid did not get a process group of its own"
            sleep 0.05
        done
    done <"$DIR/pgids"

    local direct mgmt
    for ((i = 1; i <= n; i++)); do
        h=$DIR/h$i
        direct="test+unix:///default?socket=$h/libvirt-sock"
        wait_for "h$i's BMC" 30 power_is "$DIR" "h$i" on
        wait_for "h$i's libvirtd" 30 virsh_ok "$direct"
        spawn keeper "h$i" "$h/keeper.log" bash "$SELF" _keeper "$direct"
        spawn relay "h$i" "$h/relay.log" socat "UNIX-LISTEN:$h/mgmt-sock,fork,unlink-early" "UNIX-CONNECT:$h/libvirt-sock"
    done
    for ((i = 1; i <= n; i++)); do
        h=$DIR/h$i
        mgmt="test+unix:///default?socket=$h/mgmt-sock"
        wait_for "h$i's management relay" 30 virsh_ok "$mgmt"
        wait_for "h$i's keeper" 30 host_is_empty "$mgmt"
    done

    # The pool file and the state file.
    local mem cpus storage networks fencing
    {
        printf '{\n  "format": "haplan/v1",\n  "name": "bench",\n'
        printf '  "ha": {"host_failures_to_tolerate": 1, "check_interval_s": 1, "failure_threshold": 2, "retry_interval_s": 1, "fence_timeout_s": 30},\n'
        printf '  "hosts": [\n'
        for ((i = 1; i <= n; i++)); do
            h=$DIR/h$i
            mgmt="test+unix:///default?socket=$h/mgmt-sock"
            mem=$(virsh -q -c "$mgmt" nodeinfo | awk '/^Memory size:/ { print int($3 / 1024) }')
            cpus=$(virsh -q -c "$mgmt" nodeinfo | awk '/^CPU\(s\):/ { print $2 }')
            # shellcheck disable=SC2046
            storage=$(json_list $(virsh -q -c "$mgmt" pool-list --name | sort))
            networks=$(json_list $( (virsh -q -c "$mgmt" net-list --name && virsh -q -c "$mgmt" iface-list | awk '{ print $1 }') | grep -v '^$' | sort -u))
            port=${ports[$((i - 1))]}
            if [[ "$refuse" == *" h$i "* ]]; then
                fencing="[$(fence_level "$port" "wrong-$password")]"
            elif [[ "$refuse_first" == *" h$i "* ]]; then
                fencing="[$(fence_level "$port" "wrong-$password"), $(fence_level "$port" "$password")]"
            else
                fencing="[$(fence_level "$port" "$password")]"
            fi
            printf '    {"name": "h%s", "capacity": {"memory_mib": %s, "vcpus": %s},\n' "$i" "$mem" "$cpus"
            printf '     "storage": %s, "networks": %s,\n' "$storage" "$networks"
            printf '     "labels": {"libvirt_uri": "%s"},\n' "$mgmt"
            printf '     "fencing": %s}' "$fencing"
            [ "$i" -eq "$n" ] || printf ','
            printf '\n'
        done
        printf '  ],\n  "vms": []\n}\n'
    } >"$DIR/pool.json"

    local watchdog=null
    if [ -n "$owner" ]; then
        # "$DIR/": group_is_ours recognizes it by that.
        spawn watchdog - "$DIR/watchdog.log" bash "$SELF" _watchdog "$DIR/" "$owner"
        watchdog=$(group_of "$DIR" watchdog -)
    fi

    {
        printf '{\n  "dir": "%s",\n  "pool": "%s/pool.json",\n  "watchdog_pgid": %s,\n  "hosts": [\n' "$DIR" "$DIR" "$watchdog"
        for ((i = 1; i <= n; i++)); do
            h=$DIR/h$i
            port=${ports[$((i - 1))]}
            printf '    {"name": "h%s", "dir": "%s",\n' "$i" "$h"
            printf '     "uri": "test+unix:///default?socket=%s/mgmt-sock",\n' "$h"
            printf '     "direct_uri": "test+unix:///default?socket=%s/libvirt-sock",\n' "$h"
            printf '     "libvirtd_pidfile": "%s/libvirtd.pid",\n' "$h"
            printf '     "bmc": {"ip": "127.0.0.1", "port": %s, "username": "%s", "password": "%s"},\n' "$port" "$BMC_USER" "$password"
            printf '     "pgids": {"bmc": %s, "keeper": %s, "relay": %s}}' \
                "$(group_of "$DIR" bmc "h$i")" "$(group_of "$DIR" keeper "h$i")" "$(group_of "$DIR" relay "h$i")"
            [ "$i" -eq "$n" ] || printf ','
            printf '\n'
        done
        printf '  ]\n}\n'
    } >"$DIR/bench.json"
    trap - EXIT
    echo "$DIR/bench.json"
}

host_is_empty() {
    [ -z "$(virsh -q -c "$1" list --all --uuid)" ]
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    local dir=$1
    [ -f "$dir/pgids" ] || return 0
    dir=$(cd "$dir" && pwd)
    local me pg _ groups=()
    me=$(pgid_of $$)
    while read -r pg _; do
        [ -n "$pg" ] || continue
        [ "$pg" != "$me" ] || continue
        group_alive "$pg" || continue
        group_is_ours "$pg" "$dir" || continue
        groups+=("$pg")
    done <"$dir/pgids"
    # A frozen group (an isolated host's relay) must run to act on SIGTERM.
    for pg in "${groups[@]}"; do
        kill -CONT -- "-$pg" 2>/dev/null || true
        kill -TERM -- "-$pg" 2>/dev/null || true
    done
    local i left
    for ((i = 0; i < 60; i++)); do
        left=()
        for pg in "${groups[@]}"; do
            group_alive "$pg" && left+=("$pg")
        done
        [ ${#left[@]} -gt 0 ] || break
        sleep 0.05
    done
    for pg in "${left[@]}"; do
        kill -KILL -- "-$pg" 2>/dev/null || true
    done
    mv "$dir/pgids" "$dir/pgids.stopped"
}

cmd_power_off() {
    [ $# -eq 2 ] || usage
    check_host "$1" "$2"
    ipmi "$1" "$2" chassis power off >/dev/null
    wait_for "$2 powering off" 20 libvirtd_gone "$1" "$2"
}

cmd_power_on() {
    [ $# -eq 2 ] || usage
    check_host "$1" "$2"
    ipmi "$1" "$2" chassis power on >/dev/null
    wait_for "$2's libvirtd" 30 virsh_ok "test+unix:///default?socket=$1/$2/libvirt-sock"
    wait_for "$2's keeper" 30 host_is_empty "test+unix:///default?socket=$1/$2/libvirt-sock"
}

cmd_crash() {
    [ $# -eq 2 ] || usage
    check_host "$1" "$2"
    local pid
    pid=$(libvirtd_pid "$1" "$2") || die "$2 is not running"
    kill -KILL "$pid"
    wait_for "$2 dying" 20 libvirtd_gone "$1" "$2"
}

cmd_isolate() {
    [ $# -eq 2 ] || usage
    check_host "$1" "$2"
    local pg
    pg=$(group_of "$1" relay "$2")
    [ -n "$pg" ] && group_is_ours "$pg" "$(cd "$1" && pwd)" || die "no relay for $2"
    kill -STOP -- "-$pg"
}

cmd_heal() {
    [ $# -eq 2 ] || usage
    check_host "$1" "$2"
    local pg
    pg=$(group_of "$1" relay "$2")
    [ -n "$pg" ] && group_is_ours "$pg" "$(cd "$1" && pwd)" || die "no relay for $2"
    kill -CONT -- "-$pg"
}

cmd_status() {
    [ $# -eq 1 ] || usage
    local dir=$1 h name power mgmt
    for h in "$dir"/h*/; do
        name=$(basename "$h")
        power=$(ipmi "$dir" "$name" chassis power status 2>/dev/null | awk '{ print $NF }')
        if timeout 2 virsh -q -c "test+unix:///default?socket=$h/mgmt-sock" version >/dev/null 2>&1; then
            mgmt=reachable
        else
            mgmt=unreachable
        fi
        echo "$name power=${power:-unknown} management=$mgmt"
    done
}

# Internal: the keeper of one host (see the top of this file).
cmd__keeper() {
    local uri=$1 ev
    while :; do
        virsh -q -c "$uri" event --all --loop >/dev/null 2>&1 &
        ev=$!
        # The test driver keeps its state only while some connection is open,
        # and nothing tells when this keeper's event connection is up. A
        # removal can seem to stick only because another connection (a test's
        # handle) holds the state; when that one closes first, the built-in
        # domain is back. So keep watching for it as long as the event
        # connection lives, not only until the first removal seems to stick.
        while kill -0 "$ev" 2>/dev/null; do
            if virsh -q -c "$uri" list --all --uuid 2>/dev/null | grep -q "$TEST_DOMAIN_UUID"; then
                virsh -q -c "$uri" destroy "$TEST_DOMAIN_UUID" >/dev/null 2>&1 || true
                virsh -q -c "$uri" undefine "$TEST_DOMAIN_UUID" >/dev/null 2>&1 || true
                sleep 0.05
            else
                sleep 0.5
            fi
        done
        wait "$ev" || true
        sleep 0.3
    done
}

# Internal: stops the bench in $1 when process $2 ends.
cmd__watchdog() {
    local dir=${1%/} owner=$2
    while kill -0 "$owner" 2>/dev/null; do
        sleep 1
    done
    cmd_stop "$dir"
}

[ $# -ge 1 ] || usage
sub=$1
shift
case "$sub" in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
power-off) cmd_power_off "$@" ;;
power-on) cmd_power_on "$@" ;;
crash) cmd_crash "$@" ;;
isolate) cmd_isolate "$@" ;;
heal) cmd_heal "$@" ;;
status) cmd_status "$@" ;;
_keeper) cmd__keeper "$@" ;;
_watchdog) cmd__watchdog "$@" ;;
*) usage ;;
esac
