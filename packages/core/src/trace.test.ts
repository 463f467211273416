import { afterEach, describe, expect, it, vi } from 'vitest';
import { Tracer } from './trace.js';

function clock(...steps: number[]) {
  let i = 0;
  return () => steps[Math.min(i++, steps.length - 1)]!;
}

describe('Tracer', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('writes aligned text lines: time since start, who, kind, text, section', () => {
    const lines: string[] = [];
    const t = new Tracer({ write: (l) => lines.push(l), now: clock(100, 101.5, 103.25) });
    t.emit('0000:00:03.0', 'reg', 'write CC = 0x460001', 'Base 2.0 §3.1.3.5');
    t.emit('0000:00:03.0 worker 1', 'doorbell', 'SQ1TDBL = 4');
    expect(lines).toEqual([
      '+     1.500 ms  0000:00:03.0  reg       write CC = 0x460001  Base 2.0 §3.1.3.5\n',
      '+     3.250 ms  0000:00:03.0 worker 1  doorbell  SQ1TDBL = 4\n',
    ]);
  });

  it('writes JSON lines with --trace=json', () => {
    const lines: string[] = [];
    const t = new Tracer({ format: 'json', write: (l) => lines.push(l), now: clock(0, 2.0004) });
    t.emit('0000:00:03.0', 'cqe', 'cid=3 status=Successful Completion', 'Base 2.0');
    expect(JSON.parse(lines[0]!)).toEqual({ t_ms: 2, who: '0000:00:03.0', kind: 'cqe', text: 'cid=3 status=Successful Completion', section: 'Base 2.0' });
    expect(lines[0]!.endsWith('\n')).toBe(true);
  });

  it('collapses a polled register into one line with the reads and the time it took', () => {
    const t = new Tracer({ keep: true, write: () => {}, now: clock(0, 10, 11.2) });
    const p = t.poll('0000:00:03.0', 'Base 2.0 §3.5.1');
    for (let i = 0; i < 42; i++) p.read();
    p.done('CSTS.RDY=1');
    expect(t.events).toEqual([{ tMs: 11.2, who: '0000:00:03.0', kind: 'poll', text: 'CSTS.RDY=1 after 42 reads, 1.2 ms', section: 'Base 2.0 §3.5.1' }]);
  });

  it('colours by kind only when asked (or on a terminal)', () => {
    const lines: string[] = [];
    new Tracer({ write: (l) => lines.push(l), color: true, now: clock(0) }).emit('a', 'irq', 'vector 1');
    expect(lines[0]).toContain('\x1b[31mirq');
  });

  it('is off unless an option or VFIO_NODE_TRACE asks; json from the environment too', () => {
    vi.stubEnv('VFIO_NODE_TRACE', '');
    expect(Tracer.from(undefined)).toBeNull();
    expect(Tracer.from(false)).toBeNull();
    expect(Tracer.from(true)).toBeInstanceOf(Tracer);
    const mine = new Tracer({ write: () => {} });
    expect(Tracer.from(mine)).toBe(mine);
    vi.stubEnv('VFIO_NODE_TRACE', 'json');
    const shared = Tracer.from(undefined)!;
    expect(shared).toBeInstanceOf(Tracer);
    expect((shared as unknown as { format: string }).format).toBe('json');
    expect(Tracer.from(undefined)).toBe(shared); // one per process
    vi.stubEnv('VFIO_NODE_TRACE', '0');
    expect(Tracer.from(undefined)).toBeNull();
  });
});
