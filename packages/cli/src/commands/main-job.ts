// `npm start` runs this: the README's main job. With no device named, the benchmark
// boots the QEMU lab (the embedded default) and runs inside it against the lab's NVMe
// controller through real VFIO, then runs the same job on the kernel's driver (fio) and
// on QEMU's userspace driver (qemu-img bench) in the same boot, and prints the ratios.

import { main } from '../main.js';

export const MAIN_JOB = ['--name=randread-4k-qd32', '--rw=randread', '--bs=4k', '--iodepth=32', '--runtime=10', '--time_based', '--compare=kernel,qemu'];

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: vfio-node main [BENCH OPTIONS]\n\nRuns vfio-node bench ${MAIN_JOB.join(' ')} (your options are added), on the lab.`);
    return 0;
  }
  return main(['bench', ...MAIN_JOB, ...argv]);
}
