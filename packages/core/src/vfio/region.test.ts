// Region over a mapping whose second page cannot be backed (a 4096-byte file mapped
// 8192 bytes), as a BAR whose device stopped decoding memory: accesses there read all
// ones through the native SIGBUS guard, and the region says it is gone.
import fs from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../native.js';
import { logger } from '../logging.js';
import { Region } from './region.js';

const C = native.constants;
let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

function regionOverShortFile(): Region {
  const dir = fs.mkdtempSync(join(fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vfio-node-region-'));
  const file = join(dir, 'bar');
  fs.writeFileSync(file, Buffer.alloc(4096, 0x11));
  const fd = native.open(file, C.O_RDWR!);
  const flags = C.VFIO_REGION_INFO_FLAG_READ! | C.VFIO_REGION_INFO_FLAG_WRITE! | C.VFIO_REGION_INFO_FLAG_MMAP!;
  const region = new Region(fd, { index: 0, flags, size: 8192n, offset: 0n, msixMappable: false }, logger(), 'BAR0');
  cleanup = () => {
    region.close();
    native.close(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return region;
}

describe('a region whose pages the kernel took away', () => {
  it('reads all ones there and says gone, also after close()', () => {
    const region = regionOverShortFile();
    expect(region.read32(0)).toBe(0x11111111);
    expect(region.gone).toBe(false);
    expect(region.read32(4096)).toBe(0xffffffff);
    expect(region.read64(8184)).toBe(0xffff_ffff_ffff_ffffn);
    expect(region.gone).toBe(true);
    region.close();
    expect(region.gone).toBe(true);
  });
});
