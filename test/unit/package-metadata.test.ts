// What each publishable package says about itself, checked in the repository (the install
// stage checks the same in the packed tarballs): the MIT license with the LICENSE file
// (an exact copy of the repository's), the repository and the package's directory in it,
// `files` that ship LICENSE and README.md, and a README that names the package and shows
// how to use it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** The packages scripts/pack.sh packs. */
const PACKAGES = ['native', 'packages/core', 'packages/lab', 'drivers/nvme', 'drivers/virtio-net', 'packages/runtime', 'packages/bdev', 'packages/nvmf', 'bench', 'packages/cli'];

const license = readFileSync(path.join(root, 'LICENSE'), 'utf8');

describe('package metadata', () => {
  it('the repository has the MIT license of the vfio-node contributors', () => {
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 vfio-node contributors\n\nPermission is hereby granted, free of charge/);
    expect(license).toMatch(/THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);
  });

  it('scripts/pack.sh packs exactly these packages', () => {
    const pack = readFileSync(path.join(root, 'scripts/pack.sh'), 'utf8');
    const listed = /^PACKAGES=\((.*)\)$/m.exec(pack)?.[1]?.split(/\s+/);
    expect(listed).toEqual(PACKAGES);
  });

  for (const dir of PACKAGES) {
    it(`${dir}: license, repository, files and README`, () => {
      const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
      expect(pkg.license).toBe('MIT');
      expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/vfio-node/vfio-node.git', directory: dir });
      expect(pkg.files).toEqual(expect.arrayContaining(['LICENSE', 'README.md']));
      expect(readFileSync(path.join(root, dir, 'LICENSE'), 'utf8'), `${dir}/LICENSE is a copy of the repository's`).toBe(license);
      expect(existsSync(path.join(root, dir, 'README.md'))).toBe(true);
      const readme = readFileSync(path.join(root, dir, 'README.md'), 'utf8');
      expect(readme.split('\n')[0]).toBe(`# ${pkg.name}`);
      expect(readme, `${dir}/README.md shows an example`).toMatch(/```(ts|sh)\n/);
      expect(readme.length).toBeGreaterThan(800);
    });
  }
});
