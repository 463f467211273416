// The tap backend's host side (`--nic backend=tap`): QEMU runs inside a network namespace
// of its own, made by `unshare --net`, where a short shell step creates one multi_queue,
// vnet_hdr tap device per NIC, joins them on a bridge and brings everything up, then
// execs QEMU. Nothing is configured in the host's namespace, and nothing needs removing:
// the namespace lives as long as its last process (QEMU), and when it goes the kernel
// unregisters the taps and the bridge with it (virtual devices are not moved back to the
// host's namespace, they are deleted).
//
// Why taps: a tap is the one QEMU backend with several queues (`queues=N`, one per queue
// pair, attached with TUNSETQUEUE) and a virtio_net_hdr on every frame (IFF_VNET_HDR), so
// the device offers VIRTIO_NET_F_MQ with max_virtqueue_pairs = N and the checksum offloads.
// The host kernel now carries the frames between the NICs: a frame marked NEEDS_CSUM
// becomes a CHECKSUM_PARTIAL skb, and the receiving tap either hands it on partial (its
// guest took GUEST_CSUM, TUN_F_CSUM) or the kernel completes the checksum first. Which tap
// queue (so which receive virtqueue) a frame leaves on is the tun driver's choice: the
// flow's hash, so different flows spread over the queues.

import fs from 'node:fs';
import { LabError, missingPackage } from './errors.js';
import { which } from './host.js';
import type { ResolvedLabOptions } from './options.js';

/** Names inside the namespace (the host never sees them). */
export const BRIDGE_NAME = 'vlbr0';
export function tapName(index: number): string {
  return `vltap${index}`;
}

/** The host tools the tap backend runs. */
export interface NetnsTools {
  unshare: string;
  ip: string;
}

/**
 * The shell step run inside the new namespace before QEMU (QEMU's argv follows as "$@").
 * IPv6 is switched off first so that the bridge sends no router solicitations or
 * multicast listener reports to the guests' NICs (test traffic only on the wire).
 */
export function netnsSetupScript(opts: Pick<ResolvedLabOptions, 'nics' | 'nicHub' | 'nic'>, ip: string): string {
  const lines = ['set -e', 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null || true', `${ip} link set lo up`];
  const mq = opts.nic.queues > 1 ? ' multi_queue' : '';
  // Unjoined NICs (nicHub false) get a bridge each, as they get a hub each behind hubports.
  const bridge = (i: number) => (opts.nicHub ? BRIDGE_NAME : `vlbr${i}`);
  const bridges = opts.nicHub ? [BRIDGE_NAME] : Array.from({ length: opts.nics }, (_, i) => bridge(i));
  for (const b of bridges) lines.push(`${ip} link add ${b} type bridge`, `${ip} link set ${b} up`);
  for (let i = 0; i < opts.nics; i++) {
    const t = tapName(i);
    lines.push(`${ip} tuntap add dev ${t} mode tap${mq} vnet_hdr`, `${ip} link set ${t} master ${bridge(i)}`, `${ip} link set ${t} up`);
  }
  lines.push('exec "$@"');
  return lines.join('\n');
}

/** QEMU's argv wrapped so that it starts in a fresh network namespace after netnsSetupScript. */
export function netnsWrap(qemuArgv: string[], opts: Pick<ResolvedLabOptions, 'nics' | 'nicHub' | 'nic'>, tools: NetnsTools): string[] {
  // unshare without --fork execs the shell, which execs QEMU: one process id throughout.
  return [tools.unshare, '--net', '--', '/bin/sh', '-c', netnsSetupScript(opts, tools.ip), 'vfio-lab-netns', ...qemuArgv];
}

/**
 * Checks what the tap backend needs before anything starts, each with a hint.
 * @throws LabError ERR_LAB_TAP_NEEDS_ROOT, ERR_LAB_NO_TUN, ERR_LAB_MISSING_PACKAGE (iproute2, util-linux)
 */
export function checkTapHost(env: { uid?: number; tunPath?: string; find?: (name: string) => string | undefined } = {}): NetnsTools {
  const uid = env.uid ?? process.getuid?.() ?? 0;
  const find = env.find ?? ((n: string) => which(n));
  const tun = env.tunPath ?? '/dev/net/tun';
  if (uid !== 0) {
    throw new LabError({
      code: 'ERR_LAB_TAP_NEEDS_ROOT',
      message: `--nic backend=tap needs root (it creates a network namespace and tap devices); running as uid ${uid}`,
      hint: 'Run the lab as root (sudo), or use the default backend=hub (one queue pair, no checksum offloads).',
    });
  }
  if (!fs.existsSync(tun)) {
    throw new LabError({
      code: 'ERR_LAB_NO_TUN',
      message: `--nic backend=tap needs ${tun}, which does not exist`,
      hint: 'Load the tun module (modprobe tun); in a container, pass the device in (--device /dev/net/tun).',
      path: tun,
    });
  }
  const ip = find('ip');
  if (!ip) throw missingPackage('the ip command (for --nic backend=tap)', 'iproute2');
  const unshare = find('unshare');
  if (!unshare) throw missingPackage('the unshare command (for --nic backend=tap)', 'util-linux');
  return { unshare, ip };
}
