// vfio-node net SUBCOMMAND: the packet apps on virtio-net NICs (pktgen, count, fwd,
// respond). The apps and their options live in bench/src/net (@vfio-node/bench/net);
// this file only hands them the command line, loaded on demand like every command.

/** The part of @vfio-node/bench/net this command uses. */
interface NetApps {
  runNet(argv: string[]): Promise<number>;
}

// A specifier in a variable: the CLI builds without the bench package's types, and
// `vfio-node list` never loads the driver.
const APPS = '@vfio-node/bench/net';

/** Runs `vfio-node net ...`; returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  const { runNet } = (await import(APPS)) as NetApps;
  return runNet(argv);
}
