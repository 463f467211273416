#!/bin/sh
# The runtime's own cost per I/O, in instructions (callgrind), inside the lab. From the
# repository root:
#   node packages/cli/bin/vfio-node.js lab run --nvme size=256M --timeout 3600 --out /tmp/cost -- sh bench/cost/run-lab.sh [N] [WARMUP]
# N (default 2000) and WARMUP (default 6000) reads per case; VFIO_COST_N / VFIO_COST_WARMUP
# do the same from the host's environment. See bench/cost/README.md.
set -eu
cd "$(dirname "$0")/../.."
A=${VFIO_LAB_NVME%% *}
OUT=${VFIO_LAB_OUT:-/tmp/cost}
N=${1:-${VFIO_COST_N:-2000}}
W=${2:-${VFIO_COST_WARMUP:-6000}}
CALIB=${VFIO_COST_CALIB:-20000}
# More options of cost.mjs, e.g. VFIO_COST_ARGS='--qd 32 --qd2w none --runtime no' (the direct path at QD32 alone).
EXTRA=${VFIO_COST_ARGS:-}
# --single-threaded-gc: V8 collects garbage on the thread that allocated it, not on its helper
# threads (which have no markers), so a window's figure includes the GC its reads cause.
NODE_FLAGS=${VFIO_COST_NODE_FLAGS---single-threaded-gc}
D=$OUT/callgrind
mkdir -p "$D"
rm -f "$D"/callgrind.out*

echo "== commit $(git rev-parse HEAD 2>/dev/null || cat .commit 2>/dev/null || echo unknown)"
git status --short -- native drivers/nvme packages/runtime packages/core 2>/dev/null | sed 's/^/   changed: /' || true
echo "== $(node --version), $(valgrind --version), NVMe at $A, N=$N, warm-up $W, node flags: $NODE_FLAGS, cost.mjs options: $EXTRA"

# --dump-before=getppid: cost.mjs calls process.ppid (getppid) at each window's end, on the thread
# whose window it is; callgrind then writes that thread's counters since its last dump.
# --smc-check=all-non-file: V8 writes and rewrites machine code in anonymous mappings.
# --fair-sched=yes: the worker spins while I/O is outstanding; a fair lock keeps the main thread running.
# --trace-opt/--trace-deopt with VFIO_COST_TRACE=1: V8's tiering events and the markers on stdout,
# to check that the hot code was optimised during the warm-up, not inside a measured window
# (stdbuf -oL: V8 prints with stdio, line-buffered then, so its lines and the markers keep their order).
export VFIO_COST_TRACE=1
start=$(date +%s)
stdbuf -oL valgrind --tool=callgrind --separate-threads=yes --dump-before=getppid \
  --smc-check=all-non-file --fair-sched=yes \
  --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$D/callgrind.out" --log-file="$OUT/valgrind.log" \
  node $NODE_FLAGS --trace-opt --trace-deopt bench/cost/cost.mjs "$A" --n "$N" --warmup "$W" --calib "$CALIB" $EXTRA --labels "$D/labels.json" >"$OUT/v8-trace.txt"
echo "== callgrind run: $(( $(date +%s) - start )) s"
echo "== V8 optimisations and deoptimisations inside the measured windows (after a warm-up marker, up to the 2N marker):"
awk '/^cost-marker/ { w = $0; inwin = ($0 ~ /warm-up$/ || $0 ~ / N$/) && $0 !~ /idle/; next }
     inwin && /completed optimizing|bailout|deoptimizing|OSR - entry/ { n++; print "   " substr(w, 13) " | " substr($0, 1, 150) }
     END { print "   " (n + 0) " events" }' "$OUT/v8-trace.txt"

node bench/cost/analyze.mjs "$D" "$D/labels.json" --top 10 --json "$OUT/cost.json" | tee "$OUT/cost.txt"
