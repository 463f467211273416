import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerStatus } from './progress.js';

describe('PeerStatus', () => {
  let status: PeerStatus | undefined;
  afterEach(() => status?.stop());

  it('draws the step with its elapsed and expected seconds, over the previous line, and erases it', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    let now = 1000;
    status = new PeerStatus(out, () => now);
    status.start('peer kernel: fio --ioengine=io_uring on /dev/nvme0n1', 10);
    now += 4000;
    expect(status.line()).toBe('peer kernel: fio --ioengine=io_uring on /dev/nvme0n1: 4 s of about 10 s');
    status.draw();
    status.start('peer qemu: qemu-img bench');
    expect(status.line()).toBe('peer qemu: qemu-img bench: 0 s');
    status.stop();
    const first = 'peer kernel: fio --ioengine=io_uring on /dev/nvme0n1: 0 s of about 10 s';
    expect(text.startsWith(`\r${first}`)).toBe(true);
    // A shorter line is padded to cover the longer one; stop() blanks it.
    expect(text).toContain(`\r${'peer qemu: qemu-img bench: 0 s'.padEnd(first.length)}`);
    expect(text.endsWith('\r')).toBe(true);
  });
});
