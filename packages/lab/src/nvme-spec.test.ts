import { describe, expect, it } from 'vitest';
import { defaultNvmeSpec, parseNvmeSpec } from './nvme-spec.js';

describe('parseNvmeSpec', () => {
  it('gives the defaults for an empty spec', () => {
    expect(parseNvmeSpec('', 2)).toEqual({ size: 2 ** 30, lba: 512, namespaces: 1, serial: 'VFIONODE2', hotplug: false, backing: 'file' });
    expect(defaultNvmeSpec()).toEqual(parseNvmeSpec(''));
  });

  it('reads every key', () => {
    expect(parseNvmeSpec('size=64M,lba=4096,namespaces=3,mdts=5,ioqpairs=4,serial=ABC-1,image=/var/tmp/n.img,hotplug=1,inject=read:2048')).toEqual({
      size: 64 * 2 ** 20,
      lba: 4096,
      namespaces: 3,
      mdts: 5,
      ioqpairs: 4,
      serial: 'ABC-1',
      image: '/var/tmp/n.img',
      hotplug: true,
      inject: { event: 'read', sector: 2048 },
      backing: 'file',
    });
  });

  it('turns latency= into a null-co backing', () => {
    const s = parseNvmeSpec('latency=1000000,size=16M');
    expect(s.backing).toBe('null');
    expect(s.latencyNs).toBe(1_000_000);
    expect(parseNvmeSpec('backing=null').backing).toBe('null');
    expect(parseNvmeSpec('hotplug').hotplug).toBe(true);
    expect(parseNvmeSpec('hotplug=0').hotplug).toBe(false);
  });

  it('takes aio=io_uring or aio=threads for file backing, and refuses it with null backing', () => {
    expect(parseNvmeSpec('aio=io_uring').aio).toBe('io_uring');
    expect(parseNvmeSpec('aio=threads').aio).toBe('threads');
    expect(parseNvmeSpec('').aio).toBeUndefined();
    expect(() => parseNvmeSpec('aio=native')).toThrow('invalid --nvme aio (controller 0): "native" (expected threads or io_uring)');
    expect(() => parseNvmeSpec('backing=null,aio=io_uring')).toThrow(/aio.*file backing/);
  });

  it('names the key that is wrong', () => {
    expect(() => parseNvmeSpec('lba=1024')).toThrow('invalid --nvme lba (controller 0): "1024" (expected 512 or 4096)');
    expect(() => parseNvmeSpec('size=1G,colour=red', 1)).toThrow(/invalid --nvme key \(controller 1\): "colour"/);
    expect(() => parseNvmeSpec('namespaces=0')).toThrow(/namespaces.*from 1 to 256/);
    expect(() => parseNvmeSpec('mdts=x')).toThrow(/mdts/);
    expect(() => parseNvmeSpec('serial=ABCDEFGHIJKLMNOPQRSTU')).toThrow(/serial.*1 to 20/);
    expect(() => parseNvmeSpec('inject=read')).toThrow(/read:SECTOR/);
    expect(() => parseNvmeSpec('size=1000,lba=4096')).toThrow(/multiple of the 4096-byte LBA size/);
  });

  it('rejects combinations that cannot work', () => {
    expect(() => parseNvmeSpec('backing=null,image=/x')).toThrow(/no image with backing=null/);
    expect(() => parseNvmeSpec('latency=5,inject=read:1')).toThrow(/inject/);
    expect(() => parseNvmeSpec('latency=5,backing=file')).toThrow(/null when latency= is given/);
  });
});

describe('image= without size=', () => {
  it('takes an existing file\'s size instead of growing it; a new file gets the default size', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-spec-'));
    try {
      const img = path.join(dir, 'small.img');
      fs.writeFileSync(img, '');
      fs.truncateSync(img, 64 * 2 ** 20);
      expect(parseNvmeSpec(`image=${img}`).size).toBe(64 * 2 ** 20);
      expect(parseNvmeSpec(`image=${img},size=128M`).size).toBe(128 * 2 ** 20);
      expect(parseNvmeSpec(`image=${path.join(dir, 'new.img')}`).size).toBe(2 ** 30);
      fs.writeFileSync(path.join(dir, 'empty.img'), '');
      expect(() => parseNvmeSpec(`image=${path.join(dir, 'empty.img')}`)).toThrow(/regular, non-empty file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
