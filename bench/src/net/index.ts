// The packet apps (`vfio-node net SUBCOMMAND`): pktgen, count, fwd, respond, and the
// frame helpers they share.
/**
 * Packet apps on virtio-net NICs: a generator ({@link pktgen}), a counter, a forwarder and an
 * ARP/ICMP/UDP responder, with the frame helpers they share.
 *
 * @module @vfio-node/bench/net
 */

export { pktgen, type PktgenOptions, type PktgenResult } from './pktgen.js';
export { count, type CountOptions, type CountResult } from './count.js';
export { fwd, type FwdOptions, type FwdResult, type FwdDirection } from './fwd.js';
export { respond, type RespondOptions, type RespondCounts } from './respond.js';
export { SequenceCheck, SEQUENCE_BITMAP_MAX } from './sequence.js';
export { RateMeter, formatRate, WIRE_OVERHEAD, type RateSample } from './rate.js';
export { runNet, NET_USAGE, NET_OPTIONS } from './cli.js';
export { NetResultRecorder, NET_RESULT_KEY, type NetRate } from './result-json.js';
export * from './frames.js';
