// Bdev names, as the command line writes them: `malloc:64M`, `null:1G`, `0000:00:03.0/1`.

import { badName, badSize } from './errors.js';

/** A bdev name, parsed (nothing is opened). */
export type BdevSpec =
  | { kind: 'malloc'; name: string; bytes: number; blockSize: number }
  | { kind: 'null'; name: string; bytes: bigint; blockSize: number }
  | { kind: 'nvme'; name: string; address: string; nsid: number };

const UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };
/** A RAM disk lives in one ArrayBuffer: Node caps those well below this, and a target wants RAM for the rest. */
const MALLOC_MAX = 16n << 30n;

/**
 * Parses a size: a whole number with an optional unit K, M, G or T (powers of 1024, `KiB`
 * and `KB` read the same), e.g. `64M`, `1G`, `4096`.
 * @throws ERR_BDEV_SIZE naming `name`
 */
export function parseSize(text: string, name = text): bigint {
  const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw badSize(name, `'${text}' is not a size`);
  const bytes = BigInt(m[1]!) * UNITS[m[2]!.toUpperCase()]!;
  if (bytes === 0n) throw badSize(name, 'the size is zero');
  return bytes;
}

/**
 * Parses a bdev name: `malloc:SIZE[:BLOCKSIZE]`, `null:SIZE[:BLOCKSIZE]` (block size 512
 * unless given, 512 or 4096) or `DDDD:BB:DD.F/NSID` (an NVMe namespace; the domain
 * `0000:` may be left out).
 * @throws ERR_BDEV_NAME for a name of no known form, ERR_BDEV_SIZE for a bad size
 */
export function parseBdevName(name: string): BdevSpec {
  if (typeof name !== 'string' || name.length === 0) throw badName(String(name), 'empty');
  const mem = /^(malloc|null):([^:]*)(?::([^:]*))?$/.exec(name);
  if (mem) {
    const kind = mem[1] as 'malloc' | 'null';
    if (!mem[2]) throw badName(name, `${kind}: needs a size, e.g. ${kind}:64M`);
    const bytes = parseSize(mem[2], name);
    const blockSize = mem[3] === undefined ? 512 : Number(parseSize(mem[3], name));
    if (blockSize !== 512 && blockSize !== 4096) throw badSize(name, `block size ${mem[3]} is neither 512 nor 4096`);
    if (bytes % BigInt(blockSize) !== 0n) throw badSize(name, `${bytes} bytes is not a whole number of ${blockSize}-byte blocks`);
    if (kind === 'null') return { kind, name, bytes, blockSize };
    if (bytes > MALLOC_MAX) throw badSize(name, `a RAM disk of ${bytes} bytes is more than the ${MALLOC_MAX >> 30n} GiB a malloc bdev may take`);
    return { kind, name, bytes: Number(bytes), blockSize };
  }
  const pci = /^((?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])(?:\/(.*))?$/.exec(name);
  if (pci) {
    if (pci[2] === undefined) throw badName(name, 'an NVMe bdev names its namespace: ADDRESS/NSID, e.g. 0000:00:03.0/1');
    const nsid = /^\d+$/.test(pci[2]) ? Number(pci[2]) : NaN;
    // NSID 0 and FFFFFFFFh are never a namespace (Base 2.0 §3.2.1.2).
    if (!Number.isInteger(nsid) || nsid < 1 || nsid >= 0xffffffff) throw badName(name, `namespace id '${pci[2]}' is not 1 to 4294967294`);
    const address = (pci[1]!.length === 7 ? `0000:${pci[1]}` : pci[1]!).toLowerCase();
    return { kind: 'nvme', name, address, nsid };
  }
  if (/^[a-z]+:/i.test(name) && !/^[0-9a-f]{2,4}:/i.test(name)) throw badName(name, `unknown kind '${name.split(':')[0]}' (malloc, null or a PCI address)`);
  throw badName(name, 'not malloc:SIZE, null:SIZE or a PCI address with /NSID');
}
