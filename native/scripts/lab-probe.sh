#!/usr/bin/env bash
# Boots the QEMU lab by hand (recipe: /work/shared/LAB.md) and runs vfio-probe.mjs in
# the guest against an emulated NVMe through real VFIO. A developer's check of the
# native ioctls; the project's real lab is packages/lab.
#   usage: native/scripts/lab-probe.sh   (exit status = the probe's)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kver=$(ls /lib/modules | sort -V | tail -1)
work=$(mktemp -d /var/tmp/vfio-probe.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/initramfs"
mkdir -p "$root"/{bin,proc,sys,dev,lower,rw,host,lib/modules}
cp /usr/bin/busybox "$root/bin/busybox"
: > "$root/modules"
for m in virtio_pci 9pnet_virtio 9p overlay vfio_pci vfio_iommu_type1 nvme; do
  modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
  cp "$ko" "$root/lib/modules/"
  echo "$(basename "$ko")" >> "$root/modules"
done
cat > "$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in \$(cat /modules); do insmod /lib/modules/\$m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro host /lower
mount -t tmpfs tmpfs /rw; mkdir -p /rw/u /rw/w
mount -t overlay -o lowerdir=/lower,upperdir=/rw/u,workdir=/rw/w overlay /host
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev; mount -t tmpfs tmp /host/tmp
chroot /host /bin/sh -c 'node $here/vfio-probe.mjs; echo "PROBE-EXIT \$?"'
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"
qemu-img create -q -f raw "$work/disk.img" 64M
timeout 900 qemu-system-x86_64 -M q35 -accel tcg,thread=multi -cpu max -smp 2 -m 2G -nographic -no-reboot \
  -device intel-iommu,caching-mode=on \
  -kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 quiet intel_iommu=on panic=-1" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -drive file="$work/disk.img",if=none,id=nvm,format=raw -device nvme,drive=nvm,serial=probe \
  | tee "$work/console.log"
status=$(sed -n 's/.*PROBE-EXIT \([0-9]*\).*/\1/p' "$work/console.log" | tail -1)
exit "${status:-99}"
