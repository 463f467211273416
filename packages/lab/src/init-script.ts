// The guest's /init (busybox sh), the same for every boot so that the initramfs can be
// cached: per-boot settings come from the kernel command line (vfiolab_*), the command
// from the writable 9p export. Steps as LAB.md lays them out.

/** Kernel modules the initramfs carries (with their dependencies, from modprobe --show-depends). */
export const LAB_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'vfio_pci', 'vfio_iommu_type1', 'nvme', 'virtio_net'] as const;

/** Printed on the console when the command is about to start, and with its status at the end. */
export const READY_MARKER = 'VFIO_LAB_READY';
export const EXIT_MARKER = 'VFIO_LAB_EXIT=';
export const DIED_MARKER = 'VFIO_LAB_FAILED:';
/** Printed on the console as /init reaches each step of the set-up: `VFIO_LAB_PHASE=init`, `modules`, `bind`, `mount`. */
export const PHASE_MARKER = 'VFIO_LAB_PHASE=';
/** Printed by /init, which then powers off at once, when the kernel command line has `vfiolab_probe` (accel.ts). */
export const PROBE_MARKER = 'VFIO_LAB_PROBE_OK';
/** Bytes the host writes to the command's stdout port (ttyS1) to signal the command's process group. */
export const SIGNAL_BYTES = { SIGINT: 'i', SIGTERM: 't', SIGKILL: 'k' } as const;

