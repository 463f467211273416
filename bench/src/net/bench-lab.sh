#!/bin/sh
# The 64-byte transmit benchmark, run inside the lab (one boot, one NIC pair):
#   node packages/cli/bin/vfio-node.js lab run --nvme none --nics 2 --out /tmp/net-bench -- sh bench/src/net/bench-lab.sh
# With `--nic packed=on` on the lab and NET_BENCH_PACKED=1 (sh -c 'NET_BENCH_PACKED=1 sh bench/...'),
# testpmd runs on packed rings, pktgen with --packed on packed rings and by default on split rings.
# One vfio-node `count` drains NIC1 throughout (QEMU's hub stops a sender whose peer
# does not drain). On NIC0, rounds alternate: vfio-node pktgen, pktgen without
# EVENT_IDX, pktgen on split rings (when packed is offered) and DPDK testpmd txonly,
# each for $SECS seconds, so that all generators see the same (noisy, shared-CPU)
# conditions. Per-second rates go to $VFIO_LAB_OUT; bench-summary.mjs prints medians
# and ratios at the end.
set -u
SECS=${NET_BENCH_SECONDS:-10}
ROUNDS=${NET_BENCH_ROUNDS:-2}
set -- $VFIO_LAB_NICS
NIC0=$1 NIC1=$2
OUT=${VFIO_LAB_OUT:-/tmp}
# The apps straight from the sources (until the workspace build has the bench package).
NET="node_modules/.pnpm/node_modules/.bin/vite-node --config vitest.config.ts bench/src/net/main.ts --"
node packages/cli/bin/vfio-node.js net --help > /dev/null 2>&1 && NET="node packages/cli/bin/vfio-node.js net"
echo "apps: $NET"
# testpmd writes under /var/run/dpdk (the overlay root is writable; a tmpfs on /run would hide $VFIO_LAB_OUT).
mkdir -p /var/run/dpdk /dev/hugepages && mount -t hugetlbfs none /dev/hugepages
VARIANTS="default --idle-sleep=50 --js-tx --no-event-idx"
# NET_BENCH_PACKED=1 (with a lab booted with --nic packed=on): also pktgen --packed (packed rings; the default is split).
[ "${NET_BENCH_PACKED:-0}" = 1 ] && VARIANTS="$VARIANTS --packed"
# NET_BENCH_VARIANTS="default --no-event-idx" runs only those pktgen variants.
VARIANTS=${NET_BENCH_VARIANTS:-$VARIANTS}

$NET count "$NIC1" --json > "$OUT/count.jsonl" 2> "$OUT/count.err" &
COUNT_PID=$!
for _ in $(seq 1 240); do grep -q ready "$OUT/count.err" 2>/dev/null && break; sleep 1; done
grep -q ready "$OUT/count.err" || { echo "count did not start"; cat "$OUT/count.err"; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
  for v in $VARIANTS; do
    if [ "$v" = default ]; then flag= name=pktgen; else flag=$v name=pktgen$v; fi
    echo "== round $r: vfio-node pktgen --size 64 --duration $SECS $flag"
    timeout 300 $NET pktgen "$NIC0" --size 64 --duration "$SECS" $flag --json > "$OUT/$name-$r.jsonl" 2> "$OUT/$name-$r.err"
    tail -n 1 "$OUT/$name-$r.jsonl"
  done
  echo "== round $r: dpdk-testpmd txonly --txpkts=64 for $SECS s"
  # testpmd needs tens of seconds to start under TCG: give it $SECS more, then SIGINT
  # (it stops, prints its totals and exits). Compare its per-second Tx-pps with pktgen's.
  timeout -s INT "$((SECS + ${TESTPMD_STARTUP:-60}))" dpdk-testpmd -l 0-1 -n 1 -a "$NIC0" -- --forward-mode=txonly --txpkts=64 --burst=32 \
    --auto-start --stats-period 1 --txd=256 --rxd=256 --total-num-mbufs=8192 --nb-cores=1 < /dev/null > "$OUT/testpmd-$r.txt" 2>&1
  grep -E "Tx-pps" "$OUT/testpmd-$r.txt" | tail -n "$SECS"
done
kill -INT "$COUNT_PID"; sleep 5; kill -KILL "$COUNT_PID" 2>/dev/null; wait "$COUNT_PID"
tail -n 1 "$OUT/count.jsonl"
node bench/src/net/bench-summary.mjs "$OUT" "${NET_BENCH_WARMUP:-5}"
