// append-log: an append-only log on a raw NVMe namespace, the seed of an embedded
// storage stack (a write-ahead log, an event store, the journal of a key-value store).
// No filesystem and no kernel block layer: records go straight to logical blocks.
//
//   node examples/dist/append-log.js --device 0000:01:00.0 --nsid 1 format
//   node examples/dist/append-log.js --device 0000:01:00.0 append 'first record' 'second'
//   node examples/dist/append-log.js --device 0000:01:00.0 replay
//   npx vfio-node lab run -- node examples/dist/append-log.js demo
//
// Without --device the first NVMe in $VFIO_LAB_NVME is used (the lab sets it). `format`
// overwrites block 0 of the namespace: use a scratch one.
//
// On the medium (little-endian):
//   LBA 0     the header block: magic "VNLOG001", the block size, and a random log id
//             chosen at format time, with a CRC-32 of the header.
//   LBA 1...  records, each starting on a block boundary and padded to whole blocks:
//             magic "LOGR", payload length, sequence number (1, 2, ...), the log id,
//             the payload's CRC-32, the record header's CRC-32, then the payload.
// Replay reads records from LBA 1 while each one is whole: its magic, log id, next
// sequence number and both CRCs check out. The first that does not is the end of the
// log: an append torn by a crash or a power cut is never replayed, and records of an
// older log (another log id) left on the blocks after a new `format` are not either.
// An append is written with FUA (Force Unit Access), so it is durable once its promise
// resolves, and the next append goes after it.

import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';
import type { DmaMemory } from '@vfio-node/core';
import { NvmeController, type Namespace } from '@vfio-node/nvme';

const HEADER_MAGIC = 'VNLOG001';
const RECORD_MAGIC = 0x52474f4c; // "LOGR" read as a little-endian u32
const RECORD_HEADER = 32;
/** The largest payload of one record (the I/O buffer is this plus a header, in whole blocks). */
const MAX_PAYLOAD = 60 * 1024;

/** One record as replay() found it. */
interface LogRecord {
  seq: number;
  lba: number;
  payload: Uint8Array;
}

class AppendLog {
  /** The records found when the log was opened, then every one appended since. */
  readonly records: LogRecord[] = [];
  /** Where the next record goes. */
  tail = 1;

  private constructor(
    private readonly ns: Namespace,
    private readonly logId: number,
    private readonly buffer: DmaMemory,
  ) {}

  /** Writes a new header block with a fresh log id: the namespace holds an empty log. */
  static async format(ctrl: NvmeController, nsid: number): Promise<void> {
    const ns = ctrl.namespace(nsid);
    using block = ctrl.allocBuffer(ns.blockSize);
    const view = block.view;
    block.bytes.set(Buffer.from(HEADER_MAGIC, 'ascii'), 0);
    view.setUint32(8, ns.blockSize, true);
    view.setUint32(12, randomInt(1, 2 ** 32 - 1), true);
    view.setUint32(16, crc32(block.bytes.subarray(0, 16)), true);
    await ns.write(0, 1, block.bytes, { fua: true });
  }

  /** Reads the header block and replays every whole record. @throws when block 0 holds no log */
  static async open(ctrl: NvmeController, nsid: number): Promise<AppendLog> {
    const ns = ctrl.namespace(nsid);
    const buffer = ctrl.allocBuffer(roundUp(RECORD_HEADER + MAX_PAYLOAD, ns.blockSize));
    try {
      await ns.read(0, 1, buffer.bytes);
      const view = buffer.view;
      const magic = Buffer.from(buffer.bytes.subarray(0, 8)).toString('latin1');
      if (magic !== HEADER_MAGIC || view.getUint32(16, true) !== crc32(buffer.bytes.subarray(0, 16))) {
        throw new Error(`namespace ${nsid} of ${ctrl.address} holds no log (run this example with 'format' first)`);
      }
      if (view.getUint32(8, true) !== ns.blockSize) throw new Error(`the log was formatted with ${view.getUint32(8, true)}-byte blocks, the namespace now has ${ns.blockSize}`);
      const log = new AppendLog(ns, view.getUint32(12, true), buffer);
      await log.replay();
      return log;
    } catch (err) {
      buffer.release();
      throw err;
    }
  }

