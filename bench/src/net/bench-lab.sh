#!/bin/sh
# The 64-byte transmit benchmark, run inside the lab (one boot, one NIC pair):
#   node packages/cli/bin/vfio-node.js lab run --nvme none --nics 2 --out /tmp/net-bench -- sh bench/src/net/bench-lab.sh
# Round 1: vfio-node pktgen on NIC0. Round 2: DPDK testpmd txonly on NIC0. In both the
# same vfio-node count drains NIC1 (QEMU's hub stops a sender whose peer does not
# drain) and checks what arrives. Results go to $VFIO_LAB_OUT.
set -u
SECS=${NET_BENCH_SECONDS:-15}
set -- $VFIO_LAB_NICS
NIC0=$1 NIC1=$2
OUT=${VFIO_LAB_OUT:-/tmp}
# The apps straight from the sources (until the workspace build has the bench package).
NET="node_modules/.pnpm/node_modules/.bin/vite-node --config vitest.config.ts bench/src/net/main.ts --"
[ -x packages/cli/dist/commands/net.js ] && NET="node packages/cli/bin/vfio-node.js net"

drain() { # start count on NIC1, wait for its ready line
  rm -f "$OUT/ready.$1"
  $NET count "$NIC1" --json > "$OUT/count-$1.jsonl" 2> "$OUT/count-$1.err" &
  COUNT_PID=$!
  for _ in $(seq 1 240); do grep -q ready "$OUT/count-$1.err" 2>/dev/null && return 0; sleep 1; done
  echo "count did not start"; cat "$OUT/count-$1.err"; return 1
}
stop_drain() { kill -INT "$COUNT_PID"; sleep 5; kill -KILL "$COUNT_PID" 2>/dev/null; wait "$COUNT_PID"; }

echo "== vfio-node pktgen, 64-byte frames, $SECS s"
drain pktgen || exit 1
timeout 300 $NET pktgen "$NIC0" --size 64 --duration "$SECS" --json > "$OUT/pktgen.jsonl" 2> "$OUT/pktgen.err"
echo "pktgen exit $?"
sleep 1
stop_drain
tail -n 3 "$OUT/pktgen.jsonl"; tail -n 1 "$OUT/count-pktgen.jsonl"

echo "== DPDK testpmd txonly, 64-byte frames, $SECS s"
# testpmd writes under /var/run/dpdk (the overlay root is writable; a tmpfs on /run would hide $VFIO_LAB_OUT).
mkdir -p /var/run/dpdk /dev/hugepages && mount -t hugetlbfs none /dev/hugepages
drain testpmd || exit 1
(sleep "$SECS"; echo) | timeout 300 dpdk-testpmd -l 0-1 -n 1 -a "$NIC0" -- --forward-mode=txonly --txpkts=64 --burst=32 \
  --auto-start --stats-period 1 --txd=256 --rxd=256 --total-num-mbufs=8192 --nb-cores=1 > "$OUT/testpmd.txt" 2>&1
echo "testpmd exit $?"
sleep 1
stop_drain
grep -E "Tx-pps|TX-packets" "$OUT/testpmd.txt" | tail -n 4; tail -n 1 "$OUT/count-testpmd.jsonl"
