// `vfio-node net SUBCOMMAND`: the command line of the packet apps. Parses options,
// runs the app, prints a line per second (or JSON lines with --json) and a summary.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { VirtioNetOptions } from '@vfio-node/virtio-net';
import { pktgen } from './pktgen.js';
import { count } from './count.js';
import { fwd } from './fwd.js';
import { respond } from './respond.js';
import { formatRate, type RateSample } from './rate.js';
import { NetResultRecorder } from './result-json.js';

/** The help text of `vfio-node net`. */
export const NET_USAGE = `usage: vfio-node net SUBCOMMAND [options]

Packet apps on virtio-net NICs bound to vfio-pci (the lab's $VFIO_LAB_NICS).

  pktgen ADDR        transmit fixed-size frames as fast as possible
      --size N         frame size without FCS (default 64)
      --count N        stop after N frames
      --duration SEC   stop after SEC seconds
      --dst-mac MAC    destination (default 02:00:00:00:00:02)
      --queues N       send on N transmit queues (queue pairs; needs MQ), one batch each in turn
      --flows N        UDP source ports per queue (default 1): flows a receiver can spread
      --csum-offload   let the device fill in each frame's UDP checksum (needs VIRTIO_NET_F_CSUM)
  count ADDR         receive and count frames, check pktgen's sequence numbers and UDP checksums
      --count N, --duration SEC, --idle SEC (stop after SEC without frames)
      --queues N       poll N receive queues (queue pairs), counted per queue
  fwd ADDR ADDR      forward frames between two ports (--duration SEC)
      --tx-first N     send N frames on each port first (testpmd's --tx-first)
  respond ADDR --ip A.B.C.D
                     answer ARP and ICMP echo for A.B.C.D (--duration SEC)

common options:
  --json             one JSON object per line (per second, then the summary)
  --output FILE      pktgen, count, fwd: also write the per-second rates (packets and bits per
                     second, per port and direction) and the summary to FILE as one JSON
                     object, for 'vfio-node report FILE'
  --interrupts       sleep on MSI-X interrupts when idle (default: poll)
  --batch N          frames per batch (default 64)
  --idle-sleep US    polling: sleep US microseconds when a batch finds nothing to do
                     (default 0: spin; under emulation a sleeping vCPU leaves its host
                     CPU to the device model)
  --queue-size N     descriptors per queue (default 256)
  --mtu N            MTU (default: the device's, else 1500): frames up to N + 14 bytes;
                     QEMU without host_mtu takes jumbo frames (set it on both ends)
  --no-event-idx, --no-mrg-rxbuf, --no-csum, --no-mq
                     switch off a feature the device offers
  --packed           use packed rings when offered (default: split rings, measured faster)
  --js-tx            transmit batches in JavaScript, not in the native loop

A generator needs a receiver that drains: QEMU's hub stops a sender whose peer's
receive ring is full. Start 'count' (or 'fwd') on the other port first. Several queue
pairs and checksum offload need a backend that has them: in the lab, --nic backend=tap,queues=N.`;

