// trace-bringup: watch the NVMe driver bring a controller up, register by register, in
// the order of the NVMe Base Specification's §3.5.1: CC.EN = 0 and wait for CSTS.RDY = 0,
// the admin queue in AQA/ASQ/ACQ, CC with EN = 1, wait for CSTS.RDY = 1; then Identify
// Controller, the interrupts, the I/O queue pairs; at the end the shutdown (CC.SHN = 1
// until CSTS.SHST = 2, then CC.EN = 0).
//
//   node examples/dist/trace-bringup.js 0000:01:00.0
//   npx vfio-node lab run -- node examples/dist/trace-bringup.js
//
// The driver logs with pino; at level 'trace' the core logs every register access made
// through the BAR's accessors with the register's name from the specification (the
// driver names BAR0's registers; the two read before it does, CAP and VS, are named here
// from the driver's Register table). Here the logger is handed to NvmeController.open and
// its JSON lines are printed as a readable table; repeated reads of one register (polling
// CSTS) fold into one line. Doorbells are rung by the queues' native hot path, past the
// register log, so the admin commands show only through their results (the Identify line)
// and the queue pairs are listed from the controller. Any program can do the same, or set
// VFIO_NODE_LOG=trace for the raw JSON on stderr. Without an address the first one in
// $VFIO_LAB_NVME is used (the lab sets it).

import pino from 'pino';
import { NvmeController, CC, CSTS, Register, getField } from '@vfio-node/nvme';

const address = process.argv[2] ?? process.env.VFIO_LAB_NVME?.split(' ')[0];
if (!address) {
  console.error('usage: node trace-bringup.js PCI_ADDRESS');
  process.exit(2);
}

/** BAR0 offsets to names, for the accesses made before the driver named the registers (CAP, VS). */
const names = new Map<string, string>(Object.entries(Register).map(([name, offset]) => [`0x${offset.toString(16)}`, name]));

/** What a register value means, for the registers of the bring-up. */
function meaning(reg: string, value: number): string {
  if (reg === 'CC') return `EN=${getField(value, CC.EN)} SHN=${getField(value, CC.SHN)} MPS=${getField(value, CC.MPS)} IOSQES=${getField(value, CC.IOSQES)} IOCQES=${getField(value, CC.IOCQES)}`;
  if (reg === 'CSTS') return `RDY=${getField(value, CSTS.RDY)} CFS=${getField(value, CSTS.CFS)} SHST=${getField(value, CSTS.SHST)}`;
  if (reg === 'AQA') return `admin queues of ${(value & 0xfff) + 1} entries`;
  if (reg === 'ASQ' || reg === 'ACQ') return `admin ${reg === 'ASQ' ? 'submission' : 'completion'} queue at IOVA ${'0x' + value.toString(16)}`;
  return '';
}

/** One trace line waiting to be printed (a repeat of it only raises `times`). */
let pending: { text: string; times: number } | undefined;
function emit(text: string): void {
  if (pending?.text === text) {
    pending.times++;
    return;
  }
  flush();
  pending = { text, times: 1 };
}
function flush(): void {
  if (pending) console.log(pending.times > 1 ? `${pending.text}   (x${pending.times})` : pending.text);
  pending = undefined;
}

type Entry = { msg: string; region?: string; reg?: string; offset?: string; value?: string; [k: string]: unknown };
const stream = {
  write(line: string): void {
    const e = JSON.parse(line) as Entry;
    if ((e.msg === 'read' || e.msg === 'write') && e.value !== undefined) {
      if (e.region !== 'BAR0') return; // config space and the other BARs
      const reg = e.reg ?? names.get(e.offset ?? '') ?? e.offset ?? '?';
      const arrow = e.msg === 'write' ? '<-' : '->';
      const why = meaning(reg, Number(BigInt(e.value) & 0xffffffffn));
      emit(`  ${e.msg.padEnd(5)} ${reg.padEnd(8)} ${arrow} ${e.value.padEnd(18)} ${why}`.trimEnd());
      return;
    }
    const { level: _level, time: _time, msg, device: _device, driver: _driver, ...rest } = e;
    emit(`${msg}${Object.keys(rest).length ? ' ' + JSON.stringify(rest) : ''}`);
  },
};
const logger = pino({ level: 'trace', base: undefined }, stream);

console.log(`bring-up of ${address}:`);
{
  await using ctrl = await NvmeController.open(address, { logger });
  flush();
  const ns = ctrl.namespace();
  console.log(`controller ready: ${ctrl.identify.mn.trim()}, namespace ${ns.nsid} of ${ns.blocks} blocks of ${ns.blockSize} bytes`);
  for (const qp of ctrl.queuePairs) {
    console.log(`I/O queue pair ${qp.qid}: ${qp.depth} entries, SQ at IOVA 0x${qp.sqIova.toString(16)}, CQ at IOVA 0x${qp.cqIova.toString(16)}, completions by ${qp.completion}`);
  }
  using buf = ctrl.allocBuffer(ns.blockSize);
  await ns.read(0, 1, buf.bytes);
  flush();
  console.log('read LBA 0 on I/O queue pair 1\nshutdown:');
}
flush();
console.log('closed');
