// The NVMe/TCP target: a listening socket, the subsystems it serves, the discovery
// subsystem (nqn.2014-08.org.nvmexpress.discovery), and the controllers their hosts
// connected. Connect's checks live here (Base 2.0 §6.3): the subsystem, the host, the
// queue, the controller ID.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import { Connection, type ConnectRequest, type ConnectionLimits } from './connection.js';
import { Controller, type ControllerLimits } from './controller.js';
import { listenFailed, noSuchSubsystem } from './errors.js';
import type { DiscoveryEntry } from './log-pages.js';
import { DISCOVERY_NQN, parseListenAddress } from './names.js';
import { fail, Sts, type Completion } from './status.js';
import { Subsystem, type SubsystemOptions } from './subsystem.js';

/** Options of {@link NvmfTarget.listen}. */
export interface NvmfTargetOptions {
  /** ADDR:PORT to listen on. Default 127.0.0.1:4420. */
  listen?: string;
  /** The subsystems to serve. */
  subsystems: readonly SubsystemOptions[];
  /** Entries per queue (CAP.MQES + 1, MAXCMD). Default 128. */
  queueEntries?: number;
  /** I/O queues per controller at most. Default 8. */
  maxIoQueues?: number;
  /** In-capsule data on an I/O queue, bytes. Default 8192. */
  ioInCapsule?: number;
  /** MAXH2CDATA, bytes. Default 131072. */
  maxh2cdata?: number;
}

/** A line of the target's log: a host connected or left, or something went wrong on a connection. */
export interface NvmfLogEvent {
  event: 'connect' | 'disconnect' | 'error';
  message: string;
}

/** Events: 'log' (an {@link NvmfLogEvent}). */
export interface NvmfTargetEvents {
  log: [NvmfLogEvent];
}

/** MDTS 5: 2^5 × 4 KiB = 128 KiB per command. */
const MDTS = 5;

/** An NVMe/TCP target serving subsystems of bdevs. */
export class NvmfTarget extends EventEmitter<NvmfTargetEvents> {
  readonly subsystems = new Map<string, Subsystem>();
  /** The address and port it listens on. */
  readonly address: { host: string; port: number };
  private readonly discovery: Subsystem;
  private readonly controllers = new Set<Controller>();
  private readonly connections = new Set<Connection>();
  private readonly controllerLimits: ControllerLimits;
  private readonly connectionLimits: ConnectionLimits;

  private constructor(
    private readonly server: net.Server,
    o: NvmfTargetOptions,
  ) {
    super();
    for (const s of o.subsystems) {
      const sub = new Subsystem(s);
      this.subsystems.set(sub.nqn, sub);
    }
    this.discovery = new Subsystem({ nqn: DISCOVERY_NQN });
    const a = server.address() as net.AddressInfo;
    this.address = { host: a.address, port: a.port };
    const queueEntries = o.queueEntries ?? 128;
    const ioInCapsule = o.ioInCapsule ?? 8192;
    this.controllerLimits = { queueEntries, maxIoQueues: o.maxIoQueues ?? 8, mdts: MDTS, ioInCapsule };
    this.connectionLimits = {
      maxh2cdata: o.maxh2cdata ?? 131072,
      adminInCapsule: 8192,
      ioInCapsule,
      maxDataPerCommand: 2 ** MDTS * 4096,
    };
    server.on('connection', (socket) => this.accept(socket));
  }

