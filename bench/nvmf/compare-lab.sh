#!/bin/sh
# Our NVMe/TCP target against the Linux kernel's (nvmet + nvmet-tcp), in one lab boot, driven
# by the same fio jobs through the guest's own NVMe/TCP initiator (issue 17, "Peer in the same
# boot"). Run it from the repository root:
#
#   node packages/cli/bin/vfio-node.js lab run --nvme size=1G,serial=OURS --nvme size=1G,serial=KERNEL \
#     --hugepages 512 --timeout 1800 --out /tmp/nvmf-compare -- sh bench/nvmf/compare-lab.sh
#   node bench/nvmf/summary.mjs /tmp/nvmf-compare
#
# The first controller stays on vfio-pci and is served by `vfio-node nvmf serve` on
# 127.0.0.1:4420; the second goes to the kernel's nvme driver and is exported by nvmet-tcp on
# 127.0.0.1:4430. The guest's nvme-tcp initiator connects to both; fio (io_uring, O_DIRECT)
# runs each job on each block device, the two targets taking turns going first.
#
# Environment: NVMF_SECONDS (fio runtime, default 10), NVMF_ROUNDS (default 2), NVMF_WORKERS
# (our target's --workers, default 1), NVMF_OURS_BDEV (what our target serves instead of the
# first controller's namespace 1, e.g. malloc:1G to see the target's cost without the NVMe path),
# NVMF_CPU_PROF=1 (our target runs with node --cpu-prof; profiles in $VFIO_LAB_OUT/cpuprof),
# NVMF_POLL_US / NVMF_SPIN_US (the runtime's pollMicroseconds / spinMicroseconds: the target
# then runs as bench/nvmf/serve.mjs, which takes them; the CLI does not).
# NVMF_STRACE=1 counts our target's system calls (strace -c -f) during its runs into
# $VFIO_LAB_OUT/strace-ROUND-JOB-ours.txt (strace slows it: not for IOPS figures).
# NVMF_SS=1 samples the TCP queues of both targets' connections (ss -tni) every second during
# each run into $VFIO_LAB_OUT/ss-ROUND-JOB-TARGET.txt.
# Pass them with env, since the lab hands only VFIO_* variables to the guest:
#   ... --out DIR -- env NVMF_OURS_BDEV=malloc:1G sh bench/nvmf/compare-lab.sh Output in $VFIO_LAB_OUT: one fio json+ file per run
# (ROUND-JOB-TARGET.json), the target's log, the controllers' identify data, and env.txt.
set -u

OUT=${VFIO_LAB_OUT:?run this inside the lab: vfio-node lab run ... -- sh bench/nvmf/compare-lab.sh}
T=${NVMF_SECONDS:-10}
ROUNDS=${NVMF_ROUNDS:-2}
WORKERS=${NVMF_WORKERS:-1}
OURS_NQN=nqn.2026-12.io.vfio-node:compare
KERN_NQN=nqn.2026-12.io.vfio-node:nvmet-peer
OURS_PORT=4420
KERN_PORT=4430
CFG=/sys/kernel/config/nvmet

fail() { echo "compare-lab: $*" >&2; exit 1; }
log() { echo "== $(date -u +%H:%M:%S) $*"; }

