// vfio-node nvmf serve: an NVMe/TCP target (@vfio-node/nvmf) serving bdevs
// (@vfio-node/bdev) to any NVMe/TCP host, the Linux kernel's `nvme connect -t tcp` first.
// Prints the command a host runs, logs hosts as they come and go, and on Ctrl-C (SIGINT)
// or SIGTERM ends every association, then closes the bdevs (an NVMe bdev's controller is
// shut down in order).

import { parseArgs } from 'node:util';

const USAGE = `usage: vfio-node nvmf serve [--listen ADDR:PORT] [--nqn NQN] [--allow-host NQN]... BDEV...

Serves the bdevs as namespaces 1, 2, ... of one NVMe subsystem over NVMe/TCP, with a
discovery controller (nqn.2014-08.org.nvmexpress.discovery) on the same port.

  BDEV                 malloc:SIZE (a RAM disk), null:SIZE, or ADDRESS/NSID (an NVMe
                       namespace bound to vfio-pci, e.g. 0000:00:03.0/1)
  --listen ADDR:PORT   where to listen (default 127.0.0.1:4420)
  --nqn NQN            the subsystem's NQN (default ${'nqn.2026-12.io.vfio-node:target'})
  --allow-host NQN     a host NQN allowed to connect (repeatable; default: any host)
  --workers N          worker threads (I/O queue pairs) for NVMe bdevs (default 1)

Ctrl-C disconnects the hosts and closes the bdevs.`;

const DEFAULT_NQN = 'nqn.2026-12.io.vfio-node:target';

/** Runs `vfio-node nvmf ARGS`. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub ? 0 : 2;
  }
  if (sub !== 'serve') {
    console.error(`vfio-node nvmf: unknown subcommand '${sub}' (only 'serve')\n\n${USAGE}`);
    return 2;
  }
  let args;
  try {
    args = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        listen: { type: 'string', default: '127.0.0.1:4420' },
        nqn: { type: 'string', default: DEFAULT_NQN },
        'allow-host': { type: 'string', multiple: true, default: [] },
        workers: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`vfio-node nvmf serve: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.positionals.length === 0) {
    console.error(`vfio-node nvmf serve: name at least one bdev (malloc:64M, null:1G, 0000:00:03.0/1)\n\n${USAGE}`);
    return 2;
  }
  const workers = Number(args.values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    console.error(`vfio-node nvmf serve: --workers ${args.values.workers} is not 1 to 64`);
    return 2;
  }

  const { checkNqn, parseListenAddress, NvmfTarget } = await import('@vfio-node/nvmf');
  const { openBdevs, parseBdevName } = await import('@vfio-node/bdev');
  // Check every argument before opening anything.
  const listen = parseListenAddress(args.values.listen!);
  checkNqn(args.values.nqn!);
  for (const h of args.values['allow-host']!) checkNqn(h);
  for (const name of args.positionals) parseBdevName(name);

  const bdevs = await openBdevs(args.positionals, { runtime: { workers } });
  let target;
  try {
    target = await NvmfTarget.listen({
      listen: args.values.listen!,
      subsystems: [{ nqn: args.values.nqn!, namespaces: bdevs, allowHosts: args.values['allow-host']! }],
    });
  } catch (err) {
    for (const b of bdevs) await b.close().catch(() => {});
    throw err;
  }
  const stamp = () => new Date().toISOString().slice(11, 23);
  target.on('log', (e) => console.error(`${stamp()} ${e.event}: ${e.message}`));

  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '<this machine\'s address>' : listen.host;
  console.log(`vfio-node nvmf: serving ${args.values.nqn} on ${target.address.host}:${target.address.port} (NVMe/TCP), discovery on the same port`);
  bdevs.forEach((b, i) => console.log(`  nsid ${i + 1}: ${b.name} (${b.blocks} blocks of ${b.blockSize} bytes)`));
  console.log(`connect with: nvme connect -t tcp -a ${host} -s ${target.address.port} -n ${args.values.nqn}`);

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      console.error(`${stamp()} ${sig}: disconnecting ${target.connectionCount} connection(s) and closing the bdevs`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await target.close();
  for (const b of bdevs) await b.close();
  console.error(`${stamp()} closed`);
  return 0;
}
