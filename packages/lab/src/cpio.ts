// A writer for the cpio "newc" format, the only one the kernel unpacks into its
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst). Written here
// rather than calling cpio(1) so that the archive can hold /dev/console without root,
// and so that the bytes depend only on the inputs (mtime 0), which the cache relies on.

export type CpioEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; data: Uint8Array; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'chardev'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Builds a newc archive of the entries, in order, with the TRAILER!!! entry. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  let ino = 1;
  const put = (b: Buffer) => {
    parts.push(b);
    size += b.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      parts.push(Buffer.alloc(pad));
      size += pad;
    }
  };
  const entry = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0], nlink = 1) => {
    const fields = [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], Buffer.byteLength(name) + 1, 0];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    put(Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(name + '\0')]));
    if (data.length) put(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  };
  for (const e of entries) {
    const name = e.name.replace(/^\/+/, '');
    switch (e.type) {
      case 'dir':
        entry(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(), [0, 0], 2);
        break;
      case 'file':
        entry(name, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        entry(name, S_IFLNK | 0o777, Buffer.from(e.target));
        break;
      case 'chardev':
        entry(name, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(), [e.major, e.minor]);
        break;
    }
  }
  ino = 0;
  entry('TRAILER!!!', 0, new Uint8Array(), [0, 0], 1);
  return Buffer.concat(parts);
}
