// `nvme list`: one line per namespace of every NVMe controller, with nvme-cli's columns
// (Node, SN, Model, Namespace, Usage, Format, FW Rev). The Node is the controller's PCI
// address, since a controller bound to vfio-pci has no /dev/nvmeXnY. JSON: nvme-cli's
// {"Devices": [...]} with the same keys.

import { binaryScale, siScale } from './cfmt.js';
import type { JsonValue } from './json.js';

export interface ListRow {
  /** PCI address of the controller. */
  node: string;
  sn: string;
  model: string;
  fw: string;
  nsid: number;
  /** NUSE and NSZE in logical blocks, and the block and metadata sizes of the format in use. */
  nuse: bigint;
  nsze: bigint;
  blockSize: number;
  metadataSize: number;
}

const COLUMNS: Array<[string, number]> = [['Node', 21], ['SN', 20], ['Model', 40], ['Namespace', 10], ['Usage', 26], ['Format', 16], ['FW Rev', 8]];

/** "%6.2f %2sB / %6.2f %2sB": used and total bytes with SI prefixes. */
export function usageText(nuse: bigint, nsze: bigint, blockSize: number): string {
  const [u, us] = siScale(Number(nuse) * blockSize);
  const [s, ss] = siScale(Number(nsze) * blockSize);
  return `${u.toFixed(2).padStart(6)} ${us.padStart(2)}B / ${s.toFixed(2).padStart(6)} ${ss.padStart(2)}B`;
}

/** "%3.0f %2sB + %2d B": the LBA size with a binary prefix, and the metadata size. */
export function formatText(blockSize: number, metadataSize: number): string {
  const [v, p] = binaryScale(blockSize);
  return `${v.toFixed(0).padStart(3)} ${p.padStart(2)}B + ${String(metadataSize).padStart(2)} B`;
}

/** The `nvme list` table. */
export function listNormal(rows: ListRow[]): string {
  const cells = rows.map((r) => [r.node, r.sn, r.model, '0x' + r.nsid.toString(16), usageText(r.nuse, r.nsze, r.blockSize), formatText(r.blockSize, r.metadataSize), r.fw]);
  const widths = COLUMNS.map(([name, w], i) => Math.max(w, name.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join(' ');
  return [line(COLUMNS.map(([n]) => n)), widths.map((w) => '-'.repeat(w)).join(' '), ...cells.map(line)].join('\n');
}

/** `nvme list -o json`. */
export function listJson(rows: ListRow[]): JsonValue {
  return {
    Devices: rows.map((r) => ({
      NameSpace: r.nsid,
      DevicePath: r.node,
      Firmware: r.fw,
      ModelNumber: r.model,
      SerialNumber: r.sn,
      UsedBytes: r.nuse * BigInt(r.blockSize),
      MaximumLBA: r.nsze,
      PhysicalSize: r.nsze * BigInt(r.blockSize),
      SectorSize: r.blockSize,
    })),
  };
}
