// vfio-node nvme SUBCOMMAND: nvme-cli's commands, names, options and output shapes, for
// controllers bound to vfio-pci (named by PCI address where nvme-cli takes /dev/nvme0).
// The subcommands live in ../nvme/run-*.ts, the printers in ../nvme/<structure>.ts.

import { reportingStatus } from '../nvme/session.js';

type Run = (argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<Run> }> = {
  list: { summary: 'list the controllers bound to vfio-pci and their namespaces', load: async () => (await import('../nvme/run-list.js')).list },
  bringup: { summary: 'bring the controller up and shut it down; --explain [--step]: each §3.5.1 step, decoded', load: async () => (await import('../nvme/run-bringup.js')).bringup },
  'id-ctrl': { summary: 'Identify Controller', load: async () => (await import('../nvme/run-identify.js')).idCtrl },
  'id-ns': { summary: 'Identify Namespace (-n NSID)', load: async () => (await import('../nvme/run-identify.js')).idNs },
  'smart-log': { summary: 'SMART / Health Information log', load: async () => (await import('../nvme/run-logs.js')).smartLog },
  'error-log': { summary: 'Error Information log (-e N entries)', load: async () => (await import('../nvme/run-logs.js')).errorLog },
  'fw-log': { summary: 'Firmware Slot Information log', load: async () => (await import('../nvme/run-logs.js')).fwLog },
  'get-feature': { summary: 'Get Features (-f FID [-s SEL])', load: async () => (await import('../nvme/run-features.js')).getFeature },
  'set-feature': { summary: 'Set Features (-f FID -V VALUE [--save])', load: async () => (await import('../nvme/run-features.js')).setFeature },
  format: { summary: 'Format NVM (-n NSID [--lbaf N] [--ses N] [--force]): erases the namespace', load: async () => (await import('../nvme/run-format.js')).format as Run },
  read: { summary: 'Read blocks to a file', load: async () => (await import('../nvme/run-io.js')).read },
  write: { summary: 'Write blocks from a file', load: async () => (await import('../nvme/run-io.js')).write },
  compare: { summary: 'Compare blocks with a file', load: async () => (await import('../nvme/run-io.js')).compareCmd },
  flush: { summary: 'Flush the volatile write cache', load: async () => (await import('../nvme/run-io.js')).flush },
  'write-zeroes': { summary: 'Write Zeroes (-s SLBA -c COUNT [--deac])', load: async () => (await import('../nvme/run-io.js')).writeZeroes },
  dsm: { summary: 'Dataset Management, deallocate (--slbs --blocks --ad)', load: async () => (await import('../nvme/run-io.js')).dsm },
  'get-log': { summary: 'Get Log Page (--log-id=N --log-len=N): a hex dump, or raw with -b', load: async () => (await import('../nvme/run-passthru.js')).getLog },
  'admin-passthru': { summary: 'any admin command (--opcode=N --cdw10=N ... --data-len=N -r|-w)', load: async () => (await import('../nvme/run-passthru.js')).adminPassthru },
  'io-passthru': { summary: 'any I/O command on I/O queue 1 (same options)', load: async () => (await import('../nvme/run-passthru.js')).ioPassthru },
};

/** The nvme subcommands' names. */
export const NVME_SUBCOMMANDS: readonly string[] = Object.keys(SUBCOMMANDS);

export function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((c) => c.length));
  return [
    'usage: vfio-node nvme <subcommand> ADDR [options]',
    '',
    "nvme-cli's subcommands for NVMe controllers bound to vfio-pci; ADDR is a PCI address",
    '(e.g. 0000:00:03.0) where nvme-cli takes /dev/nvme0. Every subcommand takes -o normal|json.',
    '',
    'subcommands:',
    ...Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'vfio-node nvme <subcommand> --help' for its options.",
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(usage());
    return sub ? 0 : 2;
  }
  const entry = SUBCOMMANDS[sub];
  if (!entry) {
    console.error(`vfio-node nvme: unknown subcommand '${sub}'\n\n${usage()}`);
    return 2;
  }
  const fn = await entry.load();
  return reportingStatus(() => fn(rest));
}
