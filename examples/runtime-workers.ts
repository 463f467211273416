// runtime-workers: the NVMe controller with two worker threads, each owning an I/O queue
// pair (@vfio-node/runtime). The main thread keeps the controller and sends reads and
// writes to the workers through shared-memory rings (no message per I/O); it can also run
// code on a worker, next to its queue pair, with no hop between threads per I/O.
//
//   node examples/dist/runtime-workers.js 0000:01:00.0 [NSID] [LBA]
//   npx vfio-node lab run -- node examples/dist/runtime-workers.js
//
// It writes 256 blocks from LBA (default 4096) with 256 promises in flight at once (the
// runtime spreads them over the workers' queues), reads them back the same way and
// compares; then each worker checksums its half of the blocks on its own queue pair
// (checksumBlocks below, run with rt.call) and the main thread checks the checksums
// against what it wrote. The blocks are overwritten: use a scratch device. Without an
// address the first one in $VFIO_LAB_NVME is used (the lab sets it).
//
// The workers import this same file to find checksumBlocks: the program itself runs only
// on the main thread (isMainThread below).

import { randomFillSync } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { NvmOpcode } from '@vfio-node/nvme';
import { NvmeRuntime, type QueueContext } from '@vfio-node/runtime';

const WORKERS = 2;
const BLOCKS = 256;

/**
 * Runs on a worker: reads `count` blocks from `lba` on the worker's own queue pair, up
 * to 8 commands in flight (post them, ring the doorbell once, poll the completions), and
 * returns the CRC-32 of the data in LBA order.
 */
export async function checksumBlocks(ctx: QueueContext, args: { nsid: number; lba: number; count: number }): Promise<{ worker: number; qid: number; crc: number }> {
  const qp = ctx.qp;
  const ns = ctx.namespaces.find((n) => n.nsid === args.nsid);
  if (!ns) throw new Error(`no namespace ${args.nsid}`);
  const data = ctx.arena.alloc(args.count * ns.blockSize, { align: ctx.pageSize });
  const depth = 8;
  let submitted = 0;
  let done = 0;
  let failed = 0;
  qp.onComplete = (_cid, status) => {
    done++;
    if (status !== 0) failed++;
  };
  while (done < args.count) {
    while (submitted < args.count && qp.outstanding < depth && qp.canSubmit) {
      const at = submitted * ns.blockSize;
      qp.submitIo(NvmOpcode.Read, args.nsid, args.lba + submitted, 1, Number(data.iova) + at, ns.blockSize, submitted);
      submitted++;
    }
    qp.ring();
    if (qp.poll() === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  if (failed) throw new Error(`${failed} of ${args.count} reads failed`);
  return { worker: ctx.index, qid: ctx.qid, crc: crc32(data.bytes) };
}

async function main(): Promise<void> {
  const address = process.argv[2] ?? process.env.VFIO_LAB_NVME?.split(' ')[0];
  if (!address) {
    console.error('usage: node runtime-workers.js PCI_ADDRESS [NSID] [LBA]');
    process.exit(2);
  }
  const nsid = Number(process.argv[3] ?? 1);
  const first = Number(process.argv[4] ?? 4096);

  await using rt = await NvmeRuntime.open(address, { workers: WORKERS, queueDepth: 32 });
  const ns = rt.namespace(nsid); // the driver Namespace's calls, carried out on the workers' queues
  const bs = ns.blockSize;
  console.log(`${address}: ${rt.workers} workers, one I/O queue pair each; namespace ${nsid} has ${bs}-byte blocks`);

  using written = rt.allocBuffer(BLOCKS * bs);
  using readBack = rt.allocBuffer(BLOCKS * bs);
  randomFillSync(written.bytes);
  const block = (mem: { bytes: Uint8Array }, i: number) => mem.bytes.subarray(i * bs, (i + 1) * bs);

  // Every block its own request: 256 promises at once; a queue takes 32, the rest wait their turn.
  await Promise.all(Array.from({ length: BLOCKS }, (_, i) => ns.write(first + i, 1, block(written, i))));
  await Promise.all(Array.from({ length: BLOCKS }, (_, i) => ns.read(first + i, 1, block(readBack, i))));
  const same = Buffer.compare(written.bytes, readBack.bytes) === 0;
  console.log(`wrote ${BLOCKS} blocks from LBA ${first} and read them back: ${same ? 'identical' : 'DIFFERENT'}`);

  // Each worker checksums its half on its own queue pair.
  const half = BLOCKS / WORKERS;
  const sums = await Promise.all(
    Array.from({ length: WORKERS }, (_, w) => rt.call<{ worker: number; qid: number; crc: number }>(w, import.meta.url, 'checksumBlocks', { nsid, lba: first + w * half, count: half })),
  );
  let agree = true;
  for (const [w, s] of sums.entries()) {
    const expected = crc32(written.bytes.subarray(w * half * bs, (w + 1) * half * bs));
    agree &&= s.crc === expected;
    console.log(`worker ${s.worker} (I/O queue ${s.qid}): CRC-32 of LBA ${first + w * half}..${first + (w + 1) * half - 1} is ${hex(s.crc)}, ${s.crc === expected ? 'as written' : `expected ${hex(expected)}`}`);
  }
  process.exitCode = same && agree ? 0 : 1;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

if (isMainThread) await main();
