#!/bin/sh
# In the lab: the runtime promise path, then the direct path and the kernel (fio) at QD1
# and QD32, same boot. Each argument is a variant TREE,WORKERS,SPIN,POLL ("-" = the
# default; TREE "." = this tree, or another copy of the repository to compare with).
set -u
cd "$(dirname "$0")/../../.."
A=${VFIO_LAB_NVME%% *}
S=${SECONDS_PER:-4}
[ $# -eq 0 ] && set -- .,1,-,- .,-,-,-
for v in "$@"; do
  IFS=, read t w s p <<X
$v
X
  o="--seconds $S"
  [ "$w" != - ] && o="$o --workers $w"
  [ "$s" != - ] && o="$o --spin $s"
  [ "$p" != - ] && o="$o --poll $p"
  echo "== $t: $o"
  node $t/packages/runtime/bench-local/speed.mjs "$A" $o
done
[ -n "${NO_PEERS:-}" ] && exit 0
for qd in 1 32; do
  vfio-node bench --name=d --filename=$A/1 --ioengine=vfio-nvme --rw=randread --bs=4k --iodepth=$qd --runtime=$S --time_based --compare=kernel 2>&1 | grep -E "^ +read:|^read |Comparison" | head -20
done
