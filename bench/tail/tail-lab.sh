#!/bin/sh
# Issue 14's tail and steadiness, measured: the README's main job (4 KiB random read, QD32,
# 10 s) in ROUNDS rounds in one lab boot, each round on our direct engine, then the kernel's
# nvme driver with fio io_uring, then the runtime's promise API (--compare), with per-second
# IOPS (--log_avg_msec=1000) and completion-latency bins. Run from the repository root:
#   node packages/cli/bin/vfio-node.js lab run --nvme size=1G,serial=TAIL,aio=io_uring --out /tmp/tail -- sh bench/tail/tail-lab.sh
#   node bench/tail/summary.mjs /tmp/tail
set -u
A=${VFIO_LAB_NVME%% *}
OUT=${VFIO_LAB_OUT:-/tmp}
T=${TAIL_SECONDS:-10}
for r in $(seq 1 "${TAIL_ROUNDS:-5}"); do
  echo "== round $r"
  vfio-node bench --name=tail --filename="$A/1" --rw=randread --bs=4k --iodepth=32 --runtime="$T" --time_based \
    --log_avg_msec=1000 --compare=kernel,vfio-runtime --output-format=json+ --output="$OUT/round-$r.json" > /dev/null \
    || echo "round $r failed"
done
node bench/tail/summary.mjs "$OUT"
