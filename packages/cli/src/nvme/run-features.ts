// `vfio-node nvme get-feature | set-feature ADDR -f FID`: Get Features and Set Features
// (NVM Express Base Specification 2.0, "Get Features command", "Set Features command").
// The value is completion DW0 (get) or CDW11 (set); the features that move a data
// structure are refused, except Timestamp, which the driver reads for us.

import { VfioError } from '@vfio-node/core';
import { NSID_OPTION, addressArg, missingOption, optUint, parseNvmeArgs, reqUint } from './args.js';
import { DATA_FEATURES, featureFields, featureName, getFeatureJson, getFeatureLine, setFeatureLine } from './features.js';
import { toJson } from './json.js';
import { usage } from './run-identify.js';
import { withController } from './session.js';

const TIMESTAMP = 0x0e;

export const GET_FEATURE_USAGE = `usage: vfio-node nvme get-feature ADDR -f FID [-s SEL] [-n NSID] [--cdw11 V] [-H] [-o normal|json]

Get Features: prints the feature's value (completion DW0).
  -f, --feature-id       the Feature Identifier (e.g. 7 or 0x07: Number of Queues)
  -s, --sel              0 current (default), 1 default, 2 saved, 3 supported capabilities
  -n, --namespace-id     for namespace-specific features
  -c, --cdw11            Command Dword 11 (some features take a selector there)
  -H, --human-readable   decode the value's fields
  -o, --output-format    normal (default) or json`;

export async function getFeature(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('get-feature', argv, {
    'feature-id': { type: 'string', short: 'f' },
    sel: { type: 'string', short: 's' },
    cdw11: { type: 'string', short: 'c' },
    'human-readable': { type: 'boolean', short: 'H' },
    ...NSID_OPTION,
  });
  if (p.help) return usage(GET_FEATURE_USAGE);
  const address = addressArg('get-feature', p);
  const fid = reqUint('get-feature', p, 'feature-id', 'f', 0xff, 'Give the Feature Identifier with -f FID (e.g. -f 7 for Number of Queues).');
  const sel = optUint(p, 'sel', 3) ?? 0;
  const nsid = optUint(p, 'namespace-id', 0xffffffff) ?? 0;
  const cdw11 = optUint(p, 'cdw11', 0xffffffff) ?? 0;
  refuseDataFeature('get-feature', fid, fid === TIMESTAMP && sel === 0);
  const value = await withController(address, async (ctrl) => {
    if (fid === TIMESTAMP) return ctrl.admin.getTimestamp();
    return ctrl.admin.getFeatures(fid, { sel, nsid, cdw11 });
  });
  if (fid === TIMESTAMP) {
    // Timestamp comes back in a data structure, not DW0: milliseconds since the epoch.
    if (p.format === 'json') console.log(toJson({ [`feature: 0x0e`]: { name: featureName(fid), timestamp: value } }));
    else console.log(`${getFeatureLine(fid, sel, 0)}\n\tThe timestamp is : ${value} (${new Date(value).toISOString()})`);
    return 0;
  }
  if (p.format === 'json') {
    console.log(toJson(getFeatureJson(fid, sel, value)));
    return 0;
  }
  console.log(getFeatureLine(fid, sel, value));
  if (p.values['human-readable'] === true) for (const line of featureFields(fid, value >>> 0)) console.log(line);
  return 0;
}

export const SET_FEATURE_USAGE = `usage: vfio-node nvme set-feature ADDR -f FID -V VALUE [--save] [-n NSID] [-o normal|json]

Set Features: sets the feature to VALUE (CDW11).
  -f, --feature-id       the Feature Identifier
  -V, --value            the new value (decimal or 0x hex)
  -s, --save             keep it across power cycles (SV, needs ONCS Save/Select)
  -n, --namespace-id     for namespace-specific features`;

export async function setFeature(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('set-feature', argv, {
    'feature-id': { type: 'string', short: 'f' },
    value: { type: 'string', short: 'V' },
    save: { type: 'boolean', short: 's' },
    ...NSID_OPTION,
  });
  if (p.help) return usage(SET_FEATURE_USAGE);
  const address = addressArg('set-feature', p);
  const fid = reqUint('set-feature', p, 'feature-id', 'f', 0xff, 'Give the Feature Identifier with -f FID.');
  if (p.values.value === undefined) throw missingOption('set-feature', 'value', 'V', 'Give the new value with -V VALUE (CDW11).');
  const value = reqUint('set-feature', p, 'value', 'V', 0xffffffff);
  const save = p.values.save === true;
  const nsid = optUint(p, 'namespace-id', 0xffffffff) ?? 0;
  refuseDataFeature('set-feature', fid, false);
  await withController(address, (ctrl) => ctrl.admin.setFeatures(fid, value, { save, nsid }));
  if (p.format === 'json') console.log(toJson({ [`feature: 0x${fid.toString(16).padStart(2, '0')}`]: { name: featureName(fid), value, save: save ? 1 : 0 } }));
  else console.log(setFeatureLine(fid, value, 0, save));
  return 0;
}

function refuseDataFeature(sub: string, fid: number, allowed: boolean): void {
  if (!DATA_FEATURES.has(fid) || allowed) return;
  throw new VfioError({
    code: 'ERR_NVME_FEATURE_NEEDS_DATA',
    message: `nvme ${sub}: feature 0x${fid.toString(16).padStart(2, '0')} (${featureName(fid)}) moves a data structure, which vfio-node's ${sub} does not transfer`,
    hint: fid === TIMESTAMP ? 'Read the timestamp with -s 0 (current); setting it is ctrl.admin.setTimestamp() in @vfio-node/nvme.' : 'Features with a value in DW0/CDW11 work (e.g. 0x01, 0x02, 0x04-0x0b).',
  });
}
