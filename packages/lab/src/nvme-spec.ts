// One emulated NVMe controller, as `--nvme` describes it: comma-separated key=value,
// e.g. `size=1G,lba=4096,namespaces=2,mdts=5,ioqpairs=4,serial=S,image=/var/tmp/n.img`.

import { invalidOption } from './errors.js';
import fs from 'node:fs';
import { parseSize } from './size.js';

/** Where a namespace's blocks live on the host. */
export type NvmeBacking = 'file' | 'null';

/** How QEMU does a file namespace's I/O (its file driver's `aio=`): a thread pool, or io_uring. */
export type NvmeAio = 'threads' | 'io_uring';

/** A blkdebug error injection: every `event` touching 512-byte `sector` fails with EIO. */
export interface NvmeInjection {
  event: 'read' | 'write';
  sector: number;
}

/**
 * One emulated NVMe controller as `--nvme` describes it: size, LBA format, namespaces, MDTS, queue pairs,
 * serial, backing image and injected faults.
 */
export interface NvmeSpec {
  /** Bytes per namespace. */
  size: number;
  /** Logical block size of every namespace (the controller also offers the other format). */
  lba: 512 | 4096;
  /** Number of namespaces, nsid 1..N, each `size` bytes. */
  namespaces: number;
  /** Maximum Data Transfer Size as QEMU's `mdts=` (a power of two of the minimum page size); undefined = QEMU's default (7). */
  mdts?: number;
  /** QEMU's `max_ioqpairs=`; undefined = QEMU's default. */
  ioqpairs?: number;
  /** Serial Number (Identify Controller SN, at most 20 characters). */
  serial: string;
  /** A host file as backing store for namespace 1 (namespace k > 1 uses `${image}.${k}`); created or grown to `size`; without size=, an existing file gives the size. */
  image?: string;
  /** Behind a PCIe root port, so that the monitor's `device_del nvmeN` can remove it. */
  hotplug: boolean;
  /** Media errors on demand (file backing only). */
  inject?: NvmeInjection;
  /** `null`: QEMU's null-co driver (reads return zeroes, writes vanish). */
  backing: NvmeBacking;
  /** With null backing: delay every command by this many nanoseconds. */
  latencyNs?: number;
  /**
   * File backing: `aio=io_uring` makes QEMU submit reads and writes from its main loop
   * with io_uring (page-cache hits complete inline) instead of handing each one to a
   * worker thread and back (`threads`, QEMU's default). Fewer thread hand-offs per
   * command: lower and steadier latency under TCG on few host CPUs.
   */
  aio?: NvmeAio;
}

const KEYS = ['size', 'lba', 'namespaces', 'mdts', 'ioqpairs', 'serial', 'image', 'hotplug', 'inject', 'latency', 'backing', 'aio'] as const;

/** The spec with nothing given: 1 GiB, 512-byte LBAs, one namespace, serial VFIONODE<index>, a sparse temporary file. */
export function defaultNvmeSpec(index = 0): NvmeSpec {
  return { size: 2 ** 30, lba: 512, namespaces: 1, serial: `VFIONODE${index}`, hotplug: false, backing: 'file' };
}

/**
 * Parses an `--nvme` spec.
 * @param text comma-separated key=value pairs (empty = all defaults)
 * @param index the controller's position, for the default serial and error messages
 * @throws LabError ERR_INVALID_ARG naming the key that is wrong
 */
