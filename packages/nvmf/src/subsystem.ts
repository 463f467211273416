// An NVM subsystem (NVMe Base 2.0 §2.4): an NQN, namespaces made of bdevs, the hosts
// allowed to connect, and the controllers created for them (the dynamic controller
// model: each admin-queue Connect creates one, §3.3.1).

import type { Bdev } from '@vfio-node/bdev';
import { badNsid } from './errors.js';
import { checkNqn, DISCOVERY_NQN } from './names.js';

/** The largest NSID a namespace may have (FFFFFFFFh means every namespace, Base 2.0 §3.2.1.2). */
const NSID_MAX = 0xfffffffe;

/** Options of a subsystem. */
export interface SubsystemOptions {
  /** The subsystem's NQN. */
  nqn: string;
  /** Namespaces: bdevs in NSID order (NSID 1 is the first). */
  namespaces?: readonly Bdev[];
  /** Host NQNs allowed to connect; empty or absent: any host. */
  allowHosts?: readonly string[];
  /** Serial number (SN, 20 ASCII characters at most). Default: from the NQN. */
  serial?: string;
  /** Model number (MN). Default 'vfio-node NVMe/TCP'. */
  model?: string;
}

/** A subsystem the target serves. */
export class Subsystem {
  readonly nqn: string;
  /** NSID to bdev. */
  readonly namespaces = new Map<number, Bdev>();
  readonly allowHosts: ReadonlySet<string>;
  readonly serial: string;
  readonly model: string;
  /** True for the discovery subsystem (no namespaces; its controllers are discovery controllers). */
  readonly discovery: boolean;
  private nextCntlid = 1;
  private readonly changeListeners = new Set<(nsid: number) => void>();

  /** @throws ERR_NVMF_NQN for a bad NQN */
  constructor(o: SubsystemOptions) {
    this.nqn = checkNqn(o.nqn);
    this.discovery = o.nqn === DISCOVERY_NQN;
    (o.namespaces ?? []).forEach((b, i) => this.namespaces.set(i + 1, b));
    this.allowHosts = new Set((o.allowHosts ?? []).map(checkNqn));
    this.serial = (o.serial ?? Buffer.from(this.nqn).toString('hex').slice(-20)).slice(0, 20);
    this.model = o.model ?? (this.discovery ? 'vfio-node discovery' : 'vfio-node NVMe/TCP');
  }

  /** May this host connect? */
  allows(hostnqn: string): boolean {
    return this.allowHosts.size === 0 || this.allowHosts.has(hostnqn);
  }

  /** A controller ID for a new controller: 1 to FFEFh (FFF0h and above are reserved, §3.3.1). */
  allocateCntlid(inUse: (id: number) => boolean): number {
    for (let i = 0; i < 0xffef; i++) {
      const id = this.nextCntlid;
      this.nextCntlid = id >= 0xffef ? 1 : id + 1;
      if (!inUse(id)) return id;
    }
    return 0;
  }

  /**
   * Attaches a bdev as a namespace while hosts are connected: each controller of the
   * subsystem records the NSID in its Changed Namespace List and, when its host enabled
   * Namespace Attribute Notices, completes an Asynchronous Event Request (Base 2.0 §5.2,
   * §8.1.4), so the host's kernel sees the namespace appear.
   * @param nsid the NSID to use; default: one past the largest in use
   * @returns the NSID
   * @throws ERR_NVMF_NSID when nsid is taken or out of range (or this is the discovery subsystem)
   */
  addNamespace(bdev: Bdev, nsid?: number): number {
    const id = nsid ?? this.nn + 1;
    if (this.discovery) throw badNsid(this.nqn, id, 'cannot be added: a discovery subsystem has no namespaces');
    if (!Number.isInteger(id) || id < 1 || id > NSID_MAX) throw badNsid(this.nqn, id, 'is out of range (1 to FFFFFFFEh)');
    if (this.namespaces.has(id)) throw badNsid(this.nqn, id, `is taken (by ${this.namespaces.get(id)!.name})`);
    this.namespaces.set(id, bdev);
    this.changed(id);
    return id;
  }

  /**
   * Detaches a namespace: commands to it fail with Invalid Namespace from now on, and the
   * controllers report the change as addNamespace does. The bdev stays open (it is the caller's).
   * @returns the bdev that was the namespace
   * @throws ERR_NVMF_NSID when no namespace has this NSID
   */
  removeNamespace(nsid: number): Bdev {
    const bdev = this.namespaces.get(nsid);
    if (!bdev) throw badNsid(this.nqn, nsid, 'is not a namespace of this subsystem');
    this.namespaces.delete(nsid);
    this.changed(nsid);
    return bdev;
  }

  /**
   * Calls `listener(nsid)` after each namespace change (the controllers use it).
   * @returns a function that stops the calls
   */
  onNamespaceChange(listener: (nsid: number) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(nsid: number): void {
    for (const l of [...this.changeListeners]) l(nsid);
  }

  /** The largest NSID (NN). */
  get nn(): number {
    return Math.max(0, ...this.namespaces.keys());
  }
}
