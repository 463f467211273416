// Runs the packet apps straight from the sources, before the workspace build has them:
//   node_modules/.pnpm/node_modules/.bin/vite-node --config vitest.config.ts bench/src/net/main.ts -- pktgen ADDR
// (the installed CLI does the same through `vfio-node net`).
import { VfioError } from '@vfio-node/core';
import { runNet } from './cli.js';

const args = process.argv.slice(2);
runNet(args[0] === '--' ? args.slice(1) : args).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`vfio-node net: ${err instanceof VfioError ? err.describe() : err?.stack ?? err}`);
    process.exitCode = err instanceof VfioError ? 1 : 70;
  },
);
