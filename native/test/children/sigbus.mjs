// Issue 12.6: an access to a mapping the kernel can no longer back (a BAR whose device
// stopped decoding memory, a file past its end) faults with SIGBUS, which used to kill
// the process. A 4096-byte file mapped 8192 bytes stands in for a zapped BAR: its second
// page faults. Modes (argv[2]):
//   past-eof   reads and writes past the end through readN/writeN and through `buffer`;
//              prints one JSON line of what was read and whether each mapping is gone
//   foreign    fills the guard's table (kGuardSlots live mappings), then reads past the
//              end of one more mapping, which is therefore not guarded: must die of SIGBUS
//   chained    a SIGBUS sent with kill(2) while a JavaScript listener (libuv's handler,
//              installed first) is there: the guard passes it on, the listener runs
import fs from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const mode = process.argv[2];
const dir = fs.mkdtempSync(join(fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vfio-node-sigbus-'));
const file = join(dir, 'page');
fs.writeFileSync(file, Buffer.alloc(4096, 0x5a));
const fd = native.open(file, native.constants.O_RDWR);
const hex = (v) => '0x' + v.toString(16);
const done = (result) => {
  native.close(fd);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result));
};

if (mode === 'past-eof') {
  // read32 past the end, then the same mapping's first page (still the file's bytes).
  const a = new native.Mapping(fd, 0, 8192);
  const before = a.gone;
  const read32 = hex(a.read32(4096 + 8));
  const read64 = hex(a.read64(8192 - 8));
  const inFile = hex(a.read32(0));
  // Through the ArrayBuffer view (a load the JIT or the interpreter emits, not ours).
  const b = new native.Mapping(fd, 0, 8192);
  const view = new DataView(b.buffer);
  const viewRead = hex(view.getUint32(4096 + 4, true));
  // A write that faults first: it lands in the anonymous page; the register then holds it.
  const c = new native.Mapping(fd, 0, 8192);
  c.write32(4096, 0x12345678);
  const written = hex(c.read32(4096));
  const neighbour = hex(c.read32(4100));
  const gone = { a: a.gone, b: b.gone, c: c.gone };
  a.unmap();
  const afterUnmap = a.gone;
  // A mapping that never faulted stays not gone.
  const d = new native.Mapping(fd, 0, 4096);
  const untouched = (d.read32(0), d.gone);
  b.unmap();
  c.unmap();
  d.unmap();
  done({ before, read32, read64, inFile, viewRead, written, neighbour, gone, afterUnmap, untouched });
} else if (mode === 'foreign') {
  const slots = Number(process.argv[3]);
  const guarded = Array.from({ length: slots }, () => new native.Mapping(fd, 0, 4096));
  const unguarded = new native.Mapping(fd, 0, 8192);
  console.log('READING-UNGUARDED');
  const v = unguarded.read32(4096); // SIGBUS: nothing of ours at this address
  done({ survived: hex(v), guarded: guarded.length });
} else if (mode === 'chained') {
  let heard = 0;
  process.on('SIGBUS', () => heard++);
  const m = new native.Mapping(fd, 0, 8192); // the guard installs now, after libuv's handler
  process.kill(process.pid, 'SIGBUS');
  while (heard === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  const ours = hex(m.read32(4096)); // and the guard still works
  done({ heard, ours, gone: m.gone });
} else {
  throw new Error(`unknown mode ${mode}`);
}
