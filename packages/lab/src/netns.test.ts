import { describe, expect, it } from 'vitest';
import { checkTapHost, netnsSetupScript, netnsWrap, tapName } from './netns.js';
import { resolveOptions } from './options.js';

const opts = (nic: string, nics = 2, nicHub = true) => resolveOptions({ nvme: [], nics, nicHub, nic });

describe('the tap backend: its namespace set-up', () => {
  it('creates one multi_queue vnet_hdr tap per NIC on one bridge, brings them up, then execs QEMU', () => {
    expect(netnsSetupScript(opts('backend=tap,queues=2'), '/usr/sbin/ip').split('\n')).toEqual([
      'set -e',
      'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null || true',
      '/usr/sbin/ip link set lo up',
      '/usr/sbin/ip link add vlbr0 type bridge',
      '/usr/sbin/ip link set vlbr0 up',
      '/usr/sbin/ip tuntap add dev vltap0 mode tap multi_queue vnet_hdr',
      '/usr/sbin/ip link set vltap0 master vlbr0',
      '/usr/sbin/ip link set vltap0 up',
      '/usr/sbin/ip tuntap add dev vltap1 mode tap multi_queue vnet_hdr',
      '/usr/sbin/ip link set vltap1 master vlbr0',
      '/usr/sbin/ip link set vltap1 up',
      'exec "$@"',
    ]);
    expect(tapName(3)).toBe('vltap3');
  });

  it('makes single-queue taps for queues=1 and a bridge per NIC when they are not joined', () => {
    const s = netnsSetupScript(opts('backend=tap', 2, false), 'ip');
    expect(s).toContain('ip tuntap add dev vltap0 mode tap vnet_hdr\n');
    expect(s).not.toContain('multi_queue');
    expect(s).toContain('ip link set vltap0 master vlbr0\n');
    expect(s).toContain('ip link set vltap1 master vlbr1\n');
  });

  it('wraps QEMU in unshare --net without --fork, so that QEMU keeps the process id and takes the namespace with it', () => {
    const argv = netnsWrap(['/usr/bin/qemu-system-x86_64', '-M', 'q35'], opts('backend=tap,queues=2'), { unshare: '/usr/bin/unshare', ip: '/usr/sbin/ip' });
    expect(argv.slice(0, 5)).toEqual(['/usr/bin/unshare', '--net', '--', '/bin/sh', '-c']);
    expect(argv[5]).toContain('exec "$@"');
    expect(argv.slice(6)).toEqual(['vfio-lab-netns', '/usr/bin/qemu-system-x86_64', '-M', 'q35']);
  });

  it('says what is missing: root, /dev/net/tun, ip', () => {
    const find = (n: string) => `/usr/bin/${n}`;
    expect(() => checkTapHost({ uid: 1000, find })).toThrow(expect.objectContaining({ code: 'ERR_LAB_TAP_NEEDS_ROOT', message: expect.stringContaining('uid 1000') }));
    expect(() => checkTapHost({ uid: 0, tunPath: '/nonexistent/tun', find })).toThrow(expect.objectContaining({ code: 'ERR_LAB_NO_TUN', hint: expect.stringContaining('modprobe tun') }));
    expect(() => checkTapHost({ uid: 0, tunPath: '/dev/null', find: (n) => (n === 'ip' ? undefined : find(n)) })).toThrow(
      expect.objectContaining({ code: 'ERR_LAB_MISSING_PACKAGE', hint: 'Install it: apt-get install iproute2' }),
    );
    expect(checkTapHost({ uid: 0, tunPath: '/dev/null', find })).toEqual({ unshare: '/usr/bin/unshare', ip: '/usr/bin/ip' });
  });
});
