// The benchmark through the block layer, --ioengine=vfio-bdev: the same jobs as
// vfio-runtime, but every request goes through @vfio-node/bdev's NVMe bdev (its range and
// buffer checks, its async wrapper, BigInt LBAs) on top of the runtime's promise API. Run
// beside --ioengine=vfio-runtime in one boot, it measures what the block layer costs an
// embedder or the NVMe/TCP target (issue 17: "it must not add measurable cost").

import { NvmeBdev, type Bdev } from '@vfio-node/bdev';
import { NvmeRuntime } from '@vfio-node/runtime';
import type { RuntimeEngineNamespace, RuntimeEngineRuntime, RuntimeOpener } from './runtime-target.js';

/** A bdev as the runtime engine's namespace: the engine's numbers become the bdev's BigInt LBAs. */
function bdevNamespace(bdev: Bdev): RuntimeEngineNamespace {
  return {
    blockSize: bdev.blockSize,
    blocks: bdev.blocks,
    read: (lba, blocks, buffer) => bdev.read(BigInt(lba), blocks, buffer),
    write: (lba, blocks, buffer) => bdev.write(BigInt(lba), blocks, buffer),
    deallocate: (ranges) => bdev.deallocate(ranges.map((r) => ({ lba: BigInt(r.lba), blocks: r.blocks }))),
    // The bdev's DMA memory: it transfers these buffers without a bounce copy.
    allocBuffer: (size) => bdev.allocBuffer(size),
  };
}

/**
 * Opens a runtime on `address` as the vfio-runtime engine does (NvmeRuntime.open(address,
 * { workers })) and gives each namespace as one NVMe bdev over it, shared by the jobs on it.
 */
export const openBdevRuntime: RuntimeOpener = async (address, workers) => {
  const rt = await NvmeRuntime.open(address, { workers });
  const bdevs = new Map<number, NvmeBdev>();
  return {
    controller: rt.controller,
    namespace(nsid) {
      let bdev = bdevs.get(nsid);
      if (!bdev) {
        // Its queue depth: what the runtime's queues hold together (one slot per ring stays empty).
        bdev = new NvmeBdev(`${address}/${nsid}`, rt, rt.namespace(nsid), rt.workers * 255, async () => {});
        bdevs.set(nsid, bdev);
      }
      return bdevNamespace(bdev);
    },
    allocBuffer: (size) => rt.allocBuffer(size),
    async close() {
      for (const b of bdevs.values()) await b.close();
      bdevs.clear();
      await rt.close();
    },
  } satisfies RuntimeEngineRuntime;
};
