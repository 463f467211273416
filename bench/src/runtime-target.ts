// The benchmark's second NVMe engine, --ioengine=vfio-runtime: the same jobs driven the way
// an embedding program drives the device, through @vfio-node/runtime's promise API from the
// main thread (rt.namespace(nsid).read/write into buffers from rt.allocBuffer). The direct
// engine (nvme-target.ts, on the worker that owns the queue pair) measures the driver; this
// one measures what an embedder pays on top: the request rings to the worker and back, the
// promise per I/O, the event loop turns. The engine loop (engine.ts, job-runner.ts) is the
// same for both, so the statistics are the same kind: clat runs from the call that issued
// the request to the moment its settled promise reached the engine.
//
// Each slot's callbacks are made once, when the slots are allocated: an I/O allocates the
// runtime's promise and the one .then() makes, nothing of ours.

import type { DmaMemory } from '@vfio-node/core';
import { NvmeRuntime } from '@vfio-node/runtime';
import type { NvmeTargetSpec } from './filename.js';
import { IO_READ, IO_WRITE, type IoDirection, type IoTarget } from './io-target.js';
import type { ResolvedJob } from './jobfile.js';

/** The status a rejected request reports to the engine when it has no NVMe status (ERR_WORKER_EXIT, a closed runtime). */
export const RUNTIME_STATUS_REJECTED = -1;

/** What the engine uses of one runtime namespace: its geometry and the two promise calls. */
export interface RuntimeEngineNamespace {
  /** Logical block size in bytes. */
  readonly blockSize: number;
  /** Namespace size in blocks (NSZE). */
  readonly blocks: bigint;
  /** Reads `blocks` blocks at `lba` into `buffer` (DMA memory). */
  read(lba: number, blocks: number, buffer: Uint8Array): Promise<void>;
  /** Writes `blocks` blocks from `buffer` to `lba`. */
  write(lba: number, blocks: number, buffer: Uint8Array): Promise<void>;
  /** Deallocates ("trims") the ranges: Dataset Management with the Deallocate attribute. */
  deallocate(ranges: Array<{ lba: number; blocks: number }>): Promise<void>;
  /** Buffers this namespace transfers without a copy, when they are not simply the runtime's allocBuffer (a bdev's). */
  allocBuffer?(size: number): Pick<DmaMemory, 'bytes' | 'release'>;
}

/**
 * What the engine uses of an open runtime: what an embedder uses (NvmeRuntime satisfies it;
 * unit tests give a double).
 */
export interface RuntimeEngineRuntime {
  /** The namespace's promise API. @throws ERR_NVME_NO_SUCH_NAMESPACE */
  namespace(nsid: number): RuntimeEngineNamespace;
  /** DMA memory the runtime's queues can transfer to and from. */
  allocBuffer(size: number): Pick<DmaMemory, 'bytes' | 'release'>;
  /** The controller's largest transfer per command (MDTS), bytes. */
  readonly controller: { readonly maxTransfer: number };
  /** Closes the runtime: its workers, queue pairs and controller. */
  close(): Promise<void>;
}

/** Opens a runtime on `address` with `workers` worker threads (the default opener: NvmeRuntime.open with default options). */
export type RuntimeOpener = (address: string, workers: number) => Promise<RuntimeEngineRuntime>;

/** An embedder's runtime: NvmeRuntime.open(address, { workers }) and nothing else set. */
export const openDefaultRuntime: RuntimeOpener = (address, workers) => NvmeRuntime.open(address, { workers });

/** Everything a RuntimeTarget needs: the runtime, the namespace and a name for reports. */
export interface RuntimeTargetInit {
  runtime: RuntimeEngineRuntime;
  nsid: number;
  /** "0000:00:03.0/1" */
  name: string;
}

/**
 * One job's view of a namespace through the runtime's promise API, shaped as an IoTarget:
 * submit() calls read()/write() at once (the runtime submits each request itself, so flush()
 * has nothing to do), each settled promise puts its slot on a completion list that poll()
 * empties, and wait() resolves when a promise settles.
 */
