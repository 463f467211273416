// `vfio-node nvme format ADDR -n NSID [--lbaf N] [--ses N] [--force]`: Format NVM (NVM
// Express Base Specification 2.0, "Format NVM command"). It erases the namespace, so
// without --force it asks on a terminal, and refuses when there is no terminal to ask.

import { Cns } from '@vfio-node/nvme';
import { confirmFormat, terminal, type Confirm } from './format-confirm.js';
import { NSID_OPTION, addressArg, nsidArg, optUint, parseNvmeArgs } from './args.js';
import { lbafInUse } from './id-ns.js';
import { refuseIfNamespaceHoldsData } from './look-before-write.js';
import { toJson } from './json.js';
import { usage } from './run-identify.js';
import { withController } from './session.js';

export const FORMAT_USAGE = `usage: vfio-node nvme format ADDR -n NSID [-l LBAF] [-s SES] [--force] [-o normal|json]

Format NVM: erases namespace NSID (0xffffffff: all) and switches it to LBA format LBAF.
  -n, --namespace-id  the namespace (required)
  -l, --lbaf          LBA format index (default: the one in use; see id-ns)
  -s, --ses           Secure Erase Settings: 0 none (default), 1 user data erase, 2 cryptographic erase
      --force         do not ask for confirmation (required without a terminal), and format even a
                      namespace that starts or ends with a partition table, filesystem, LVM, ZFS,
                      RAID or swap signature (refused otherwise)`;

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
  if (p.values.force !== true) {
    // Look first: a namespace with a filesystem on it is refused before any question.
    await withController(address, async (ctrl) => {
      for (const id of nsid === 0xffffffff ? ctrl.namespaceIds : [nsid]) await refuseIfNamespaceHoldsData(ctrl, ctrl.namespace(id), 'nvme format', false);
    });
    await confirmFormat(address, nsid, confirm);
  }
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
