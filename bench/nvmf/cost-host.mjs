#!/usr/bin/env node
// The NVMe/TCP target's own cost per command, on the host: the target (this process) over a
// null or RAM bdev on 127.0.0.1, a host in a child process (not measured) that sends Read
// CapsuleCmds at a fixed queue depth on one I/O queue, as the Linux initiator does (C2HData
// then CapsuleResp come back). Two measures of the target's process, per read:
//
//  - CPU time (process.cpuUsage, user + system) and wall time over a window of reads;
//  - instructions with callgrind: the host stops at the end of each window, the target
//    calls getppid(2), where `--dump-before=getppid` dumps the counters; Ir per read =
//    (Ir(2N window) - Ir(N window)) / N, as bench/cost does.
//
//   node bench/nvmf/cost-host.mjs [--bs 4096] [--qd 32] [--n 20000] [--warmup 20000] [--bdev null:1G]
//   valgrind --tool=callgrind --dump-before=getppid --smc-check=all-non-file \
//     --callgrind-out-file=OUT/callgrind.out node --single-threaded-gc bench/nvmf/cost-host.mjs --n 5000 --warmup 5000 --out OUT
//   node bench/nvmf/cost-host.mjs --analyze OUT
//
// Needs the packages built (pnpm exec tsc -b). Both processes share the host's cores with
// whatever else runs: the CPU figure is the one to compare, the IOPS only a rough guide.

import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    bs: { type: 'string', default: '4096' },
    qd: { type: 'string', default: '32' },
    n: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '20000' },
    bdev: { type: 'string', default: 'null:1G' },
    out: { type: 'string' },
    analyze: { type: 'string' },
    client: { type: 'string' },
    digests: { type: 'boolean', default: false },
  },
});

if (values.analyze) {
  const { markerWindows, windowsText } = await import('../cost/marker-dumps.mjs');
  const [w] = markerWindows(values.analyze, 1);
  console.log(`target: ${w.perOp.toFixed(1)} Ir/read ${windowsText(w, 'read')}`);
  process.exit(0);
}

const NQN = 'nqn.2026-12.io.vfio-node:cost';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000c057';

if (values.client) await client(Number(values.client));
else await target();

/** The measured side: a target over the bdev, markers at the host's window ends. */
async function target() {
  const { NvmfTarget } = await import('../../packages/nvmf/dist/index.js');
  const { openBdevs } = await import('../../packages/bdev/dist/index.js');
  const bdevs = await openBdevs([values.bdev]);
  const t = await NvmfTarget.listen({ listen: '127.0.0.1:0', subsystems: [{ nqn: NQN, namespaces: bdevs, allowHosts: [] }] });
  t.on('log', (e) => e.event === 'error' && console.error(`target: ${e.message}`));
  const n = Number(values.n);
  if (values.out) writeFileSync(path.join(values.out, 'n.txt'), String(n));
  const child = fork(new URL(import.meta.url).pathname, [...process.argv.slice(2), '--client', String(t.address.port)], { execArgv: [] });
  let cpu = process.cpuUsage();
  let wall = process.hrtime.bigint();
  const results = [];
  await new Promise((resolve, reject) => {
    child.on('message', (m) => {
      process.ppid; // getppid(2): callgrind dumps here
      const c = process.cpuUsage(cpu);
      const ns = Number(process.hrtime.bigint() - wall);
      if (m.window !== 'warmup') results.push({ window: m.window, reads: m.reads, cpuUs: c.user + c.system, userUs: c.user, wallNs: ns });
      cpu = process.cpuUsage();
      wall = process.hrtime.bigint();
      child.send('go');
      if (m.window === '2N') resolve();
    });
    child.on('exit', (code) => (code ? reject(new Error(`host exited ${code}`)) : resolve()));
  });
  await t.close();
  for (const b of bdevs) await b.close();
  console.log(`bdev ${values.bdev}, ${values.bs}-byte reads, QD ${values.qd}, one I/O queue, digests ${values.digests ? 'on' : 'off'}`);
  for (const r of results) {
    console.log(`${r.window.padEnd(2)} window: ${r.reads} reads, target CPU ${(r.cpuUs / r.reads).toFixed(2)} us/read (user ${(r.userUs / r.reads).toFixed(2)}), ${Math.round(r.reads / (r.wallNs / 1e9))} reads/s`);
  }
}