set -- $VFIO_LAB_NVME
[ $# -ge 2 ] || fail "needs two NVMe controllers (--nvme ... --nvme ...); the lab gave: '$VFIO_LAB_NVME'"
OURS_BDEV=${NVMF_OURS_BDEV:-$1/1}
KERN=$2

# --- teardown, whatever happened -------------------------------------------------------
TPID=
teardown() {
  nvme disconnect -n "$OURS_NQN" >/dev/null 2>&1
  nvme disconnect -n "$KERN_NQN" >/dev/null 2>&1
  if [ -d "$CFG/ports/1" ]; then
    rm -f "$CFG/ports/1/subsystems/$KERN_NQN"
    rmdir "$CFG/ports/1"
  fi
  if [ -d "$CFG/subsystems/$KERN_NQN" ]; then
    [ -d "$CFG/subsystems/$KERN_NQN/namespaces/1" ] && {
      echo 0 > "$CFG/subsystems/$KERN_NQN/namespaces/1/enable"
      rmdir "$CFG/subsystems/$KERN_NQN/namespaces/1"
    }
    rmdir "$CFG/subsystems/$KERN_NQN"
  fi
  if [ -n "$TPID" ] && kill -0 "$TPID" 2>/dev/null; then
    kill -INT "$TPID"
    wait "$TPID"
    echo "our target exited with status $?" >> "$OUT/target.log"
  fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- modules, loopback, configfs -------------------------------------------------------
# Loaded by hand: the kernel's own module requests run modprobe from the initramfs's root,
# outside the lab's chroot, and find nothing there (test/lab/nvmf-tcp.test.ts).
ip link set lo up || fail "cannot bring the loopback up"
for m in nvme nvme-tcp nvmet nvmet-tcp; do
  modprobe "$m" 2>"$OUT/modprobe-$m.err" || fail "kernel module $m is missing in the guest (modprobe $m: $(cat "$OUT/modprobe-$m.err")); Debian's linux-image-amd64 ships it under /lib/modules/$(uname -r)/kernel/drivers/nvme"
done
[ -d /sys/kernel/config/nvmet ] || mount -t configfs none /sys/kernel/config 2>/dev/null
[ -d "$CFG" ] || fail "no $CFG after modprobe nvmet (configfs not mounted on /sys/kernel/config?)"

# --- the second controller to the kernel's nvme driver ---------------------------------
log "giving $KERN to the kernel's nvme driver"
vfio-node unbind "$KERN" || fail "vfio-node unbind $KERN failed"
KDEV=
i=0
while [ $i -lt 300 ]; do
  for b in /sys/bus/pci/devices/$KERN/nvme/nvme*/nvme*n1; do
    [ -e "$b" ] && KDEV=/dev/$(basename "$b")
  done
  [ -n "$KDEV" ] && [ -b "$KDEV" ] && break
  KDEV=
  sleep 0.2; i=$((i + 1))
done
[ -n "$KDEV" ] || fail "the kernel's nvme driver gave no namespace block device for $KERN"
log "kernel namespace: $KDEV"

# --- the kernel's target: nvmet + nvmet-tcp through configfs ---------------------------
S=$CFG/subsystems/$KERN_NQN
mkdir "$S" || fail "mkdir $S"
echo 1 > "$S/attr_allow_any_host"
mkdir "$S/namespaces/1"
echo "$KDEV" > "$S/namespaces/1/device_path"
echo 1 > "$S/namespaces/1/enable" || fail "nvmet refused $KDEV as namespace 1"
mkdir "$CFG/ports/1"
echo tcp > "$CFG/ports/1/addr_trtype"
echo ipv4 > "$CFG/ports/1/addr_adrfam"
echo 127.0.0.1 > "$CFG/ports/1/addr_traddr"
echo $KERN_PORT > "$CFG/ports/1/addr_trsvcid"
ln -s "$S" "$CFG/ports/1/subsystems/$KERN_NQN" || fail "nvmet-tcp did not take port 127.0.0.1:$KERN_PORT"

# --- our target ------------------------------------------------------------------------
log "starting vfio-node nvmf serve on $OURS_BDEV (--workers $WORKERS)"
# `vfio-node nvmf serve` is packages/cli/bin/vfio-node.js run by node (the lab's wrapper does
# the same); run directly so that node's own options (--cpu-prof, which NODE_OPTIONS refuses) apply.
PROF=
[ "${NVMF_CPU_PROF:-0}" = 1 ] && PROF="--cpu-prof --cpu-prof-dir=$OUT/cpuprof"
SERVE="packages/cli/bin/vfio-node.js nvmf serve"
[ -n "${NVMF_POLL_US:-}" ] && SERVE="$SERVE --poll-us $NVMF_POLL_US"
[ -n "${NVMF_SPIN_US:-}" ] && SERVE="$SERVE --spin-us $NVMF_SPIN_US"
case $SERVE in *-us*) SERVE="bench/nvmf/serve.mjs ${SERVE#packages/cli/bin/vfio-node.js nvmf serve }" ;; esac
echo "target: node $PROF $SERVE" > "$OUT/target.log"
# shellcheck disable=SC2086
node $PROF $SERVE --listen 127.0.0.1:$OURS_PORT --nqn $OURS_NQN --workers "$WORKERS" "$OURS_BDEV" >> "$OUT/target.log" 2>&1 &
TPID=$!
i=0
until grep -q 'connect with:' "$OUT/target.log"; do
  kill -0 $TPID 2>/dev/null || { cat "$OUT/target.log" >&2; TPID=; fail "our target exited before listening"; }
  [ $i -lt 600 ] || fail "our target did not print its connect line in 120 s"
  sleep 0.2; i=$((i + 1))
done

# --- the initiator connects to both ----------------------------------------------------
devof() { # the block device (nvmeXnY) whose subsystem NQN is $1
  for d in /sys/block/nvme*n*; do
    case $(basename "$d") in *c*) continue ;; esac
    [ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$1" ] && { basename "$d"; return; }
  done
}
connect() { # NQN PORT -> prints /dev/nvmeXnY
  nvme connect -t tcp -a 127.0.0.1 -s "$2" -n "$1" >&2 || fail "nvme connect to $1 on port $2 failed"
  i=0
  while [ $i -lt 150 ]; do
    d=$(devof "$1")
    [ -n "$d" ] && [ -b "/dev/$d" ] && { echo "/dev/$d"; return; }
    sleep 0.2; i=$((i + 1))
  done
  fail "no block device for $1 after nvme connect"
}
ODEV=$(connect $OURS_NQN $OURS_PORT) || exit 1
KTDEV=$(connect $KERN_NQN $KERN_PORT) || exit 1
log "initiator: ours $ODEV, kernel target $KTDEV"

# What each side offers, for the notes: identify data, queue limits, I/O queue count.
{
  echo "date: $(date -u)"; echo "guest kernel: $(uname -r)"; echo "fio: $(fio --version)"; echo "nvme-cli: $(nvme version)"
  echo "nproc: $(nproc)"; echo "loadavg at start: $(cat /proc/loadavg)"
  echo "ours: $OURS_BDEV (--workers $WORKERS) -> $ODEV; kernel: $KERN -> $KDEV -> nvmet-tcp -> $KTDEV"
  for d in "$ODEV $OURS_NQN" "$KTDEV $KERN_NQN"; do
    set -- $d; b=$(basename "$1")
    echo "$1: max_hw_sectors_kb=$(cat /sys/block/$b/queue/max_hw_sectors_kb) max_sectors_kb=$(cat /sys/block/$b/queue/max_sectors_kb) nr_requests=$(cat /sys/block/$b/queue/nr_requests)"
    for c in /sys/class/nvme/nvme*; do # the initiator's controller(s) of that subsystem
      [ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$2" ] || continue
      echo "  $(basename "$c"): transport=$(cat "$c/transport") queue_count=$(cat "$c/queue_count") (admin + I/O queues) sqsize=$(cat "$c/sqsize")"
    done
  done
} > "$OUT/env.txt"
nvme id-ctrl "$ODEV" > "$OUT/id-ctrl-ours.txt" 2>&1
nvme id-ctrl "$KTDEV" > "$OUT/id-ctrl-kernel.txt" 2>&1
cat "$OUT/env.txt"

# --- the jobs --------------------------------------------------------------------------
# CPU time in USER_HZ ticks (1/100 s): the guest's busy time (user+nice+system+irq+softirq, from
# /proc/stat, tick-sampled) and our target's process (all its threads, /proc/PID/stat).
cpubusy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
tcpu() { awk '{print $14+$15}' /proc/$TPID/stat 2>/dev/null || echo 0; }
# Per thread of our target: "TID NAME TICKS" lines (the name is /proc's comm, e.g. node, V8 DefaultWorke, libuv-worker).
threads() { for t in /proc/$TPID/task/*; do echo "${t##*/} $(tr ' ' _ < "$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done 2>/dev/null; }

runjob() { # ROUND TARGET DEV JOB
  name=$1-$4-$2
  case $4 in
    randread-4k-qd32) opts="--rw=randread --bs=4k --iodepth=32" ;;
    read-128k-qd8) opts="--rw=read --bs=128k --iodepth=8" ;;
    *) fail "unknown job $4" ;;
  esac
  log "$name: fio $opts on $3"
  c0=$(cpubusy); t0=$(tcpu); th0=$(threads)
  SSPID=
  if [ "${NVMF_SS:-0}" = 1 ]; then
    port=$OURS_PORT; [ "$2" = kernel ] && port=$KERN_PORT
    while :; do echo "-- $(date -u +%T.%N)"; ss -tni "( sport = :$port or dport = :$port )"; sleep 1; done > "$OUT/ss-$name.txt" 2>&1 &
    SSPID=$!
  fi
  # System calls of our target's threads during its runs (strace -c: counts and time per call;
  # strace slows the target, so these runs' IOPS are not comparable).
  STPID=
  if [ "${NVMF_STRACE:-0}" = 1 ] && [ "$2" = ours ]; then
    strace -c -f -p "$TPID" -o "$OUT/strace-$name.txt" 2>/dev/null &
    STPID=$!
    sleep 1
  fi
  # shellcheck disable=SC2086
  fio --name="$4" --filename="$3" --ioengine=io_uring --direct=1 $opts --numjobs=1 \
    --runtime="$T" --time_based --randrepeat=0 --group_reporting \
    --output-format=json+ --output="$OUT/$name.json" || fail "fio $name failed"
  c1=$(cpubusy); t1=$(tcpu)
  [ -n "$SSPID" ] && kill "$SSPID"
  [ -n "$STPID" ] && { kill -INT "$STPID"; wait "$STPID"; }
  # Our target's threads: ticks each used during this run (busiest first).
  threads | awk -v before="$th0" -v run="$name" 'BEGIN { n = split(before, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); b[f[1]] = f[3] } }
    { d = $3 - b[$1]; if (d > 0) print run, "thread", $1, $2, d }' | sort -k5 -n -r >> "$OUT/threads.txt"
  echo "$name guest_busy_jiffies=$((c1 - c0)) target_jiffies=$((t1 - t0)) loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/cpu.txt"
}

# Our target's own CPU while it serves connected hosts but no I/O (it should be ~0).
t0=$(tcpu); sleep 5; t1=$(tcpu)
echo "idle-5s target_jiffies=$((t1 - t0))" | tee -a "$OUT/cpu.txt"

r=1
while [ $r -le "$ROUNDS" ]; do
  for job in randread-4k-qd32 read-128k-qd8; do
    if [ $((r % 2)) -eq 1 ]; then
      runjob $r ours "$ODEV" $job; runjob $r kernel "$KTDEV" $job
    else
      runjob $r kernel "$KTDEV" $job; runjob $r ours "$ODEV" $job
    fi
  done
  r=$((r + 1))
done
log "done"
