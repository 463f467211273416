#!/usr/bin/env node
// `vfio-node nvmf serve` for experiments: the same target (@vfio-node/nvmf over
// @vfio-node/bdev), with the NvmeRuntime options the CLI does not take. For looking into
// where the target's time goes (bench/nvmf/compare-lab.sh uses it when NVMF_POLL_US or
// NVMF_SPIN_US is set); users run `vfio-node nvmf serve`.
//
//   node bench/nvmf/serve.mjs --listen 127.0.0.1:4420 --nqn NQN [--workers N]
//     [--poll-us N] [--spin-us N] [--queue-depth N] BDEV...

import { parseArgs } from 'node:util';
import { NvmfTarget } from '../../packages/nvmf/dist/index.js';
import { openBdevs } from '../../packages/bdev/dist/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    listen: { type: 'string', default: '127.0.0.1:4420' },
    nqn: { type: 'string', default: 'nqn.2026-12.io.vfio-node:target' },
    workers: { type: 'string', default: '1' },
    'poll-us': { type: 'string' },
    'spin-us': { type: 'string' },
    'queue-depth': { type: 'string' },
  },
});
const runtime = { workers: Number(values.workers) };
if (values['poll-us'] !== undefined) runtime.pollMicroseconds = Number(values['poll-us']);
if (values['spin-us'] !== undefined) runtime.spinMicroseconds = Number(values['spin-us']);
if (values['queue-depth'] !== undefined) runtime.queueDepth = Number(values['queue-depth']);

const bdevs = await openBdevs(positionals, { runtime });
const target = await NvmfTarget.listen({ listen: values.listen, subsystems: [{ nqn: values.nqn, namespaces: bdevs, allowHosts: [] }] });
const stamp = () => new Date().toISOString().slice(11, 23);
target.on('log', (e) => console.error(`${stamp()} ${e.event}: ${e.message}`));
console.log(`serve.mjs: ${values.nqn} on ${target.address.host}:${target.address.port}, runtime options ${JSON.stringify(runtime)}`);
console.log(`connect with: nvme connect -t tcp -a ${target.address.host} -s ${target.address.port} -n ${values.nqn}`);
await new Promise((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
console.error(`${stamp()} closing`);
await target.close();
for (const b of bdevs) await b.close();
console.error(`${stamp()} closed`);
