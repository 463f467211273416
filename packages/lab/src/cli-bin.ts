// Which `vfio-node` command the guest gets on its PATH: the one of the `vfio-node`
// package found beside this lab package, by Node's own module resolution. That is the
// workspace's packages/cli in a clone (the root depends on it) and
// node_modules/vfio-node in a project that installed the packed tarballs: a fixed path
// relative to this file holds only in the clone.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The `vfio-node` bin script of the `vfio-node` package that Node resolves from `from`
 * (default: this file), or undefined when no such package is installed there.
 */
export function findCliBin(from: string | URL = import.meta.url): string | undefined {
  let pkgFile: string;
  try {
    pkgFile = createRequire(from).resolve('vfio-node/package.json');
  } catch {
    return undefined;
  }
  try {
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['vfio-node'];
    if (typeof bin !== 'string') return undefined;
    const file = path.resolve(path.dirname(pkgFile), bin);
    return fs.existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}
