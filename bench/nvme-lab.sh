#!/bin/sh
# The NVMe figures of bench/RESULTS.md, all in one lab boot. Run it from the repository root:
#   node packages/cli/bin/vfio-node.js lab run --nvme size=1G,serial=BENCH,aio=io_uring --out /tmp/nvme-bench -- sh bench/nvme-lab.sh
# Each job runs on vfio-node, then (--compare) on the kernel's nvme driver with fio/io_uring and on
# QEMU's userspace NVMe driver (qemu-img bench, sequential only), on the same emulated controller.
set -u
A=${VFIO_LAB_NVME%% *}
OUT=${VFIO_LAB_OUT:-/tmp}
T=${BENCH_SECONDS:-10}
run() {
  name=$1; shift
  echo "== $name: vfio-node bench $*"
  vfio-node bench --name="$name" --filename="$A/1" --runtime="$T" --time_based "$@" --output-format=normal,json --output="$OUT/$name.txt"
  grep -A8 '^Comparison' "$OUT/$name.txt" || grep -E 'IOPS=|lat \(usec\)|clat \(' "$OUT/$name.txt" | head -4
}
run randread-qd32 --rw=randread --bs=4k --iodepth=32 --compare=kernel
# With both peers the kernel runs first, then qemu-img (see bench/src/run.ts).
run read-qd32 --rw=read --bs=4k --iodepth=32 --compare=kernel,qemu
run randread-qd1 --rw=randread --bs=4k --iodepth=1 --compare=kernel
run randwrite-qd32 --rw=randwrite --bs=4k --iodepth=32 --compare=kernel
run randread-qd32-2jobs --rw=randread --bs=4k --iodepth=32 --numjobs=2 --group_reporting --compare=kernel
run randread-qd32-1job --rw=randread --bs=4k --iodepth=32 --compare=kernel
