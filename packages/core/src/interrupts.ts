// Interrupts through VFIO: one eventfd per vector, wired with VFIO_DEVICE_SET_IRQS
// (DATA_EVENTFD | ACTION_TRIGGER). The kernel signals the eventfd when the device raises
// the vector; we watch it on the libuv loop (a callback or an async iterator) or block on
// it from a worker thread. See the kernel's include/uapi/linux/vfio.h, VFIO_DEVICE_SET_IRQS.

import type { Logger } from 'pino';
import { native, type IrqInfo } from './native.js';
import { VfioError } from './errors.js';

const C = native.constants;

/** An interrupt kind a PCI device offers. */
export type IrqKind = 'msix' | 'msi' | 'intx';

/** VFIO's IRQ index of each interrupt kind (VFIO_PCI_*_IRQ_INDEX). */
export const IRQ_INDEX: Record<IrqKind | 'err' | 'req', number> = {
  intx: C.VFIO_PCI_INTX_IRQ_INDEX!,
  msi: C.VFIO_PCI_MSI_IRQ_INDEX!,
  msix: C.VFIO_PCI_MSIX_IRQ_INDEX!,
  err: C.VFIO_PCI_ERR_IRQ_INDEX!,
  req: C.VFIO_PCI_REQ_IRQ_INDEX!,
};

/** One interrupt vector: its eventfd and the ways to receive it. */
export class Vector {
  private watcher: InstanceType<typeof native.EventfdWatcher> | undefined;
  private listeners = new Set<(count: bigint) => void>();
  /** Interrupts received through onInterrupt/the iterator since enable. */
  received = 0n;

  constructor(
    private readonly owner: Interrupts,
    readonly kind: IrqKind | 'req' | 'err',
    readonly vector: number,
    /** The eventfd; a worker thread can wait on it with native.eventfdWait. */
    readonly fd: number,
  ) {}

  /** Calls cb(count) on this thread's event loop each time the vector fires. Returns an unsubscribe function. */
  onInterrupt(cb: (count: bigint) => void): () => void {
    this.listeners.add(cb);
    if (!this.watcher) {
      this.watcher = new native.EventfdWatcher(this.fd, (count: bigint) => {
        this.received += count;
        this.owner.traceInterrupt(this, count);
        for (const l of this.listeners) l(count);
      });
    }
    return () => {
      this.listeners.delete(cb);
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  /** Resolves with the count at the next interrupt (or rejects after timeoutMs). */
  next(timeoutMs = -1): Promise<bigint> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const off = this.onInterrupt((count) => {
        if (timer) clearTimeout(timer);
        off();
        resolve(count);
      });
      if (timeoutMs >= 0) {
        timer = setTimeout(() => {
          off();
          reject(new VfioError({ code: 'ERR_IRQ_TIMEOUT', message: `no ${this.kind} interrupt on vector ${this.vector} within ${timeoutMs} ms` }));
        }, timeoutMs);
      }
    });
  }

  /** Interrupts as an async iterator (each value is the count since the last one). */
  async *[Symbol.asyncIterator](): AsyncGenerator<bigint> {
    for (;;) yield await this.next();
  }

  /**
   * Blocks this thread until the vector fires or timeoutMs passes. True if it fired; false
   * on timeout, or when a signal interrupted the wait (native.eventfdWait's -2): a caller
   * that loops should yield to the event loop before it waits again. For worker threads.
   */
  waitSync(timeoutMs: number): boolean {
    return native.eventfdWait([this.fd], timeoutMs) === 0;
  }

  /** Fires the vector from software (SET_IRQS DATA_NONE | ACTION_TRIGGER): a loopback test of the whole path. */
  trigger(): void {
    this.owner.action(this, C.VFIO_IRQ_SET_ACTION_TRIGGER!);
  }
  /** Masks the vector (SET_IRQS ACTION_MASK): the device's interrupts are held until unmask(). */
  mask(): void {
    this.owner.action(this, C.VFIO_IRQ_SET_ACTION_MASK!);
  }
  /** Unmasks the vector (SET_IRQS ACTION_UNMASK). */
  unmask(): void {
    this.owner.action(this, C.VFIO_IRQ_SET_ACTION_UNMASK!);
  }

  /** @internal */
  stopWatching(): void {
    this.watcher?.stop();
    this.watcher = undefined;
  }
}

/**
 * A device's interrupts through VFIO: enable() wires one eventfd per vector (VFIO_DEVICE_SET_IRQS); each Vector
 * can be watched on the event loop or waited on from a worker.
 */
