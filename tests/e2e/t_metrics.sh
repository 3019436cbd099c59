#!/bin/bash
# tests/e2e/t_metrics.sh -- issue 12 end to end, through the real containerd
# and QEMU under TCG: a busy loop's kiln_container_cpu_seconds_total grows
# across `kiln metrics` scrapes, the text (and `kiln monitor`'s) parses
# with Debian's prometheus_client, `kiln top` sees the loop, a real
# Prometheus scrapes `kiln monitor` and answers a query for a
# kiln_container_ series, `ctr task metrics` still works, the idle shim
# does not wake up for metrics, and the socket goes with `ctr task rm`
# and with a shim killed by SIGKILL (containerd's `delete` cleans up).
set -uo pipefail

HERE=$(cd "$(dirname -- "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib/tap.sh"
source "$HERE/lib/containerd.sh"
BUILD=${KILN_BUILD:-$ROOT/build/debug}
KILN=$BUILD/kiln
IMAGE=docker.io/kiln/busybox:latest
RT=io.containerd.kiln.v1
PY=/usr/bin/python3
export KILN_GUEST_DIR=$ROOT/build/guest
MON_PID= PROM_PID=

cleanup() {
	[[ -z $PROM_PID ]] || kill "$PROM_PID" 2>/dev/null
	[[ -z $MON_PID ]] || kill "$MON_PID" 2>/dev/null
	kiln_containerd_stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The run dir core_run_dir() makes: FNV-1a of "ns/id//".
metrics_sock() {
	$PY -c 'import sys
h = 1469598103934665603
for part in (sys.argv[1], sys.argv[2], ""):
    for c in (part + "/").encode():
        h = ((h ^ c) * 1099511628211) % 2**64
print("/run/kiln/%016x/metrics.sock" % h)' "$1" "$2"
}
running() { kiln_ctr task ls | grep -q "^$1 .*RUNNING"; }
stopped() { kiln_ctr task ls | grep -q "^$1 .*STOPPED"; }
# The value of one series (name{labels}) in a file of Prometheus text.
value_of() {
	$PY -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as p
want = dict(kv.split("=") for kv in sys.argv[3:])
for f in p(open(sys.argv[1]).read()):
    for s in f.samples:
        if s.name == sys.argv[2] and all(s.labels.get(k) == v for k, v in want.items()):
            print(s.value)
            sys.exit(0)
sys.exit(1)' "$@"
}
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the old tools through kiln ------------------------------------------------
[[ -n $("$KILN" fsm list) && $("$KILN" fsm list) == $("$BUILD/kiln-fsm" list) ]]
ok $? "kiln fsm list is kiln-fsm list"
"$KILN" fsmcheck >/dev/null 2>&1
r1=$?
"$BUILD/kiln-fsmcheck" >/dev/null 2>&1
[[ $r1 == $? ]]
ok $? "kiln fsmcheck runs kiln-fsmcheck (status $r1)"

dir=$(mktemp -d /tmp/kiln-met-XXXXXX)
kiln_containerd_start "$dir" "$BUILD" >/dev/null &&
	"$HERE/lib/mkbusybox-oci.sh" "$dir/bb.tar" >/dev/null &&
	kiln_ctr images import "$dir/bb.tar" >/dev/null
ok $? "private containerd up, image imported"

kiln_ctr run -d --runtime "$RT" "$IMAGE" busy sh -c 'while :; do :; done' \
	>/dev/null 2>&1
wait_for 180 running busy
ok $? "a busy-loop container runs"
sock=$(metrics_sock default busy)
[[ -S $sock ]]
ok $? "its shim serves metrics at $sock"

# ---- kiln metrics -----------------------------------------------------------
wait_for 60 sh -c "'$KILN' metrics busy > '$dir/m1.prom' 2>/dev/null"
ok $? "kiln metrics busy answers"
t0=$(date +%s%N)
"$KILN" metrics -n default busy >"$dir/m1.prom" 2>"$dir/m1.err"
t1=$(date +%s%N)
diag "one scrape through the shim and the guest: $(((t1 - t0) / 1000000)) ms"
sleep 3
"$KILN" metrics -n default busy >"$dir/m2.prom" 2>>"$dir/m1.err"
c1=$(value_of "$dir/m1.prom" kiln_container_cpu_seconds_total container=busy namespace=default)
c2=$(value_of "$dir/m2.prom" kiln_container_cpu_seconds_total container=busy namespace=default)
diag "cpu seconds: $c1 -> $c2 in 3 s"
$PY -c "import sys; sys.exit(0 if float('$c2') - float('$c1') > 0.5 else 1)" 2>/dev/null
ok $? "kiln_container_cpu_seconds_total grows under a busy loop ($c1 -> $c2)"
$PY -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as p
fs = {f.name: f for f in p(open(sys.argv[1]).read())}
need = ["kiln_container_cpu_seconds", "kiln_container_runqueue_latency_seconds",
    "kiln_container_oom_kills", "kiln_container_memory_bytes",
    "kiln_shim_agent_call_seconds", "kiln_shim_qmp_call_seconds",
    "kiln_shim_fsm_transitions", "kiln_vm_vcpus", "kiln_vm_memory_bytes"]
missing = [n for n in need if n not in fs]
assert not missing, missing
assert fs["kiln_container_runqueue_latency_seconds"].type == "histogram"
assert fs["kiln_shim_agent_call_seconds"].type == "histogram"
a = [s for s in fs["kiln_shim_agent_call_seconds"].samples if s.name.endswith("_count")]
assert a[0].value > 0, a
m = {s.labels["machine"] for s in fs["kiln_shim_fsm_transitions"].samples}
assert {"task", "vm"} <= m, m
' "$dir/m2.prom" 2>"$dir/py.err"
ok $? "kiln metrics' text parses with prometheus_client: container, agent, QMP and FSM series ($(tail -1 "$dir/py.err"))"
"$KILN" metrics -n other busy >/dev/null 2>&1
[[ $? != 0 ]]
ok $? "kiln metrics of a container that is not there fails"

# ---- block I/O, network and reclaim (eBPF) ---------------------------------
# Exec'ing busybox reads it from the rootfs disk (EROFS on virtio-blk);
# nc over loopback passes the cgroup_skb programs both ways; a 96 MiB file
# in the tmpfs upper layer under a 64 MiB limit makes the cgroup reclaim
# (and OOM-kill dd). Then the busy container's counters are compared.
kiln_ctr run -d --runtime "$RT" --memory-limit $((64 << 20)) "$IMAGE" io sh -c \
	'nc -l -p 7000 >/dev/null & sleep 1; head -c 65536 /dev/zero |
	 nc 127.0.0.1 7000; cat /bin/busybox >/dev/null
	 dd if=/dev/zero of=/fill bs=1M count=96 2>/dev/null; touch /done
	 sleep 600' >/dev/null 2>&1
io_done() { kiln_ctr task exec --exec-id d$RANDOM io test -e /done 2>/dev/null; }
wait_for 180 io_done
ok $? "a container reads its disk, talks over loopback and fills its memory"
"$KILN" metrics -n default io >"$dir/io.prom" 2>>"$dir/m1.err"
$PY -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as p
v = {s.name: s.value for f in p(open(sys.argv[1]).read()) for s in f.samples
     if s.labels.get("container") == "io" and "le" not in s.labels}
need = ["kiln_container_blkio_read_bytes_total", "kiln_container_blkio_reads_total",
    "kiln_container_blkio_latency_seconds_count",
    "kiln_container_network_transmit_bytes_total",
    "kiln_container_network_receive_bytes_total",
    "kiln_container_network_transmit_packets_total",
    "kiln_container_direct_reclaims_total",
    "kiln_container_direct_reclaim_seconds_total"]
print(" ".join("%s=%g" % (n[15:], v.get(n, -1)) for n in need))
sys.exit(0 if all(v.get(n, 0) > 0 for n in need) else 1)
' "$dir/io.prom" >"$dir/io.txt" 2>&1
ok $? "eBPF block I/O, network and reclaim counters of that container ($(cat "$dir/io.txt"))"
kiln_ctr task rm -f io >/dev/null 2>&1
kiln_ctr rm io >/dev/null 2>&1

# ---- the idle shim ------------------------------------------------------------
shim=$(pgrep -f "containerd-shim-kiln-v1 -namespace default -id busy -address $dir" | head -1)
if [[ -n $shim ]]; then
	w0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$shim/status")
	sleep 5
	w1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$shim/status")
	diag "shim $shim: $((w1 - w0)) voluntary wake-ups in 5 s without scrapes"
	((w1 - w0 <= 5))
	ok $? "the shim does not wake up between scrapes ($((w1 - w0)) in 5 s)"
else
	ok 1 "the shim's pid is found"
fi

# ---- kiln top -------------------------------------------------------------------
"$KILN" top --once -n default >"$dir/top.txt" 2>"$dir/top.err"
diag "$(cat "$dir/top.txt")"
grep -q "^default  *busy " "$dir/top.txt"
ok $? "kiln top --once lists the container"
"$KILN" top --json -n default >"$dir/top.json" 2>>"$dir/top.err"
$PY -c 'import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["container"] == "busy"]
assert len(rows) == 1, rows
r = rows[0]
assert r["cpu_percent"] > 20, r
assert r["vcpus"] == 1 and r["vm_memory_bytes"] > 0 and r["memory_bytes"] > 0, r
assert r["blkio_bytes_per_second"] >= 0 and r["network_bytes_per_second"] >= 0, r
' "$dir/top.json" 2>"$dir/py.err"
ok $? "kiln top --json: the busy loop uses CPU, 1 vCPU, memory ($(tail -1 "$dir/py.err"))"

# ---- kiln monitor and a real Prometheus ----------------------------------------
port=$(free_port)
"$KILN" monitor --listen "127.0.0.1:$port" 2>"$dir/monitor.log" &
MON_PID=$!
wait_for 10 curl -sf -o "$dir/mon.prom" "http://127.0.0.1:$port/metrics"
ok $? "kiln monitor serves http://127.0.0.1:$port/metrics"
t0=$(date +%s%N)
curl -sf -D "$dir/mon.hdr" -o "$dir/mon.prom" "http://127.0.0.1:$port/metrics"
t1=$(date +%s%N)
diag "one monitor scrape: $(((t1 - t0) / 1000000)) ms"
grep -qi '^content-type: text/plain; version=0.0.4' "$dir/mon.hdr"
ok $? "its Content-Type is text/plain; version=0.0.4"
$PY -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as p
fs = list(p(open(sys.argv[1]).read()))
names = [f.name for f in fs]
assert len(names) == len(set(names)), "a family twice"
c = [s for f in fs if f.name == "kiln_container_cpu_seconds" for s in f.samples
    if s.labels.get("container") == "busy"]
assert c, "no busy"
' "$dir/mon.prom" 2>"$dir/py.err"
ok $? "kiln monitor's text parses with prometheus_client, one family each ($(tail -1 "$dir/py.err"))"

if command -v prometheus >/dev/null; then
	pport=$(free_port)
	mkdir -p "$dir/prom"
	cat >"$dir/prom.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: kiln
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF
	prometheus --config.file="$dir/prom.yml" --storage.tsdb.path="$dir/prom" \
		--web.listen-address="127.0.0.1:$pport" >"$dir/prom.log" 2>&1 &
	PROM_PID=$!
	q="http://127.0.0.1:$pport/api/v1/query?query=kiln_container_cpu_seconds_total%7Bcontainer%3D%22busy%22%7D"
	has_series() {
		curl -sf "$q" -o "$dir/q.json" &&
			$PY -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["data"]["result"] else 1)' "$dir/q.json"
	}
	wait_for 90 has_series
	ok $? "Prometheus scrapes kiln monitor: kiln_container_cpu_seconds_total{container=\"busy\"} is queryable"
	diag "$(head -c 300 "$dir/q.json" 2>/dev/null)"
	kill "$PROM_PID"
	wait "$PROM_PID" 2>/dev/null
	PROM_PID=
else
	ok 1 "prometheus is installed (make deps)"
fi
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null
MON_PID=

# ---- ctr task metrics still works ------------------------------------------------
kiln_ctr task metrics busy >"$dir/ctr.txt" 2>&1
u=$(awk '$1 == "cpu.usage_usec" {print $2}' "$dir/ctr.txt")
[[ -n $u && $u -gt 0 ]]
ok $? "ctr task metrics: cpu.usage_usec $u"

# ---- cleanup paths ---------------------------------------------------------------
kiln_ctr task kill -s KILL busy >/dev/null 2>&1
wait_for 60 stopped busy
kiln_ctr task rm busy >/dev/null 2>&1
[[ ! -e $sock ]]
ok $? "ctr task rm removes the metrics socket"
kiln_ctr rm busy >/dev/null 2>&1
[[ ! -e $(dirname "$sock") ]]
ok $? "ctr rm: the run dir is gone too"

kiln_ctr run -d --runtime "$RT" "$IMAGE" victim sleep 600 >/dev/null 2>&1
wait_for 180 running victim
vsock=$(metrics_sock default victim)
shim=$(pgrep -f "containerd-shim-kiln-v1 -namespace default -id victim -address $dir" | head -1)
[[ -S $vsock && -n $shim ]] && kill -9 "$shim"
wait_for 90 sh -c "[ ! -e '$vsock' ]"
ok $? "a shim killed by SIGKILL: containerd's delete removes its metrics socket"
kiln_ctr task rm -f victim >/dev/null 2>&1
kiln_ctr rm victim >/dev/null 2>&1
# Built with ASan (make check FLAVOUR=asan), shims report into this log.
! grep -q 'Sanitizer' "$dir/containerd.log"
ok $? "no AddressSanitizer or LeakSanitizer report from a shim"
grep -m3 -A20 'Sanitizer' "$dir/containerd.log" | sed 's/^/# /'

tap_done
