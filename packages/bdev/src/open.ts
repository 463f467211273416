// Opening bdevs by name. NVMe bdevs on the same controller share one NvmeRuntime (one
// set of worker-owned queue pairs): the runtime opens with the first and closes with the
// last.

import type { NvmeRuntime, NvmeRuntimeOptions } from '@vfio-node/runtime';
import type { Bdev } from './bdev.js';
import { MallocBdev } from './malloc.js';
import { parseBdevName } from './name.js';
import { NullBdev } from './null.js';
import { NvmeBdev } from './nvme.js';

/** Options of {@link openBdev}. */
export interface OpenBdevOptions {
  /** Options for the NvmeRuntime of an NVMe bdev (workers, queueDepth...). Default: 1 worker, queue depth 128. */
  runtime?: NvmeRuntimeOptions;
}

interface SharedRuntime {
  rt: Promise<NvmeRuntime>;
  users: number;
}
const runtimes = new Map<string, SharedRuntime>();

/**
 * Opens the bdev a name names (see {@link parseBdevName}): a RAM disk, a null device, or an
 * NVMe namespace through an NvmeRuntime on a controller bound to vfio-pci.
 * @throws ERR_BDEV_NAME, ERR_BDEV_SIZE; for NVMe, whatever NvmeRuntime.open and
 *   rt.namespace throw (ERR_NOT_BOUND_TO_VFIO, ERR_NVME_NO_SUCH_NAMESPACE...)
 */
export async function openBdev(name: string, options: OpenBdevOptions = {}): Promise<Bdev> {
  const spec = parseBdevName(name);
  if (spec.kind === 'malloc') return new MallocBdev(spec.name, spec.bytes, spec.blockSize);
  if (spec.kind === 'null') return new NullBdev(spec.name, spec.bytes, spec.blockSize);

  const rtOptions: NvmeRuntimeOptions = { workers: 1, queueDepth: 128, ...options.runtime };
  let shared = runtimes.get(spec.address);
  if (!shared) {
    const { NvmeRuntime } = await import('@vfio-node/runtime');
    shared = { rt: NvmeRuntime.open(spec.address, rtOptions), users: 0 };
    runtimes.set(spec.address, shared);
  }
  shared.users++;
  const entry = shared;
  const release = async (): Promise<void> => {
    if (--entry.users > 0) return;
    runtimes.delete(spec.address);
    await (await entry.rt).close();
  };
  let rt: NvmeRuntime;
  try {
    rt = await entry.rt;
  } catch (err) {
    if (--entry.users === 0) runtimes.delete(spec.address);
    throw err;
  }
  try {
    const ns = rt.namespace(spec.nsid);
    // One queue slot per queue stays empty (a full ring has head = tail + 1).
    const depth = rt.workers * ((rtOptions.queueDepth ?? 128) - 1);
    return new NvmeBdev(spec.name, rt, ns, depth, release);
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * Opens every name in order; when one fails, closes those already open and throws its error.
 */
export async function openBdevs(names: readonly string[], options: OpenBdevOptions = {}): Promise<Bdev[]> {
  const out: Bdev[] = [];
  try {
    for (const n of names) out.push(await openBdev(n, options));
    return out;
  } catch (err) {
    for (const b of out.reverse()) await b.close().catch(() => {});
    throw err;
  }
}