export class RuntimeTarget implements IoTarget {
  readonly blockSize: number;
  readonly capacityBytes: number;
  /**
   * The runtime queues what its rings cannot take (in order, per worker), so any depth the
   * job asks for is accepted; fio's iodepth limit is the limit.
   */
  readonly maxQueueDepth = 65535;
  readonly maxTransferBytes: number;
  readonly name: string;
  private readonly runtime: RuntimeEngineRuntime;
  private readonly ns: RuntimeEngineNamespace;
  private readonly shift: number;
  private memory: Pick<DmaMemory, 'bytes' | 'release'> | null = null;
  private buffers: Uint8Array[] = [];
  private onDone: Array<() => void> = [];
  private onFail: Array<(err: unknown) => void> = [];
  /** Why each slot's last request failed (the runtime's error message), for the job's verror. */
  private failures: Array<string | undefined> = [];
  // Settled requests not yet reaped, in the order they settled.
  private doneSlots = new Uint32Array(0);
  private doneStatus = new Int32Array(0);
  private doneCount = 0;
  // The pending wait(): one promise, resolved by the next settled request.
  private waiter: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(init: RuntimeTargetInit) {
    this.ns = init.runtime.namespace(init.nsid);
    this.blockSize = this.ns.blockSize;
    this.shift = Math.log2(this.ns.blockSize);
    this.capacityBytes = Number(this.ns.blocks) * this.ns.blockSize;
    this.maxTransferBytes = init.runtime.controller.maxTransfer;
    this.name = init.name;
    this.runtime = init.runtime;
  }

  allocSlots(slots: number, length: number): Uint8Array[] {
    // One allocation, a page-aligned stride per slot (the runtime builds PRPs from the IOVA).
    const stride = Math.ceil(length / 4096) * 4096;
    const memory = this.ns.allocBuffer ? this.ns.allocBuffer(slots * stride) : this.runtime.allocBuffer(slots * stride);
    this.memory = memory;
    this.buffers = [];
    this.onDone = [];
    this.onFail = [];
    this.failures = new Array<string | undefined>(slots).fill(undefined);
    this.doneSlots = new Uint32Array(slots);
    this.doneStatus = new Int32Array(slots);
    for (let i = 0; i < slots; i++) {
      this.buffers.push(memory.bytes.subarray(i * stride, i * stride + length));
      this.onDone.push(() => this.settled(i, 0));
      this.onFail.push((err) => {
        this.failures[i] = err instanceof Error ? err.message : String(err);
        this.settled(i, statusOf(err));
      });
    }
    return this.buffers.slice();
  }

  submit(dir: IoDirection, offset: number, length: number, slot: number): void {
    const lba = Math.floor(offset / this.blockSize);
    const blocks = length >>> this.shift;
    const buf = this.buffers[slot]!;
    const p = dir === IO_READ ? this.ns.read(lba, blocks, buf) : dir === IO_WRITE ? this.ns.write(lba, blocks, buf) : this.ns.deallocate([{ lba, blocks }]);
    p.then(this.onDone[slot], this.onFail[slot]);
  }

  /** Nothing to ring: each read()/write() call reached the runtime's request ring itself. */
  flush(): void {}

  poll(slots: Uint32Array, status: Int32Array, max: number): number {
    const n = Math.min(max, this.doneCount);
    for (let k = 0; k < n; k++) {
      slots[k] = this.doneSlots[k]!;
      status[k] = this.doneStatus[k]!;
    }
    if (n < this.doneCount) {
      this.doneSlots.copyWithin(0, n, this.doneCount);
      this.doneStatus.copyWithin(0, n, this.doneCount);
    }
    this.doneCount -= n;
    return n;
  }

