#!/bin/sh
# Issue 14's promise path against the kernel, in one lab boot: ROUNDS rounds, each of
#   - an embedder's program (packages/runtime/bench-local/speed.mjs: NvmeRuntime.open with the
#     default options, lanes of `await ns.read()` of 4 KiB at random LBAs) at QD1 and QD32, 3 s each;
#   - the benchmark at QD32 and QD1 (4 KiB random read, 10 s) on our direct engine, then the
#     kernel's nvme driver with fio io_uring, then the runtime's promise API
#     (--compare=kernel,vfio-runtime), with completion-latency bins.
# Run from the repository root:
#   node packages/cli/bin/vfio-node.js lab run --nvme size=1G,serial=RT,aio=io_uring --out /tmp/rt -- sh bench/runtime-lab/run-lab.sh
#   node bench/runtime-lab/summary.mjs /tmp/rt
set -u
A=${VFIO_LAB_NVME%% *}
OUT=${VFIO_LAB_OUT:-/tmp}
# The guest settles after boot (its first seconds are busy with udev and module loading).
sleep "${SETTLE_SECONDS:-10}"
for r in $(seq 1 "${ROUNDS:-3}"); do
  echo "== round $r"
  node packages/runtime/bench-local/speed.mjs --seconds 3 > "$OUT/speed-$r.txt" || echo "round $r: speed.mjs failed"
  for qd in 32 1; do
    vfio-node bench --name=rt --filename="$A/1" --rw=randread --bs=4k --iodepth=$qd --runtime=10 --time_based \
      --compare=kernel,vfio-runtime --output-format=json+ --output="$OUT/bench-$r-qd$qd.json" > /dev/null \
      || echo "round $r qd $qd: bench failed"
  done
done
