// `vfio-node nvme id-ctrl ADDR` and `vfio-node nvme id-ns ADDR -n NSID`.

import { Cns } from '@vfio-node/nvme';
import { NSID_OPTION, addressArg, nsidArg, parseNvmeArgs } from './args.js';
import { idCtrlJson, idCtrlNormal } from './id-ctrl.js';
import { idNsJson, idNsNormal } from './id-ns.js';
import { print, withController } from './session.js';

export const ID_CTRL_USAGE = `usage: vfio-node nvme id-ctrl ADDR [-H] [-o normal|json]

Identify Controller (CNS 01h), printed as nvme-cli prints it.
  -H, --human-readable   decode some bit fields (oacs, oncs, fuses, vwc, sqes, cqes)
  -o, --output-format    normal (default) or json`;

export async function idCtrl(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('id-ctrl', argv, { 'human-readable': { type: 'boolean', short: 'H' } });
  if (p.help) return usage(ID_CTRL_USAGE);
  const address = addressArg('id-ctrl', p);
  const data = await withController(address, (ctrl) => ctrl.admin.identify(Cns.Controller));
  print(p.format, () => idCtrlNormal(data, p.values['human-readable'] === true), () => idCtrlJson(data));
  return 0;
}

export const ID_NS_USAGE = `usage: vfio-node nvme id-ns ADDR -n NSID [-H] [-o normal|json]

Identify Namespace (CNS 00h) of namespace NSID.
  -n, --namespace-id     the namespace (required)
  -H, --human-readable   spell the LBA formats out
  -o, --output-format    normal (default) or json`;

export async function idNs(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('id-ns', argv, { ...NSID_OPTION, 'human-readable': { type: 'boolean', short: 'H' } });
  if (p.help) return usage(ID_NS_USAGE);
  const address = addressArg('id-ns', p);
  const nsid = nsidArg('id-ns', p);
  // Sent to the controller as asked (not checked against the active list), as nvme-cli does.
  const data = await withController(address, (ctrl) => ctrl.admin.identify(Cns.Namespace, nsid));
  print(p.format, () => idNsNormal(data, nsid, p.values['human-readable'] === true), () => idNsJson(data));
  return 0;
}

export function usage(text: string): number {
  console.log(text);
  return 0;
}
