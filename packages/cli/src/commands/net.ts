// vfio-node net SUBCOMMAND: the packet apps on virtio-net NICs (pktgen, count, fwd,
// respond), and `bringup`, the driver's initialization walked step by step. The apps and
// their options live in bench/src/net (@vfio-node/bench/net); this file hands them the
// command line, loaded on demand like every command.

/** The part of @vfio-node/bench/net this command uses. */
interface NetApps {
  runNet(argv: string[]): Promise<number>;
  NET_USAGE: string;
}

// A specifier in a variable: the CLI builds without the bench package's types, and
// `vfio-node list` never loads the driver.
const APPS = '@vfio-node/bench/net';

/** What `net --help` adds to the apps' help. */
const BRINGUP_LINE = `
  bringup ADDR [--explain [--step]]
                     bring a NIC up and reset it; --explain walks the virtio 1.2 §3.1.1
                     steps (what the spec says, the driver's writes, the device's
                     answers, decoded), --step waits for Enter between them
                     ('vfio-node net bringup --help')`;

/** Runs `vfio-node net ...`; returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'bringup') return (await import('../net/bringup.js')).bringup(rest);
  const apps = (await import(APPS)) as NetApps;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(apps.NET_USAGE.replace('\n\ncommon options:', `${BRINGUP_LINE}\n\ncommon options:`));
    return sub ? 0 : 2;
  }
  return apps.runNet(argv);
}