/** The options of `vfio-node net` (node:util parseArgs' table; the CLI reads it to run an app in the lab). */
export const NET_OPTIONS = {
  size: { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  idle: { type: 'string' },
  'dst-mac': { type: 'string' },
  ip: { type: 'string' },
  'tx-first': { type: 'string' },
  json: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  interrupts: { type: 'boolean' },
  batch: { type: 'string' },
  'idle-sleep': { type: 'string' },
  'queue-size': { type: 'string' },
  mtu: { type: 'string' },
  'no-event-idx': { type: 'boolean' },
  'no-mrg-rxbuf': { type: 'boolean' },
  'no-csum': { type: 'boolean' },
  'no-packed': { type: 'boolean' },
  packed: { type: 'boolean' },
  'no-mq': { type: 'boolean' },
  'js-tx': { type: 'boolean' },
  queues: { type: 'string' },
  flows: { type: 'string' },
  'csum-offload': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function seconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number of seconds, got ${JSON.stringify(v)}`);
  return n * 1000;
}

/** Runs `net SUBCOMMAND ...`; returns the exit status. Errors other than usage errors propagate (the CLI prints VfioErrors). */
export async function runNet(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(NET_USAGE);
    return sub ? 0 : 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: NET_OPTIONS, allowPositionals: true });
  } catch (err) {
    console.error(`vfio-node net: ${(err as Error).message}\n\n${NET_USAGE}`);
    return 2;
  }
  const { values: v, positionals: p } = parsed;
  if (v.help) {
    console.log(NET_USAGE);
    return 0;
  }
  const driver: VirtioNetOptions = {
    interrupts: v.interrupts ? 'msix' : 'poll',
    ...(v['queue-size'] ? { queueSize: Number(v['queue-size']) } : {}),
    ...(v['js-tx'] ? { nativeTx: false } : {}),
    features: { eventIdx: !v['no-event-idx'], mrgRxbuf: !v['no-mrg-rxbuf'], csum: !v['no-csum'], packed: !!v.packed && !v['no-packed'], mq: !v['no-mq'] },
  };
  const json = !!v.json;
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const print = (o: unknown, text: string) => console.log(json ? JSON.stringify(o) : text);
  const recorder = v.output !== undefined && sub !== 'respond' ? new NetResultRecorder(sub, ['vfio-node', 'net', ...argv]) : undefined;
  const rate = (s: RateSample & { lost?: number }) => {
    recorder?.add(s);
    print({ type: 'rate', ...s }, formatRate(s) + (s.lost !== undefined ? `, lost ${s.lost}` : ''));
  };
  /** --output: the rates and the summary, written when the app ends (a file that cannot be written fails the command). */
  const save = (summary: unknown): void => {
    if (!recorder) return;
    writeFileSync(v.output!, JSON.stringify(recorder.json(summary), null, 2) + '\n');
  };
  try {
    const batch = int('batch', v.batch, 1);
    const mtu = int('mtu', v.mtu, 68);
    if (mtu !== undefined) driver.mtu = mtu;
    const idleSleepUs = int('idle-sleep', v['idle-sleep'], 0);
    const common = { signal: ac.signal, durationMs: seconds('duration', v.duration), driver, ...(batch ? { batch } : {}), ...(idleSleepUs ? { idleSleepUs } : {}) };
    const need = (n: number) => {
      if (p.length !== n) throw new UsageError(`net ${sub} takes ${n} PCI address${n > 1 ? 'es' : ''}, got ${p.length}`);
    };
    switch (sub) {
      case 'pktgen': {
        need(1);
        const r = await pktgen({
          ...common,
          address: p[0]!,
          size: int('size', v.size, 1),
          count: int('count', v.count, 1),
          dstMac: v['dst-mac'],
          queues: int('queues', v.queues, 1),
          flows: int('flows', v.flows, 1),
          csumOffload: !!v['csum-offload'],
          report: rate,
        });
        const perQueue = r.perQueue.length > 1 ? ` (per queue ${r.perQueue.join(', ')})` : '';
        save({ app: 'pktgen', ...r });
        print({ type: 'summary', app: 'pktgen', ...r }, `pktgen ${r.port}: ${r.packets} frames of ${r.size} bytes in ${r.seconds.toFixed(2)} s: ${r.mpps.toFixed(3)} Mpps, ${r.gbps.toFixed(3)} Gbit/s${perQueue}${r.csumOffload ? ', UDP checksums by the device' : ''}`);
        return 0;
      }
      case 'count': {
        need(1);
        // On stderr in both modes: a script waits for it before starting a generator.
        const onReady = () => console.error(`count ${p[0]}: ready`);
        const r = await count({ ...common, address: p[0]!, count: int('count', v.count, 1), idleMs: seconds('idle', v.idle), queues: int('queues', v.queues, 1), report: rate, onReady });
        const c = r.csum;
        save({ app: 'count', ...r });
        print(
          { type: 'summary', app: 'count', ...r },
          `count ${r.port}: ${r.packets} frames (${r.sequenced} from pktgen, seq ${r.firstSeq}..${r.lastSeq}), lost ${r.lost}, reordered ${r.reordered}${r.missing !== undefined ? `, missing ${r.missing}, duplicates ${r.duplicates}` : ''}, ${r.mpps.toFixed(3)} Mpps over ${r.seconds.toFixed(2)} s` +
            (r.perQueue.length > 1 ? `; per queue ${r.perQueue.join(', ')}` : '') +
            `; UDP checksums: ${c.good} good, ${c.bad} bad, ${c.none} none, ${c.partial} partial (NEEDS_CSUM), ${c.dataValid} DATA_VALID`,
        );
        return 0;
      }
      case 'fwd': {
        need(2);
        const r = await fwd({ ...common, addresses: [p[0]!, p[1]!], txFirst: int('tx-first', v['tx-first'], 0), report: rate });
        save(r.directions.map((d) => ({ app: 'fwd', ...d, seconds: r.seconds })));
        for (const d of r.directions) print({ type: 'summary', app: 'fwd', ...d, seconds: r.seconds }, `fwd ${d.from} -> ${d.to}: ${d.packets} frames, ${d.drops} dropped, ${d.mpps.toFixed(3)} Mpps`);
        return 0;
      }
      case 'respond': {
        need(1);
        if (!v.ip) throw new UsageError('net respond needs --ip A.B.C.D');
        if (!json) console.log(`responding to ARP and ICMP echo for ${v.ip} on ${p[0]} (Ctrl-C stops)`);
        const r = await respond({ ...common, address: p[0]!, ip: v.ip, report: (c) => print({ type: 'counts', ...c }, `[${c.port}] received ${c.received}, ARP replies ${c.arpReplies}, echo replies ${c.echoReplies}`) });
        print({ type: 'summary', app: 'respond', ...r }, `respond ${r.port}: ${r.received} received, ${r.arpReplies} ARP replies, ${r.echoReplies} echo replies, ${r.ignored} ignored`);
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof RangeError || err instanceof TypeError) {
      console.error(`vfio-node net: ${err.message}${err instanceof UsageError ? `\n\n${NET_USAGE}` : ''}`);
      return 2;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
