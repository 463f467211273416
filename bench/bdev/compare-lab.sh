#!/bin/sh
# What the block layer costs on the NVMe path (issue 17: "it must not add measurable cost to
# the NVMe path (bench through it and compare)"): the same fio-style job through the runtime's
# promise API (--ioengine=vfio-runtime) and through @vfio-node/bdev's NVMe bdev on top of it
# (--ioengine=vfio-bdev), in one lab boot, the two engines taking turns going first. Run it
# from the repository root:
#
#   node packages/cli/bin/vfio-node.js lab run --nvme size=1G --hugepages 256 --timeout 1800 \
#     --out /tmp/bdev-compare -- sh bench/bdev/compare-lab.sh
#   node bench/bdev/summary.mjs /tmp/bdev-compare
#
# Environment (pass it with env: the lab hands only VFIO_* variables to the guest):
# BDEV_SECONDS (each run's runtime, default 10), BDEV_ROUNDS (default 3).
# Output in $VFIO_LAB_OUT: ROUND-JOB-ENGINE.json (fio JSON) per run.
set -u

OUT=${VFIO_LAB_OUT:?run this inside the lab: vfio-node lab run ... -- sh bench/bdev/compare-lab.sh}
T=${BDEV_SECONDS:-10}
ROUNDS=${BDEV_ROUNDS:-3}
DEV=$(echo "$VFIO_LAB_NVME" | cut -d' ' -f1)
[ -n "$DEV" ] || { echo "no NVMe controller in this lab (--nvme size=1G)" >&2; exit 1; }

run() { # ROUND JOB ENGINE ARGS...
  r=$1; job=$2; engine=$3; shift 3
  node packages/cli/bin/vfio-node.js bench --filename="$DEV/1" --ioengine="$engine" --name="$job" \
    --runtime="$T" --time_based --ramp_time=2 --output-format=json --output="$OUT/$r-$job-$engine.json" "$@" \
    || echo "round $r $job $engine failed: $?" >&2
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
  for job in randread-4k-qd32 randread-4k-qd1; do
    case $job in
      randread-4k-qd32) args="--rw=randread --bs=4k --iodepth=32 --size=512M" ;;
      randread-4k-qd1) args="--rw=randread --bs=4k --iodepth=1 --size=512M" ;;
    esac
    # Odd rounds: the runtime first; even rounds: the bdev first.
    if [ $((r % 2)) -eq 1 ]; then order="vfio-runtime vfio-bdev"; else order="vfio-bdev vfio-runtime"; fi
    for engine in $order; do
      # shellcheck disable=SC2086
      run "$r" "$job" "$engine" $args
    done
  done
  r=$((r + 1))
done
