// What every peer measurement boils down to, so the table can put them side by side.

import type { JobSeries } from '../job-series.js';

/** One direction's figures; fields a peer cannot measure are absent. */
export interface PeerDirection {
  iops: number;
  bwBytes: number;
  ios: number;
  latMeanNs?: number;
  clatP50Ns?: number;
  clatP99Ns?: number;
  /** The completion-latency histogram (fio's json+ bins: [ns, count], sorted), when the peer gives one. */
  clatBins?: [ns: number, count: number][];
}

/** One engine's result in a --compare run: who ran (vfio-node, the kernel, QEMU) and what it measured. */
export interface PeerResult {
  /**
   * 'vfio-node' for the jobs as asked, 'kernel' (kernel nvme + fio io_uring), 'qemu'
   * (qemu-img bench), 'vfio-runtime' (the same jobs through the runtime's promise API).
   */
  peer: 'vfio-node' | 'kernel' | 'qemu' | 'vfio-runtime';
  /** The name printed in the comparison table. */
  label: string;
  /** The exact command run (empty for ourselves). */
  command: string[];
  /** What it measured reading, if the job reads. */
  read?: PeerDirection;
  /** What it measured writing, if the job writes. */
  write?: PeerDirection;
  /** What it measured trimming, if the job trims (rw=trim, randtrim, trimwrite). */
  trim?: PeerDirection;
  /** Why this peer's workload differs from ours, when it does (qemu-img: sequential only). */
  note?: string;
  /** Per-interval IOPS and bandwidth, when the peer gives them (qemu-img bench does not). */
  series?: JobSeries;
}