/** The host: ICReq, admin Connect, CC.EN, I/O Connect, then reads at QD, window by window. */
async function client(port) {
  const { PduReader, PduType, encodeICReq, encodeCapsuleCmd, decodeCqeStatus } = await import('../../packages/nvmf/dist/index.js');
  const digests = { header: values.digests, data: values.digests };
  const bs = Number(values.bs);
  const qd = Number(values.qd);

  async function open() {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise((r, j) => sock.once('connect', r).once('error', j));
    sock.setNoDelay(true);
    const reader = new PduReader({ maxPlen: 1 << 22 });
    const q = { sock, reader, onPdu: null };
    sock.on('data', (c) => {
      for (const p of reader.push(c)) q.onPdu(p);
    });
    return q;
  }
  function once(q) {
    return new Promise((r) => (q.onPdu = r));
  }
  async function ic(q) {
    q.sock.write(encodeICReq({ digests }));
    await once(q);
    q.reader.setDigests(digests);
  }
  function sqe(opcode, fctype = 0) {
    const b = Buffer.alloc(64);
    b[0] = opcode;
    b[4] = fctype;
    return b;
  }
  async function command(q, b, data = null) {
    if (data) {
      b.writeUInt32LE(data.length, 32);
      b[39] = 0x01;
    }
    q.sock.write(encodeCapsuleCmd(b, data, digests));
    for (;;) {
      const p = await once(q);
      if (p.type === PduType.CapsuleResp) return decodeCqeStatus(p.cqe);
    }
  }
  function connect(qid, cntlid) {
    const b = sqe(0x7f, 0x01);
    b.writeUInt16LE(qid, 42);
    b.writeUInt16LE(qid ? 127 : 31, 44);
    const d = Buffer.alloc(1024);
    d.writeUInt16LE(cntlid, 16);
    d.write(NQN, 256);
    d.write(HOSTNQN, 512);
    return [b, d];
  }

  const adm = await open();
  await ic(adm);
  const c = await command(adm, ...connect(0, 0xffff));
  if (c.sc) throw new Error(`admin Connect failed: sc ${c.sc}`);
  const set = sqe(0x7f, 0x00);
  set.writeUInt32LE(0x14, 44);
  set.writeBigUInt64LE(BigInt(1 | (6 << 16) | (4 << 20)), 48); // CC: EN, IOSQES 6, IOCQES 4
  await command(adm, set);
  const io = await open();
  await ic(io);
  const ioc = await command(io, ...connect(1, c.dw0 & 0xffff));
  if (ioc.sc) throw new Error(`I/O Connect failed: sc ${ioc.sc}`);

  // One capsule per command ID, built once; a read's SLBA walks the first 64 MiB.
  const lbas = bs / 512;
  const capsules = [];
  for (let cid = 0; cid < qd; cid++) {
    const b = sqe(0x02);
    b.writeUInt16LE(cid, 2);
    b.writeUInt32LE(1, 4); // NSID
    b.writeUInt32LE(bs, 32); // SGL LENGTH
    b[39] = 0x5a; // Transport Data Block
    b.writeUInt32LE(lbas - 1, 48); // NLB, 0's based
    capsules.push(encodeCapsuleCmd(b, null, digests));
  }
  const span = Math.floor((64 << 20) / bs);
  let next = 0;
  let issued = 0;
  let done = 0;
  let limit = 0;
  let finish = null;
  const issue = (cid) => {
    const cap = capsules[cid];
    cap.writeUInt32LE((next++ % span) * lbas, 8 + 40); // SLBA low (CDW10)
    issued++;
    io.sock.write(cap);
  };
  io.onPdu = (p) => {
    if (p.type !== PduType.CapsuleResp) return;
    const st = decodeCqeStatus(p.cqe);
    if (st.sc || st.sct) throw new Error(`read failed: sct ${st.sct} sc ${st.sc}`);
    done++;
    if (issued < limit) issue(st.cid);
    else if (done === issued) finish();
  };
  const windows = [
    ['warmup', Number(values.warmup)],
    ['N', Number(values.n)],
    ['2N', 2 * Number(values.n)],
  ];
  for (const [window, reads] of windows) {
    limit = issued + reads;
    const start = issued;
    await new Promise((r) => {
      finish = r;
      for (let cid = 0; cid < Math.min(qd, reads); cid++) issue(cid);
    });
    process.send({ window, reads: issued - start });
    await new Promise((r) => process.once('message', r));
  }
  adm.sock.destroy();
  io.sock.destroy();
  process.exit(0);
}