  /**
   * Resolves when the next request settles. The promises settle only while the event loop
   * runs (the runtime reaps its completion rings there), so the engine must await this
   * whenever it has nothing else to do. Every request settles in the end (completed, failed,
   * or rejected when the runtime closes or its worker dies), hence no timeout.
   */
  wait(_timeoutMs: number): Promise<void> | void {
    if (this.doneCount > 0) return;
    this.waiter ??= new Promise<void>((resolve) => (this.wake = resolve));
    return this.waiter;
  }

  /** The runtime's error message for the slot's last failed request. */
  failure(slot: number): string | undefined {
    return this.failures[slot];
  }

  close(): void {
    this.memory?.release();
    this.memory = null;
    this.buffers = [];
  }

  private settled(slot: number, status: number): void {
    const k = this.doneCount++;
    this.doneSlots[k] = slot;
    this.doneStatus[k] = status;
    const wake = this.wake;
    if (wake) {
      this.wake = null;
      this.waiter = null;
      wake();
    }
  }
}

/**
 * The status word the direct engine would see for a rejected request: an NVMe status error's
 * (SCT << 8 | SC) << 1 (the CQE status field without the phase bit), else RUNTIME_STATUS_REJECTED.
 */
function statusOf(err: unknown): number {
  const e = err as { sct?: unknown; sc?: unknown };
  if (typeof e?.sct === 'number' && typeof e.sc === 'number') return (((e.sct << 8) | e.sc) << 1) || RUNTIME_STATUS_REJECTED;
  return RUNTIME_STATUS_REJECTED;
}

/**
 * How many workers each address's runtime gets for vfio-runtime (and vfio-bdev) jobs: as many as the busiest
 * reporting group runs at once on it (numjobs=N: N), at least 1.
 */
export function runtimeWorkersNeeded(jobs: readonly ResolvedJob[], specs: ReadonlyMap<number, NvmeTargetSpec>): Map<string, number> {
  const perGroup = new Map<string, number>();
  const need = new Map<string, number>();
  for (const j of jobs) {
    const spec = specs.get(j.index);
    if (!spec || (j.options.ioengine !== 'vfio-runtime' && j.options.ioengine !== 'vfio-bdev')) continue;
    const key = `${j.groupid} ${spec.address}`;
    const n = (perGroup.get(key) ?? 0) + 1;
    perGroup.set(key, n);
    need.set(spec.address, Math.max(need.get(spec.address) ?? 1, n));
  }
  return need;
}

/**
 * Opens the targets of vfio-runtime jobs: one runtime per PCI address, opened at the first
 * job that needs it with the workers runtimeWorkersNeeded() counted, kept open across the
 * reporting groups, closed by close().
 */
export class RuntimeTargets {
  private readonly runtimes = new Map<string, Promise<RuntimeEngineRuntime>>();

  /**
   * @param workers workers per address (runtimeWorkersNeeded)
   * @param openRuntime how a runtime is opened (default: NvmeRuntime.open with default options)
   */
  constructor(
    private readonly workers: ReadonlyMap<string, number>,
    private readonly openRuntime: RuntimeOpener = openDefaultRuntime,
  ) {}

  /**
   * A target for one job instance on the namespace `spec` names.
   * @throws whatever NvmeRuntime.open throws; ERR_NVME_NO_SUCH_NAMESPACE
   */
  async open(spec: NvmeTargetSpec): Promise<RuntimeTarget> {
    let rt = this.runtimes.get(spec.address);
    if (!rt) {
      rt = this.openRuntime(spec.address, this.workers.get(spec.address) ?? 1);
      this.runtimes.set(spec.address, rt);
    }
    return new RuntimeTarget({ runtime: await rt, nsid: spec.nsid, name: `${spec.address}/${spec.nsid}` });
  }

  /** Closes every runtime opened (also one whose opening failed: nothing to close then). */
  async close(): Promise<void> {
    const all = [...this.runtimes.values()];
    this.runtimes.clear();
    for (const r of all) await (await r.catch(() => null))?.close();
  }
}
