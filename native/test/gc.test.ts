// Finalizers: a native object collected while its ArrayBuffer is still reachable keeps
// the memory alive; once both are gone the memory is unmapped. Runs in a child process
// started with --expose-gc.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nativeUrl } from './helpers.js';

const script = `
import native from ${JSON.stringify(nativeUrl)};
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
const collect = async () => { for (let i = 0; i < 6; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); } };
const out = {};

let dma = native.DmaBuffer.alloc(4096, { hugepages: false });
const id = dma.id;
let ab = dma.buffer;
new Uint8Array(ab)[0] = 9;
dma = null;
await collect();
const again = native.DmaBuffer.open(id); // the ArrayBuffer still holds its reference
out.dmaAfterHandleGc = [new Uint8Array(again.buffer)[0], new Uint8Array(ab)[0]];
again.release();
ab = null;
await collect();
try { native.DmaBuffer.open(id); out.dmaAfterBothGc = 'still open'; } catch (e) { out.dmaAfterBothGc = e.code; }

const path = '/tmp/vfio-native-gc-' + process.pid;
writeFileSync(path, Buffer.alloc(4096));
const fd = native.open(path, native.constants.O_RDWR);
let map = new native.Mapping(fd, 0, 4096);
let mab = map.buffer;
map.write32(0, 0x1234);
map = null;
await collect();
out.mappingAfterHandleGc = new DataView(mab).getUint32(0, true);
mab = null;
await collect();
out.mappedAfterBothGc = readFileSync('/proc/self/maps', 'utf8').includes(path);
native.close(fd);
rmSync(path);

for (let i = 0; i < 50; i++) {
  const efd = native.eventfdCreate();
  new native.EventfdWatcher(efd, () => {}).stop();
  native.close(efd);
}
await collect();
out.watchersCollected = true;
console.log(JSON.stringify(out));
`;

describe('finalizers', () => {
  it('keep memory while an ArrayBuffer can reach it, and free it after', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      dmaAfterHandleGc: [9, 9],
      dmaAfterBothGc: 'ERR_INVALID_ARG',
      mappingAfterHandleGc: 0x1234,
      mappedAfterBothGc: false,
      watchersCollected: true,
    });
  });
});
