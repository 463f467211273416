// Printed when the native addon could not be compiled: at install time (no prebuilt
// binary fits this machine, so node-gyp-build compiled from source and failed) and by
// scripts/build.sh. Names the tools a source build needs, and which of them are missing.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const onPath = (cmd) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

const tools = ['g++', 'make', 'python3'];
const missing = tools.filter((t) => !onPath(t));
const lines = [
  '',
  process.argv[2] === 'install'
    ? `@vfio-node/native: no prebuilt binary loads on this machine (${process.platform}-${process.arch}), and compiling the addon from source failed.`
    : '@vfio-node/native: compiling the native addon failed.',
  missing.length
    ? `  missing: ${missing.join(', ')}`
    : '  g++, make and python3 are on PATH: the compiler output above says what went wrong.',
  '  A source build needs a C++17 compiler, make and python3 (for node-gyp):',
  '    Debian/Ubuntu: apt-get install build-essential python3',
  '    Fedora/RHEL:   dnf install gcc-c++ make python3',
  '  and Node.js headers: node-gyp downloads them, or uses `npm config get nodedir` (offline: `npm config set nodedir /usr` when /usr/include/node exists).',
  '  Then reinstall (npm install / npm rebuild @vfio-node/native).',
  '',
];
console.error(lines.join('\n'));
process.exit(1);
