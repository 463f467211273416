import { describe, expect, it } from 'vitest';
import { SeriesRecorder, seriesJson, sumSeries } from './job-series.js';

describe('per-interval series', () => {
  it('counts completions into fixed windows from the job start; an empty window is 0; the last partial window is over its own length', () => {
    const s = new SeriesRecorder(1000, 500, [true, false]);
    for (let i = 0; i < 10; i++) s.add(100 + i * 50, 0, 4096); // 10 reads in [0, 1000)
    // nothing in [1000, 2000) nor [2000, 3000)
    s.add(3100, 0, 8192);
    s.add(3200, 0, 8192);
    const r = s.finish(3500);
    expect(r.intervalMs).toBe(1000);
    expect(r.rampMs).toBe(500);
    expect(r.write).toBeUndefined();
    expect(r.read!.iops).toEqual([[1000, 10], [2000, 0], [3000, 0], [3500, 4]]);
    expect(r.read!.bw).toEqual([[1000, 40960], [2000, 0], [3000, 0], [3500, 32768]]);
  });

  it('leaves out a last window shorter than half a window (the drain after the end would read as a spike)', () => {
    const s = new SeriesRecorder(1000, 0, [true, false]);
    for (let i = 0; i < 10; i++) s.add(100 + i * 50, 0, 4096);
    for (let i = 0; i < 32; i++) s.add(1000.01 + i * 0.001, 0, 4096); // the queue drained just after the end
    expect(s.finish(1000.05).read!.iops).toEqual([[1000, 10]]);
  });

  it('keeps reads and writes apart, each direction the job does getting a point per window', () => {
    const s = new SeriesRecorder(500, 0, [true, true]);
    s.add(10, 0, 4096);
    s.add(20, 1, 4096);
    s.add(30, 1, 4096);
    s.add(600, 1, 4096);
    const r = s.finish(1000);
    expect(r.read!.iops).toEqual([[500, 2], [1000, 0]]);
    expect(r.write!.iops).toEqual([[500, 4], [1000, 2]]);
  });

  it('a job that ends on a window boundary has no extra point', () => {
    const s = new SeriesRecorder(1000, 0, [true, false]);
    s.add(999, 0, 512);
    expect(s.finish(1000).read!.iops).toEqual([[1000, 1]]);
  });

  it('sums several jobs window by window, and writes JSON with fio-style keys', () => {
    const a = { intervalMs: 1000, rampMs: 0, read: { iops: [[1000, 5], [2000, 6]] as [number, number][], bw: [[1000, 50], [2000, 60]] as [number, number][] } };
    const b = { intervalMs: 1000, rampMs: 0, read: { iops: [[1000, 1], [2000, 2]] as [number, number][], bw: [[1000, 10], [2000, 20]] as [number, number][] } };
    const sum = sumSeries([a, b])!;
    expect(sum.read).toEqual({ iops: [[1000, 6], [2000, 8]], bw: [[1000, 60], [2000, 80]] });
    expect(sumSeries([])).toBeUndefined();
    expect(seriesJson(sum)).toEqual({ interval_ms: 1000, ramp_ms: 0, read: { iops: [[1000, 6], [2000, 8]], bw_bytes: [[1000, 60], [2000, 80]] } });
  });

  it('gives trims (direction 2) a series of their own, summed and written to JSON like the others', () => {
    const s = new SeriesRecorder(500, 0, [false, true, true]);
    // trimwrite: a trim, then the write of the same block.
    for (let i = 0; i < 10; i++) {
      s.add(i * 40, 2, 4096);
      s.add(i * 40 + 1, 1, 4096);
    }
    s.add(700, 2, 8192);
    const r = s.finish(1000);
    expect(r.read).toBeUndefined();
    expect(r.write!.iops).toEqual([[500, 20], [1000, 0]]);
    expect(r.trim!.iops).toEqual([[500, 20], [1000, 2]]);
    expect(r.trim!.bw).toEqual([[500, 81920], [1000, 16384]]);
    const sum = sumSeries([r, r])!;
    expect(sum.trim!.iops).toEqual([[500, 40], [1000, 4]]);
    expect(Object.keys(seriesJson(sum))).toEqual(['interval_ms', 'ramp_ms', 'write', 'trim']);
    expect(seriesJson(sum).trim).toEqual({ iops: [[500, 40], [1000, 4]], bw_bytes: [[500, 163840], [1000, 32768]] });
    // A job without trims has no trim series (two directions given: the trim is off).
    expect(new SeriesRecorder(500, 0, [true, false]).finish(100).trim).toBeUndefined();
  });
});
