// Reproductions of the native-core crashes of issue 12, each run in a child process
// (native/test/children/): the child must exit normally, never by a signal, and the bad
// input must come back to JavaScript as a thrown error with its code.
import { describe, expect, it } from 'vitest';
import { describeExit, runChild } from './child.js';

describe('issue 12: inputs that used to crash the process', () => {
  it('a worker scribbling on the CQ ring and head words while this thread polls gets ERR_OUT_OF_RANGE, not SIGSEGV', async () => {
    const r = await runChild('nvme-double-fetch.mjs', ['50000']);
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toMatchObject({ rounds: 50000, named: 'ERR_OUT_OF_RANGE' });
    // Whatever the worker wrote, the only error a poll may throw is the range check.
    expect(Object.keys(r.result!.codes as object).filter((c) => c !== 'ERR_OUT_OF_RANGE')).toEqual([]);
  });

  it('eventfdWait with an element getter that grows (or shrinks) the array throws ERR_INVALID_ARG instead of overflowing its vector', async () => {
    const r = await runChild('eventfd-wait-getter.mjs');
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({ grown: 'ERR_INVALID_ARG', shrunk: 'ERR_INVALID_ARG', plain: 0 });
  });

  it('every accessor of every wrapped class called on a foreign or plain receiver throws ERR_INVALID_RECEIVER (methods: V8\'s TypeError)', async () => {
    const r = await runChild('foreign-receivers.mjs');
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    // 8 accessors (Mapping's gone, DmaBuffer's liveSlices among them) and 17 methods (DmaBuffer's
    // slice, detachSlice, finalizedSlices among them), each on the 10 receivers that are not its own.
    // NvmeQueue's poll, ring and announceHead are bound to their queue instead (any receiver).
    expect(r.result).toEqual({
      count: 250,
      refused: { accessor: { ERR_INVALID_RECEIVER: 80 }, method: { 'TypeError: Illegal invocation': 170 } },
      wrong: [],
      sane: true,
      bound: { own: true, ring: true, poll: true, closed: 'ERR_CLOSED' },
    });
  });

  it('closing the fd of a running EventfdWatcher does not abort: the watcher owns a duplicate and closes it on stop()', async () => {
    const r = await runChild('watcher-close-fd.mjs');
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    // watching: the eventfd and the duplicate; after stop(): no descriptor left behind.
    expect(r.result).toEqual({ watching: 2, fired: 3, after: 0, afterEarlyClose: 0, closed: 'EBADF' });
  });

  it('a read(2) in flight into a released DMA view or unmapped mapping fails with EFAULT instead of writing into the next allocation', async () => {
    const r = await runChild('read-after-release.mjs');
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({ released: { read: 'EFAULT', newOwner: 'intact' }, unmapped: { read: 'EFAULT', newOwner: 'intact' } });
  });
});