  /**
   * Starts a target: checks the subsystems (NQNs), then listens.
   * @throws ERR_NVMF_ADDRESS, ERR_NVMF_NQN, ERR_NVMF_LISTEN
   */
  static async listen(o: NvmfTargetOptions): Promise<NvmfTarget> {
    const { host, port } = parseListenAddress(o.listen ?? '127.0.0.1:4420');
    for (const s of o.subsystems) new Subsystem(s); // check NQNs before listening
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenFailed(`${host}:${port}`, err)));
      server.listen({ host, port }, () => resolve());
    });
    return new NvmfTarget(server, o);
  }

  /**
   * The subsystem an NQN names, to add or remove namespaces while hosts are connected
   * ({@link Subsystem.addNamespace}).
   * @throws ERR_NVMF_NO_SUCH_SUBSYSTEM
   */
  subsystem(nqn: string): Subsystem {
    const sub = this.subsystems.get(nqn);
    if (!sub) throw noSuchSubsystem(nqn, [...this.subsystems.keys()]);
    return sub;
  }

  /** The connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening, ends every association (closes every connection). Bdevs stay open: they are the caller's. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of [...this.controllers]) c.end('the target is shutting down');
    for (const conn of [...this.connections]) conn.close('the target is shutting down');
    await closed;
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private log(event: NvmfLogEvent['event'], message: string): void {
    this.emit('log', { event, message });
  }

  private accept(socket: net.Socket): void {
    const conn = new Connection(socket, { connect: (req, q) => this.connect(req, q), log: (e, m) => this.log(e, m) }, this.connectionLimits);
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }

  /** Connect's checks (Base 2.0 §6.3, Figure "Connect Command Status Values"). */
  private connect(req: ConnectRequest, queue: Connection): { ctrl: Controller } | { completion: Completion } {
    // Invalid parameters name the field: DW0 bit 0 IATTR (0 the SQE, 1 the data), bits 31:16 IPO (its byte offset).
    const invalid = (inData: boolean, offset: number) => ({ completion: fail(Sts.ConnectInvalidParameters, (inData ? 1 : 0) | (offset << 16)) });
    if (req.recfmt !== 0) return { completion: fail(Sts.ConnectIncompatibleFormat) };
    const sub = req.subnqn === DISCOVERY_NQN ? this.discovery : this.subsystems.get(req.subnqn);
    if (!sub) {
      this.log('error', `${queue.socket.remoteAddress}: Connect to unknown subsystem ${req.subnqn} from ${req.hostnqn}`);
      return invalid(true, 256);
    }
    if (!sub.discovery && !sub.allows(req.hostnqn)) {
      this.log('error', `${queue.socket.remoteAddress}: host ${req.hostnqn} is not allowed to connect to ${sub.nqn}`);
      return { completion: fail(Sts.ConnectInvalidHost) };
    }
    const entries = this.controllerLimits.queueEntries;
    if (req.qid === 0) {
      // The admin queue: at least 32 entries (SQSIZE 31, §3.3.1.2... ASQSZ 32), at most MQES + 1.
      if (req.sqsize < 31 || req.sqsize > entries - 1) return invalid(false, 44);
      const cntlid = sub.allocateCntlid((id) => [...this.controllers].some((c) => c.subsystem === sub && c.cntlid === id));
      if (!cntlid) return { completion: fail(Sts.ConnectControllerBusy) };
      const ctrl = new Controller(sub, cntlid, req.hostnqn, req.hostid, req.kato, this.controllerLimits, (h) => this.discoveryEntries(h, queue), (c, why) => {
        this.controllers.delete(c);
        this.log('disconnect', `controller ${c.cntlid} of ${c.subsystem.nqn} (host ${c.hostnqn}) ended: ${why}`);
      });
      ctrl.queues.set(0, queue);
      this.controllers.add(ctrl);
      return { ctrl };
    }
    // An I/O queue: to a controller of this subsystem and host, enabled, a QID it allocated, not yet connected.
    const ctrl = [...this.controllers].find((c) => c.subsystem === sub && c.cntlid === req.cntlid);
    if (!ctrl || ctrl.hostnqn !== req.hostnqn) return invalid(true, 16);
    if (!ctrl.ready) return { completion: fail(Sts.CommandSequenceError) };
    if (req.qid > ctrl.ioQueues || ctrl.queues.has(req.qid)) return invalid(false, 42);
    if (req.sqsize < 1 || req.sqsize > entries - 1) return invalid(false, 44);
    ctrl.queues.set(req.qid, queue);
    return { ctrl };
  }

  /** The discovery log's entries for a host: every subsystem it may connect to, at the address it reached us on. */
  private discoveryEntries(hostnqn: string, queue: Connection): DiscoveryEntry[] {
    const traddr = queue.socket.localAddress?.replace(/^::ffff:/, '') ?? this.address.host;
    const trsvcid = String(queue.socket.localPort ?? this.address.port);
    return [...this.subsystems.values()]
      .filter((s) => s.allows(hostnqn))
      .map((s) => ({ subtype: 2, portid: 1, traddr, trsvcid, subnqn: s.nqn }));
  }
}
