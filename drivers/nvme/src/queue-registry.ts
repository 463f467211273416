// Queue pairs whose rings another thread owns (a worker of the runtime): the queue ids
// reserved for them, the ring IOVAs they were created over, and their re-creation after
// a controller reset. NVM Express Base Specification 2.0: Create I/O Completion Queue
// §5.4, Create I/O Submission Queue §5.5, Delete I/O SQ/CQ §5.6/§5.7.

import type { NvmeController } from './controller.js';
import { invalidQueueDepth, noVector, notExternalQueuePair, queueIdNotReserved } from './errors.js';
import { NvmeStatusError } from './status.js';

/** The rings of a queue pair another thread owns, as createExternalQueuePair was given them. */
interface ExternalPair {
  depth: number;
  sqIova: number;
  cqIova: number;
  /** The CQ raises MSI-X vector qid (its owner may sleep on the vector's eventfd). */
  interrupts: boolean;
}

/**
 * Told about a controller reset, before the external queue pairs (qids) are created
 * again. Their owner must, before the returned promise settles, fail its in-flight
 * commands (the controller forgot them) and restart its rings: SQ tail and CQ head 0,
 * expected phase 1, the CQ zeroed. Until then its doorbell writes must stop.
 */
export type ResetListener = (event: { externalQids: number[]; error: Error }) => void | Promise<void>;

/** Invalid Queue Identifier (sct 1h, sc 01h) is success when deleting: the queue is gone already (a reset could not recreate it). */
export function alreadyDeleted(err: unknown): number {
  if (!(err instanceof NvmeStatusError && err.sct === 1 && err.sc === 1)) throw err;
  return 0;
}

/** The worker-owned queue pairs of one controller. */
export class QueueRegistry {
  /** Reserved ids (null) and created pairs with their ring IOVAs. */
  private readonly external = new Map<number, ExternalPair | null>();
  /** Told before the pairs are created again after a reset (onReset). */
  readonly resetListeners = new Set<ResetListener>();

  constructor(private readonly c: NvmeController) {}

  /** Queue ids reserved or created. */
  ids(): IterableIterator<number> {
    return this.external.keys();
  }

  /** True when some external pair exists on the controller (shadow doorbells can no longer be given up). */
  get anyCreated(): boolean {
    return [...this.external.values()].some((e) => e !== null);
  }

  /** Reserves qid. */
  reserve(qid: number): void {
    this.external.set(qid, null);
  }

  /** Gives back a reserved id. */
  release(qid: number): void {
    this.external.delete(qid);
  }

  /** Creates the CQ, then the SQ, of a reserved id over the given rings (§5.4, §5.5). */
  async create(qid: number, depth: number, sqIova: number, cqIova: number, interrupts: boolean): Promise<void> {
    const c = this.c;
    if (!this.external.has(qid)) throw queueIdNotReserved(qid);
    if (!Number.isInteger(depth) || depth < 2 || depth > c.cap.maxQueueEntries) throw invalidQueueDepth(depth, c.cap.maxQueueEntries);
    if (interrupts && !c.vectors[qid]) throw noVector(c.address, `I/O queue ${qid}`, c.vectors.length);
    await c.admin.createIoCq(qid, depth, cqIova, interrupts ? qid : null);
    try {
      await c.admin.createIoSq(qid, depth, sqIova, qid);
    } catch (err) {
      await c.admin.deleteIoCq(qid).catch(() => 0);
      throw err;
    }
    // Kept so that a controller reset can create the queues again (recreate).
    this.external.set(qid, { depth, sqIova, cqIova, interrupts });
  }

  /** Deletes an external pair (SQ first, then its CQ, §5.6/§5.7) and frees its id. */
  async delete(qid: number): Promise<void> {
    const c = this.c;
    if (!this.external.has(qid)) throw notExternalQueuePair(c.address, qid);
    // A reset that is running creates the queue again once its listeners settle: let it
    // finish, or the deletion races the re-creation (the SQ deleted before it exists, then
    // the CQ refused because the SQ came back).
    while (c.resetting) await c.resetting.catch(() => undefined);
    this.external.delete(qid);
    if (c.state !== 'open') return;
    await c.admin.deleteIoSq(qid).catch(alreadyDeleted);
    await c.admin.deleteIoCq(qid).catch(alreadyDeleted);
  }

  /** After a controller reset: the listeners restart their rings, then every created pair is created again. */
  async recreate(error: Error): Promise<void> {
    const c = this.c;
    const created = [...this.external].filter((e): e is [number, ExternalPair] => e[1] !== null);
    await Promise.all([...this.resetListeners].map(async (l) => l({ externalQids: created.map(([q]) => q), error })));
    for (const [qid, e] of created) {
      await c.admin.createIoCq(qid, e.depth, e.cqIova, e.interrupts ? qid : null);
      await c.admin.createIoSq(qid, e.depth, e.sqIova, qid);
    }
  }
}
