// Destructive commands look before they write: the first and last MiB of the namespace
// are read through the driver's own read path (Namespace.readAt, split at MDTS) and
// checked for a partition table, filesystem or volume member (detectSignatures). What
// is found is named in the refusal; --force skips the look.

import { describeSignatures, detectSignatures, signaturesFound, signatureWindows, windowReader, type Signature } from '@vfio-node/core';
import type { Namespace, NvmeController } from '@vfio-node/nvme';

/** Bytes read per command while looking: small DMA memory, a few commands per window. */
const CHUNK = 128 * 1024;

/** The signatures at the start and end of a namespace, read through the driver. */
export async function namespaceSignatures(ctrl: NvmeController, ns: Namespace): Promise<Signature[]> {
  const size = Number(ns.size);
  const chunk = Math.max(ns.blockSize, CHUNK - (CHUNK % ns.blockSize));
  const mem = ctrl.allocBuffer(Math.ceil(chunk / ctrl.pageSize) * ctrl.pageSize);
  try {
    const windows = [];
    for (const w of signatureWindows(size, ns.blockSize)) {
      const data = new Uint8Array(w.length);
      for (let at = 0; at < w.length; at += chunk) {
        const n = Math.min(chunk, w.length - at);
        await ns.readAt(w.offset + at, mem.bytes.subarray(0, n));
        data.set(mem.bytes.subarray(0, n), at);
      }
      windows.push({ ...w, data });
    }
    return detectSignatures(windowReader(windows), size);
  } finally {
    mem.release();
  }
}

/**
 * Refuses (ERR_SIGNATURES_FOUND, naming what is there) to let `command` write a
 * namespace that holds a partition table, filesystem or volume member, unless forced.
 */
export async function refuseIfNamespaceHoldsData(ctrl: NvmeController, ns: Namespace, command: string, force: boolean): Promise<void> {
  if (force) return;
  const found = await namespaceSignatures(ctrl, ns);
  if (found.length) throw signaturesFound(`namespace ${ns.nsid} of ${ctrl.address}`, describeSignatures(found), command);
}