export function parseNvmeSpec(text: string, index = 0): NvmeSpec {
  const spec = defaultNvmeSpec(index);
  const what = (key: string) => `--nvme ${key} (controller ${index})`;
  let sized = false;
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    switch (key as (typeof KEYS)[number]) {
      case 'size':
        spec.size = parseSize(value, what('size'));
        sized = true;
        break;
      case 'lba':
        if (value !== '512' && value !== '4096') throw invalidOption(what('lba'), value, '512 or 4096');
        spec.lba = Number(value) as 512 | 4096;
        break;
      case 'namespaces':
        spec.namespaces = integer(what('namespaces'), value, 1, 256);
        break;
      case 'mdts':
        spec.mdts = integer(what('mdts'), value, 0, 15);
        break;
      case 'ioqpairs':
        spec.ioqpairs = integer(what('ioqpairs'), value, 1, 1024);
        break;
      case 'serial':
        if (!/^[\x21-\x7e]{1,20}$/.test(value) || value.includes(',')) {
          throw invalidOption(what('serial'), value, '1 to 20 printable ASCII characters, no comma or space');
        }
        spec.serial = value;
        break;
      case 'image':
        if (!value) throw invalidOption(what('image'), value, 'a host file path');
        spec.image = value;
        break;
      case 'hotplug':
        spec.hotplug = flag(what('hotplug'), value);
        break;
      case 'inject': {
        const m = /^(read|write):(\d+)$/.exec(value);
        if (!m) throw invalidOption(what('inject'), value, 'read:SECTOR or write:SECTOR');
        spec.inject = { event: m[1] as 'read' | 'write', sector: Number(m[2]) };
        break;
      }
      case 'latency':
        spec.latencyNs = integer(what('latency'), value, 0, Number.MAX_SAFE_INTEGER);
        spec.backing = 'null';
        break;
      case 'backing':
        if (value !== 'null' && value !== 'file') throw invalidOption(what('backing'), value, 'null or file');
        spec.backing = value;
        break;
      case 'aio':
        if (value !== 'threads' && value !== 'io_uring') throw invalidOption(what('aio'), value, 'threads or io_uring');
        spec.aio = value;
        break;
      default:
        throw invalidOption(`--nvme key (controller ${index})`, key, `one of ${KEYS.join(', ')}`);
    }
  }
  if (spec.image && !sized) spec.size = imageSize(spec.image, spec.size, index);
  validate(spec, index);
  return spec;
}

/**
 * The size of an existing image file (a namespace as large as the file, never grown
 * silently), or `fallback` for a file that does not exist yet (it is created that size).
 * @throws LabError ERR_INVALID_ARG for an empty file or one that is not a regular file
 */
export function imageSize(image: string, fallback: number, index = 0): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(image);
  } catch {
    return fallback;
  }
  if (!st.isFile() || st.size === 0) {
    throw invalidOption(`--nvme image (controller ${index})`, image, 'a regular, non-empty file (or a path that does not exist yet)', 'Give size= to create a new image, or name another file.');
  }
  return st.size;
}

/** Checks the combinations a single key cannot: size against lba, backing against image and inject. */
export function validate(spec: NvmeSpec, index = 0): NvmeSpec {
  const what = (key: string) => `--nvme ${key} (controller ${index})`;
  if (spec.size < spec.lba || spec.size % spec.lba !== 0) {
    throw invalidOption(what('size'), spec.size, `a non-zero multiple of the ${spec.lba}-byte LBA size`);
  }
  if (spec.backing === 'null') {
    if (spec.image) throw invalidOption(what('image'), spec.image, 'no image with backing=null or latency=');
    if (spec.inject) throw invalidOption(what('inject'), `${spec.inject.event}:${spec.inject.sector}`, 'file backing (no backing=null or latency=)');
  }
  if (spec.aio !== undefined && spec.backing === 'null') {
    throw invalidOption(what('aio'), spec.aio, 'file backing (no backing=null or latency=)');
  }
  if (spec.latencyNs !== undefined && spec.backing !== 'null') {
    throw invalidOption(what('backing'), spec.backing, 'null when latency= is given');
  }
  return spec;
}

function integer(what: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidOption(what, value, `an integer from ${min} to ${max}`);
  return n;
}

function flag(what: string, value: string): boolean {
  if (value === '' || value === '1' || value === 'on' || value === 'true') return true;
  if (value === '0' || value === 'off' || value === 'false') return false;
  throw invalidOption(what, value, '1 or 0');
}
