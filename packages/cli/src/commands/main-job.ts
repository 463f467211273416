// `npm start` runs this: the README's main job. With no device named, it boots the
// QEMU lab (the embedded default) and runs the job inside it against the lab's NVMe
// controller, through real VFIO.

import { main } from '../main.js';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: vfio-node main\n\nBoots the lab and shows its NVMe controller through VFIO (vfio-node info).');
    return 0;
  }
  return main(['lab', 'run', '--', 'sh', '-c', 'vfio-node info $VFIO_LAB_NVME']);
}