export const INIT_SCRIPT = `#!/bin/busybox sh
# vfio-node lab /init (packages/lab/src/init-script.ts). Console on ttyS0, the command's
# stdout on ttyS1, its stderr on ttyS2.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/null >/dev/console 2>&1
echo ${PHASE_MARKER}init
# The accelerator probe (accel.ts) only asks whether this kernel reaches /init.
case " $(cat /proc/cmdline) " in *" vfiolab_probe "*) echo ${PROBE_MARKER}; poweroff -f; sleep 10;; esac
die() { echo "${DIED_MARKER} $*"; poweroff -f; sleep 10; }
waitfor() { n=0; while ! eval "$1"; do n=$((n+1)); [ $n -gt $(($2*10)) ] && return 1; usleep 100000; done; }

BIND=vfio; HUGEPAGES=0; NS=0; NICS_N=0; LINK=
for w in $(cat /proc/cmdline); do
  case "$w" in
    vfiolab_link=*) LINK=\${w#*=};;
    vfiolab_bind=*) BIND=\${w#*=};;
    vfiolab_hugepages=*) HUGEPAGES=\${w#*=};;
    vfiolab_ns=*) NS=\${w#*=};;
    vfiolab_nics=*) NICS_N=\${w#*=};;
  esac
done

# Devices by class code, never by address: 01/08/02 is NVMe, 02/00/00 an Ethernet
# controller (virtio's vendor 0x1af4). PCI enumeration is built into the kernel. The one
# exception is the private link's NIC of a two-machine lab (vfiolab_link=PCI,ADDR/LEN,
# link.ts): found by its fixed slot, left to the kernel's virtio_net.
LINKDEV=\${LINK%%,*}; LINKADDR=\${LINK#*,}
NVME=; NICS=
for d in /sys/bus/pci/devices/*; do
  [ -n "$LINK" ] && [ "\${d##*/}" = "$LINKDEV" ] && continue
  case "$(cat $d/class)" in
    0x010802) NVME="$NVME \${d##*/}";;
    0x020000) [ "$(cat $d/vendor)" = 0x1af4 ] && NICS="$NICS \${d##*/}";;
  esac
done
NVME=\${NVME# }; NICS=\${NICS# }

# vfio: claim the devices before nvme and virtio_pci load, so no kernel driver touches them.
if [ "$BIND" = vfio ]; then
  for D in $NVME $NICS; do echo vfio-pci > /sys/bus/pci/devices/$D/driver_override; done
fi
echo ${PHASE_MARKER}modules
for m in $(cat /modules.list); do insmod /$m || die "insmod $m failed"; done
echo ${PHASE_MARKER}bind
if [ "$BIND" = vfio ]; then
  for D in $NVME $NICS; do
    [ -e /sys/bus/pci/devices/$D/driver ] || echo $D > /sys/bus/pci/drivers_probe
    g=$(readlink /sys/bus/pci/devices/$D/iommu_group); g=\${g##*/}
    waitfor "[ -e /dev/vfio/$g ]" 20 || die "$D did not bind to vfio-pci (no /dev/vfio/$g)"
  done
else
  waitfor '[ $(ls -d /sys/block/nvme*n* 2>/dev/null | wc -l) -ge $NS ]' 60 || die "the nvme driver did not show $NS namespaces: $(ls /sys/block)"
  for D in $NICS; do waitfor "ls -d /sys/bus/pci/devices/$D/virtio*/net >/dev/null 2>&1" 30 || die "virtio_net did not take $D"; done
fi
if [ -n "$LINK" ]; then
  waitfor "ls -d /sys/bus/pci/devices/$LINKDEV/virtio*/net >/dev/null 2>&1" 30 || die "virtio_net did not take the link NIC $LINKDEV"
  LINKIF=$(ls /sys/bus/pci/devices/$LINKDEV/virtio*/net)
  ip link set "$LINKIF" up && ip addr add "$LINKADDR" dev "$LINKIF" || die "cannot give the link NIC $LINKIF the address $LINKADDR"
fi
echo $HUGEPAGES > /proc/sys/vm/nr_hugepages

echo ${PHASE_MARKER}mount
# The host's root, read-only, under a tmpfs overlay: writable inside, gone at power-off.
# cache=loose: the guest caches what it read (node_modules loads about twice as fast);
# a host file changed during the run may look stale inside.
mkdir -p /lower /rw /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host /lower || die "cannot mount the host root (9p)"
mount -t tmpfs -o mode=0755 rw /rw && mkdir -p /rw/u /rw/w
mount -t overlay -o lowerdir=/lower,upperdir=/rw/u,workdir=/rw/w overlay /host || die "cannot mount the overlay"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm /host/dev/hugepages
mount -t devpts devpts /host/dev/pts
mount -t tmpfs shm /host/dev/shm
mount -t hugetlbfs hugetlbfs /host/dev/hugepages
mount -t tmpfs -o mode=0755 run /host/run
mkdir -p /host/run/vfio-lab
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lab /host/run/vfio-lab || die "cannot mount the lab export (9p)"

# The command's stdout and stderr are pipes (as on the host), copied to ttyS1 and ttyS2 in raw mode.
mkfifo /o /e
stty -F /dev/ttyS1 raw -echo; stty -F /dev/ttyS2 raw -echo
cat /o > /dev/ttyS1 & PO=$!
cat /e > /dev/ttyS2 & PE=$!
unset vfiolab_bind vfiolab_hugepages vfiolab_ns vfiolab_nics vfiolab_link
export VFIO_LAB=1 VFIO_LAB_NVME="$NVME" VFIO_LAB_NICS="$NICS"
[ -n "$LINK" ] && export VFIO_LAB_LINK_ADDR="\${LINKADDR%/*}"
ulimit -l unlimited
echo "${READY_MARKER} uptime=$(cut -d" " -f1 /proc/uptime)"
# The command leads a session of its own (cmd.sh writes its pid, which is also its
# process group's id), so that a signal from the host (a byte on ttyS1: Ctrl-C on the
# host's terminal) reaches it and every process it started. It runs in the foreground:
# a background job would start with SIGINT ignored, and could not be interrupted.
while c=$(dd if=/dev/ttyS1 bs=1 count=1 2>/dev/null) && [ -n "$c" ]; do
  P=$(cat /host/run/vfio-lab.pid 2>/dev/null)
  [ -n "$P" ] || continue
  case "$c" in
    ${SIGNAL_BYTES.SIGINT}) kill -INT -$P;;
    ${SIGNAL_BYTES.SIGTERM}) kill -TERM -$P;;
    ${SIGNAL_BYTES.SIGKILL}) kill -KILL -$P;;
  esac
done 2>/dev/null & PS=$!
setsid chroot /host /bin/sh /run/vfio-lab/cmd.sh </dev/null >/o 2>/e
STATUS=$?
kill $PS 2>/dev/null
echo $STATUS > /host/run/vfio-lab/status
n=0; while [ $n -lt 30 ] && { kill -0 $PO || kill -0 $PE; } 2>/dev/null; do n=$((n+1)); usleep 100000; done
kill $PO $PE 2>/dev/null
echo ${EXIT_MARKER}$STATUS
sync
poweroff -f
sleep 10
`;
