// An NVM subsystem (NVMe Base 2.0 §2.4): an NQN, namespaces made of bdevs, the hosts
// allowed to connect, and the controllers created for them (the dynamic controller
// model: each admin-queue Connect creates one, §3.3.1).

import type { Bdev } from '@vfio-node/bdev';
import { checkNqn, DISCOVERY_NQN } from './names.js';

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

  /** The largest NSID (NN). */
  get nn(): number {
    return Math.max(0, ...this.namespaces.keys());
  }
}
