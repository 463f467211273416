// `vfio-node nvme format ADDR -n NSID [--lbaf N] [--ses N] [--force]`: Format NVM (NVM
// Express Base Specification 2.0, "Format NVM command"). It erases the namespace, so
// without --force it asks on a terminal, and refuses when there is no terminal to ask.

import { createInterface } from 'node:readline/promises';
import { VfioError } from '@vfio-node/core';
import { Cns } from '@vfio-node/nvme';
import { NSID_OPTION, addressArg, nsidArg, optUint, parseNvmeArgs } from './args.js';
import { lbafInUse } from './id-ns.js';
import { toJson } from './json.js';
import { usage } from './run-identify.js';
import { withController } from './session.js';

export const FORMAT_USAGE = `usage: vfio-node nvme format ADDR -n NSID [-l LBAF] [-s SES] [--force] [-o normal|json]

Format NVM: erases namespace NSID (0xffffffff: all) and switches it to LBA format LBAF.
  -n, --namespace-id  the namespace (required)
  -l, --lbaf          LBA format index (default: the one in use; see id-ns)
  -s, --ses           Secure Erase Settings: 0 none (default), 1 user data erase, 2 cryptographic erase
      --force         do not ask for confirmation (required without a terminal)`;

/** Where the question is asked; injectable for tests. */
export interface Confirm {
  isTTY: boolean;
  ask(question: string): Promise<string>;
}

const terminal: Confirm = {
  isTTY: process.stdin.isTTY === true && process.stderr.isTTY === true,
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

/** Asks before erasing; throws ERR_NVME_FORMAT_NOT_CONFIRMED without a terminal, or when the answer is not "yes". */
export async function confirmFormat(address: string, nsid: number, confirm: Confirm): Promise<void> {
  const what = `${address}, namespace ${'0x' + nsid.toString(16)}${nsid === 0xffffffff ? '(ALL namespaces)' : ''}`;
  if (!confirm.isTTY) {
    throw new VfioError({
      code: 'ERR_NVME_FORMAT_NOT_CONFIRMED',
      message: `refusing to format ${what} without confirmation: there is no terminal to ask`,
      hint: 'Add --force to format without asking (every block of the namespace is erased).',
    });
  }
  const answer = await confirm.ask(
    `You are about to format ${what}.\nWARNING: Format may irrevocably delete this device's data.\nType 'yes' to continue (--force skips this question): `,
  );
  if (answer.trim().toLowerCase() !== 'yes') {
    throw new VfioError({ code: 'ERR_NVME_FORMAT_NOT_CONFIRMED', message: `format of ${what} cancelled`, hint: "Answer 'yes' to format, or pass --force." });
  }
}

export async function format(argv: string[], confirm: Confirm = terminal): Promise<number> {
  const p = parseNvmeArgs('format', argv, {
    ...NSID_OPTION,
    lbaf: { type: 'string', short: 'l' },
    ses: { type: 'string', short: 's' },
    force: { type: 'boolean' },
  });
  if (p.help) return usage(FORMAT_USAGE);
  const address = addressArg('format', p);
  const nsid = nsidArg('format', p);
  const lbafAsked = optUint(p, 'lbaf', 63);
  const ses = optUint(p, 'ses', 7) ?? 0;
  if (p.values.force !== true) await confirmFormat(address, nsid, confirm);
  await withController(address, async (ctrl) => {
    let lbaf = lbafAsked ?? 0;
    if (lbafAsked === undefined && nsid !== 0xffffffff) {
      // nvme-cli keeps the format in use when none is given.
      const id = await ctrl.admin.identify(Cns.Namespace, nsid);
      lbaf = lbafInUse(id[26]!);
    }
    await ctrl.admin.formatNvm(nsid, lbaf, ses);
  });
  if (p.format === 'json') console.log(toJson({ command: 'format', result: 'success', nsid }));
  else console.log(`Success formatting namespace:${nsid.toString(16)}`);
  return 0;
}
