// vfio-node doctor [ADDR]: every precondition, each with OK/FAIL and the fix.

import { parseArgs } from 'node:util';
import { formatDoctorTable, hostRootsFromEnv, invalidArgument, parsePciAddress, runDoctor } from '@vfio-node/core';

const USAGE = `usage: vfio-node doctor [--json] [--hugepages N] [ADDR]

Checks the host (IOMMU, vfio modules, /dev/vfio, free hugepages, RLIMIT_MEMLOCK) and,
given ADDR, the device (exists, bound to vfio-pci, IOMMU group viable, not in use).
Prints the fix for each failed check. Exit status 1 when any check fails.
  --hugepages N   free hugepages wanted (default 1)
  --json          the checks as a JSON array of {name, ok, detail, fix}`;

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean; hugepages?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, hugepages: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`vfio-node doctor: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  if (values.hugepages !== undefined && !/^\d+$/.test(values.hugepages)) throw invalidArgument('--hugepages', values.hugepages, 'a whole number of pages');
  const addr = positionals[0] === undefined ? undefined : parsePciAddress(positionals[0]);
  const checks = runDoctor(addr, { ...hostRootsFromEnv(), ...(values.hugepages !== undefined ? { hugepages: Number(values.hugepages) } : {}) });
  console.log(values.json ? JSON.stringify(checks, null, 2) : formatDoctorTable(checks));
  return checks.every((c) => c.ok) ? 0 : 1;
}