export class Interrupts implements Disposable {
  private enabled: { kind: IrqKind; vectors: Vector[] } | undefined;
  private request: Vector | undefined;

  constructor(
    private readonly deviceFd: number,
    private readonly numIrqs: number,
    private readonly log: Logger,
    private readonly address: string,
  ) {}

  /** VFIO_DEVICE_GET_IRQ_INFO for a kind: how many vectors the device offers. */
  info(kind: IrqKind | 'err' | 'req'): IrqInfo {
    const index = IRQ_INDEX[kind];
    if (index >= this.numIrqs) return { index, flags: 0, count: 0 };
    return native.vfioDeviceGetIrqInfo(this.deviceFd, index);
  }

  /** Wires count vectors of kind to fresh eventfds and returns them. Replaces what was enabled before. */
  enable(kind: IrqKind, count: number): Vector[] {
    const max = this.info(kind).count;
    if (!Number.isInteger(count) || count < 1 || count > max) {
      throw new VfioError({
        code: 'ERR_IRQ_COUNT',
        message: `${this.address}: cannot enable ${count} ${kind} vectors: the device offers ${max}`,
        hint: max ? `Ask for 1 to ${max}.` : `The device has no ${kind}; try another kind (msix, msi, intx).`,
      });
    }
    this.disable();
    const fds: number[] = [];
    try {
      for (let i = 0; i < count; i++) fds.push(native.eventfdCreate());
      native.vfioDeviceSetIrqsEventfd(this.deviceFd, IRQ_INDEX[kind], 0, fds);
    } catch (err) {
      for (const fd of fds) native.close(fd);
      throw err;
    }
    const vectors = fds.map((fd, i) => new Vector(this, kind, i, fd));
    this.enabled = { kind, vectors };
    this.log.debug({ device: this.address, kind, count }, 'interrupts enabled');
    return vectors;
  }

  /** Convenience: enable MSI-X with count vectors. */
  enableMsix(count: number): Vector[] {
    return this.enable('msix', count);
  }

  /** The vectors enable() set up (empty while disabled). */
  get vectors(): readonly Vector[] {
    return this.enabled?.vectors ?? [];
  }

  /** Turns the enabled vectors off and closes their eventfds. */
  disable(): void {
    const e = this.enabled;
    if (!e) return;
    this.enabled = undefined;
    try {
      native.vfioDeviceSetIrqsEventfd(this.deviceFd, IRQ_INDEX[e.kind], 0, []);
    } catch (err) {
      this.log.debug({ err }, 'disabling interrupts failed (device gone?)');
    }
    for (const v of e.vectors) {
      v.stopWatching();
      native.close(v.fd);
    }
  }

  /**
   * The device request interrupt (VFIO_PCI_REQ_IRQ_INDEX): the kernel asks us to release
   * the device (hot-unplug, unbind). cb should fail pending I/O and close the device.
   */
  onRemovalRequest(cb: () => void): () => void {
    if (!this.request) {
      if (this.info('req').count < 1) throw new VfioError({ code: 'ERR_IRQ_UNSUPPORTED', message: `${this.address}: this kernel offers no device request interrupt` });
      const fd = native.eventfdCreate();
      native.vfioDeviceSetIrqsEventfd(this.deviceFd, IRQ_INDEX.req, 0, [fd]);
      this.request = new Vector(this, 'req', 0, fd);
    }
    return this.request.onInterrupt(() => cb());
  }

  /** Closes every vector, including the request vector (their eventfds). Idempotent; the device stays open. */
  close(): void {
    this.disable();
    if (this.request) {
      try {
        native.vfioDeviceSetIrqsEventfd(this.deviceFd, IRQ_INDEX.req, 0, []);
      } catch {
        // device already gone
      }
      this.request.stopWatching();
      native.close(this.request.fd);
      this.request = undefined;
    }
  }

  /** close(): the eventfds it holds are closed, for `using irq = ...` over a device kept open. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal */
  action(v: Vector, action: number): void {
    native.vfioDeviceSetIrqs(this.deviceFd, IRQ_INDEX[v.kind], v.vector, 1, action);
  }

  /** @internal */
  traceInterrupt(v: Vector, count: bigint): void {
    if (this.log.isLevelEnabled('trace')) this.log.trace({ device: this.address, kind: v.kind, vector: v.vector, count: Number(count) }, 'interrupt');
  }
}
