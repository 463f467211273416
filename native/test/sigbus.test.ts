// Issue 12.6: SIGBUS. An access to a mapping the kernel can no longer back (a BAR whose
// device stopped decoding memory, a file past its end) used to kill the process. The
// native core's guard (native/src/sigbus.cc) turns such a fault inside a live Mapping into
// all ones and marks the mapping gone, and passes any other SIGBUS on. Each case runs in a
// child process (native/test/children/sigbus.mjs), so a SIGBUS fails the test with its
// signal instead of killing the runner.
import { describe, expect, it } from 'vitest';
import { describeExit, runChild } from './child.js';

describe('issue 12: SIGBUS in a mapping', () => {
  it('an access past the end of a mapping (SIGBUS, as from a BAR whose device stopped decoding memory) reads all ones and marks the mapping gone', async () => {
    const r = await runChild('sigbus.mjs', ['past-eof']);
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({
      before: false,
      read32: '0xffffffff',
      read64: '0xffffffffffffffff',
      inFile: '0x5a5a5a5a', // the page that the file backs is untouched
      viewRead: '0xffffffff',
      written: '0x12345678', // a write lands in the anonymous page
      neighbour: '0xffffffff',
      gone: { a: true, b: true, c: true },
      afterUnmap: true,
      untouched: false,
    });
  });

  it('a SIGBUS that is not the guard\'s goes on to the handler that was there before: the default (death by SIGBUS) or a listener', async () => {
    // Every slot of the guard's table taken (kGuardSlots in native/src/sigbus.h), so that
    // one more mapping is a plain mmap the guard knows nothing about.
    const foreign = await runChild('sigbus.mjs', ['foreign', '1024']);
    expect(foreign.stdout, describeExit(foreign)).toContain('READING-UNGUARDED');
    expect(foreign.signal, describeExit(foreign)).toBe('SIGBUS');
    // One slot fewer: the same read is guarded, and the child lives.
    const guarded = await runChild('sigbus.mjs', ['foreign', '1023']);
    expect(guarded.signal, describeExit(guarded)).toBeNull();
    expect(guarded.result).toEqual({ survived: '0xffffffff', guarded: 1023 });
    // A handler installed before the guard (libuv's, for process.on('SIGBUS')) still hears kill(2).
    const chained = await runChild('sigbus.mjs', ['chained']);
    expect(chained.signal, describeExit(chained)).toBeNull();
    expect(chained.code, describeExit(chained)).toBe(0);
    expect(chained.result).toEqual({ heard: 1, ours: '0xffffffff', gone: true });
  });
});