  /** Appends one record (durable when this resolves) and returns it. */
  async append(payload: Uint8Array): Promise<LogRecord> {
    if (payload.length > MAX_PAYLOAD) throw new Error(`a record holds at most ${MAX_PAYLOAD} bytes, not ${payload.length}`);
    const blocks = this.blocksFor(payload.length);
    if (BigInt(this.tail + blocks) > this.ns.blocks) throw new Error(`the log is full (${this.ns.blocks} blocks)`);
    const seq = this.records.length + 1;
    const bytes = this.buffer.bytes.subarray(0, blocks * this.ns.blockSize);
    bytes.fill(0);
    const view = this.buffer.view;
    view.setUint32(0, RECORD_MAGIC, true);
    view.setUint32(4, payload.length, true);
    view.setBigUint64(8, BigInt(seq), true);
    view.setUint32(16, this.logId, true);
    view.setUint32(20, crc32(payload), true);
    view.setUint32(24, crc32(bytes.subarray(0, 24)), true);
    bytes.set(payload, RECORD_HEADER);
    await this.ns.write(this.tail, blocks, bytes, { fua: true });
    const record = { seq, lba: this.tail, payload: Uint8Array.from(payload) };
    this.records.push(record);
    this.tail += blocks;
    return record;
  }

  /** Releases the I/O buffer (the controller is the caller's). */
  [Symbol.dispose](): void {
    this.buffer.release();
  }

  private async replay(): Promise<void> {
    const bs = this.ns.blockSize;
    const view = this.buffer.view;
    for (;;) {
      if (BigInt(this.tail) >= this.ns.blocks) return;
      await this.ns.read(this.tail, 1, this.buffer.bytes);
      const length = view.getUint32(4, true);
      const whole =
        view.getUint32(0, true) === RECORD_MAGIC &&
        view.getUint32(16, true) === this.logId &&
        view.getBigUint64(8, true) === BigInt(this.records.length + 1) &&
        view.getUint32(24, true) === crc32(this.buffer.bytes.subarray(0, 24)) &&
        length <= MAX_PAYLOAD;
      if (!whole) return;
      const blocks = this.blocksFor(length);
      if (BigInt(this.tail + blocks) > this.ns.blocks) return;
      if (blocks > 1) await this.ns.read(this.tail + 1, blocks - 1, this.buffer.bytes.subarray(bs));
      const payload = this.buffer.bytes.subarray(RECORD_HEADER, RECORD_HEADER + length);
      if (crc32(payload) !== view.getUint32(20, true)) return; // torn: the header made it, the data did not
      this.records.push({ seq: this.records.length + 1, lba: this.tail, payload: Uint8Array.from(payload) });
      this.tail += blocks;
    }
  }

  private blocksFor(payloadLength: number): number {
    return roundUp(RECORD_HEADER + payloadLength, this.ns.blockSize) / this.ns.blockSize;
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function show(r: LogRecord): string {
  return `record ${r.seq} at LBA ${r.lba}: ${Buffer.from(r.payload).toString('utf8')}`;
}

// ---- the command line -------------------------------------------------------------------

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { device: { type: 'string' }, nsid: { type: 'string', default: '1' } },
});
const address = values.device ?? process.env.VFIO_LAB_NVME?.split(' ')[0];
const [command = 'demo', ...texts] = positionals;
if (!address || !['format', 'append', 'replay', 'demo'].includes(command)) {
  console.error('usage: node append-log.js [--device PCI_ADDRESS] [--nsid N] format | append TEXT... | replay | demo');
  process.exit(2);
}
const nsid = Number(values.nsid);

/** Opens the controller, runs fn with it, and shuts the controller down again. */
async function withController(fn: (ctrl: NvmeController) => Promise<void>): Promise<void> {
  await using ctrl = await NvmeController.open(address!);
  await fn(ctrl);
}

/** Opens the log, prints what replay found, and hands it to fn. */
async function withLog(fn: (log: AppendLog) => Promise<void>): Promise<void> {
  await withController(async (ctrl) => {
    using log = await AppendLog.open(ctrl, nsid);
    console.log(`replayed ${log.records.length} records; the next goes to LBA ${log.tail}`);
    await fn(log);
  });
}

if (command === 'format' || command === 'demo') {
  await withController((ctrl) => AppendLog.format(ctrl, nsid));
  console.log(`formatted namespace ${nsid} of ${address}: an empty log`);
}
if (command === 'append') {
  await withLog(async (log) => {
    for (const text of texts) console.log(`appended ${show(await log.append(Buffer.from(text, 'utf8')))}`);
  });
}
if (command === 'replay') {
  await withLog(async (log) => {
    for (const r of log.records) console.log(show(r));
  });
}
if (command === 'demo') {
  // Append in one session, then replay in another: what a restart after a crash sees.
  await withLog(async (log) => {
    for (const text of ['first', 'second', 'a third, longer record '.repeat(40)]) console.log(`appended ${show(await log.append(Buffer.from(text, 'utf8')))}`);
  });
  await withLog(async (log) => {
    for (const r of log.records) console.log(show(r));
  });
}
