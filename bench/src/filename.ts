// What --filename names: an NVMe namespace behind a PCI function. Two spellings:
//   ours:  0000:00:03.0/1          (DDDD:BB:DD.F, a slash, the namespace id; "/1" may be omitted)
//   SPDK's fio plugin: "trtype=PCIe traddr=0000.00.03.0 ns=1"  (dots instead of colons,
//   because fio reserves ':' to separate several filenames).

import { invalidArgument } from '@vfio-node/core';

/** An NVMe namespace named by --filename: the PCI address and the namespace id. */
export interface NvmeTargetSpec {
  /** Canonical DDDD:BB:DD.F, lower case. */
  address: string;
  /** Namespace id (NSID), 1-based. */
  nsid: number;
}

const BDF = /^(?:([0-9a-f]{4})[:.])?([0-9a-f]{2})[:.]([01][0-9a-f])\.([0-7])$/i;

/**
 * Parses a --filename value into a PCI address and namespace id.
 * @throws VfioError ERR_INVALID_ARG naming --filename and both accepted spellings.
 */
export function parseFilename(text: string): NvmeTargetSpec {
  const t = text.trim();
  if (/\btrtype=/i.test(t) || /\btraddr=/i.test(t)) return parseSpdk(t);
  const slash = t.lastIndexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const ns = slash < 0 ? '1' : t.slice(slash + 1);
  return { address: canonical(addr, text), nsid: nsid(ns, text) };
}

function parseSpdk(text: string): NvmeTargetSpec {
  const kv = new Map<string, string>();
  for (const word of text.split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq > 0) kv.set(word.slice(0, eq).toLowerCase(), word.slice(eq + 1));
  }
  const trtype = kv.get('trtype');
  if (trtype && trtype.toLowerCase() !== 'pcie') throw bad(text, `trtype=${trtype} (only PCIe is a local device)`);
  const traddr = kv.get('traddr');
  if (!traddr) throw bad(text, 'no traddr=');
  return { address: canonical(traddr, text), nsid: nsid(kv.get('ns') ?? '1', text) };
}

function canonical(addr: string, text: string): string {
  const m = BDF.exec(addr);
  if (!m) throw bad(text, `'${addr}' is not a PCI address`);
  return `${(m[1] ?? '0000').toLowerCase()}:${m[2]!.toLowerCase()}:${m[3]!.toLowerCase()}.${m[4]}`;
}

function nsid(s: string, text: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 0xfffffffe) throw bad(text, `namespace '${s}' is not an NSID from 1 to 0xfffffffe`);
  return Number(s);
}

function bad(text: string, why: string) {
  return invalidArgument('--filename', text, `a PCI address and namespace such as 0000:00:03.0/1, or SPDK's "trtype=PCIe traddr=0000.00.03.0 ns=1" (${why})`, "Find the address with 'vfio-node list'.");
}
