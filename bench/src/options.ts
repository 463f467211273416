// The job options vfio-node bench understands, with fio's names, defaults and meanings
// (fio HOWTO, "Job file parameters"). One table: each entry parses one option's text into
// JobOptions. Options fio has that change nothing for a userspace polled driver (direct,
// thread, ...) are accepted and recorded; options we do not implement are refused by
// name, so a job file never silently means something else here than under fio.

import { invalidArgument, VfioError } from '@vfio-node/core';
import type { FioLogOptions } from './fio-logs.js';
import { defaultLogOptions, LOG_SETTERS } from './job-logs.js';
import { defaultRateOptions, RATE_SETTERS, type RateOptions } from './rate.js';
import { BSSPLIT_SETTERS, type BsSplit } from './bssplit.js';
import { PERCENTILE_SETTERS } from './percentiles.js';
import { parseRandomDistribution, type RandomDistribution } from './random-distribution.js';
import { parseRwSuffix, RW_SEQUENCER_SETTERS } from './rw-sequencer.js';
import { defaultThinktimeOptions, THINKTIME_SETTERS, type ThinktimeOptions } from './thinktime.js';
import { parseBool, parseInteger, parseSize, parseSizeOrPercent, parseTimeUs } from './units.js';

/** fio's rw= values we run (readwrite is fio's alias of rw); the trim modes are in src/trim.ts. */
export type RwMode = 'read' | 'write' | 'randread' | 'randwrite' | 'rw' | 'randrw' | 'trim' | 'randtrim' | 'trimwrite';

/** The verify= methods we implement (fio's crc32c-intel is a synonym of crc32c). */
export type VerifyMethod = 'none' | 'crc32c' | 'md5';

/** A size given either in bytes or as a percentage of the target's capacity. */
export type SizeSpec = { bytes: number } | { percent: number };

/**
 * The I/O engines (ioengine=): vfio-nvme (the default) drives the driver's queue pair on the
 * worker thread that owns it; vfio-runtime drives @vfio-node/runtime's promise API from the
 * main thread, as an embedding program does; vfio-bdev the same through @vfio-node/bdev's NVMe
 * bdev (the block layer's cost on top); null is fio's null engine (no device, no data).
 */
export const IOENGINES = ['vfio-nvme', 'vfio-runtime', 'vfio-bdev', 'null'] as const;

/** One of IOENGINES. */
export type IoEngine = (typeof IOENGINES)[number];

/** fio's default percentile_list (HOWTO: percentile_list). */
export const DEFAULT_PERCENTILES: readonly number[] = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

/** One job's resolved options; every field has fio's default unless the job set it. */
export interface JobOptions {
  name: string;
  /** The target: a PCI address and namespace ("0000:00:03.0/1") or SPDK's spelling. */
  filename: string | undefined;
  ioengine: string;
  rw: RwMode;
  /** Block size for reads, writes and trims (bs=4k, bs=4k,8k or bs=4k,8k,16k). */
  bs: { read: number; write: number; trim: number };
  iodepth: number;
  numjobs: number;
  /** Bytes of I/O per job (default: the target's capacity minus offset). */
  size: SizeSpec | undefined;
  offset: SizeSpec;
  /** 0 = no limit. */
  runtimeUs: number;
  timeBased: boolean;
  rampTimeUs: number;
  /** Percentage of reads in rw/randrw (rwmixwrite is 100 minus it). */
  rwmixread: number;
  norandommap: boolean;
  randrepeat: boolean;
  /** Set only when the job gave randseed=. */
  randseed: number | undefined;
  verify: VerifyMethod;
  doVerify: boolean;
  groupReporting: boolean;
  kbBase: 1000 | 1024;
  percentileList: number[];
  clatPercentiles: boolean;
  latPercentiles: boolean;
  /** Accepted for compatibility; a VFIO driver never goes through the page cache. */
  direct: boolean;
  description: string;
  /** Starts a new reporting group (fio's new_group; stonewall implies it). */
  newGroup: boolean;
  /** fio's log files (write_bw_log, write_iops_log, write_lat_log, write_hist_log, log_avg_msec, ...): job-logs.ts. */
  logs: FioLogOptions;
  /** rate, rate_iops, rate_min, rate_process, ... (src/rate.ts). */
  rate: RateOptions;
  /** thinktime, thinktime_spin, thinktime_blocks, thinktime_blocks_type (src/thinktime.ts). */
  thinktime: ThinktimeOptions;
  /** bssplit= per direction (src/bssplit.ts); undefined entries use bs=. */
  bssplit: BsSplit;
  /** rw=MODE:N: I/Os per random offset (random modes) or bytes skipped after each I/O (sequential); 0: none. */
  rwSuffix: number;
  /** rw_sequencer=: what the I/Os between random offsets do (src/rw-sequencer.ts). */
  rwSequencer: 'sequential' | 'identical';
  /** random_distribution=: where random I/Os go (src/random-distribution.ts); fio's default is uniform. */
  randomDistribution: RandomDistribution;
}

/** fio's defaults (HOWTO): bs 4k, iodepth 1, rw read, numjobs 1, rwmixread 50, randrepeat 1. */
export function defaultJobOptions(name: string): JobOptions {
  return {
    name,
    filename: undefined,
    ioengine: 'vfio-nvme',
    rw: 'read',
    bs: { read: 4096, write: 4096, trim: 4096 },
    iodepth: 1,
    numjobs: 1,
    size: undefined,
    offset: { bytes: 0 },
    runtimeUs: 0,
    timeBased: false,
    rampTimeUs: 0,
    rwmixread: 50,
    norandommap: false,
    randrepeat: true,
    randseed: undefined,
    verify: 'none',
    doVerify: true,
    groupReporting: false,
    kbBase: 1024,
    percentileList: [...DEFAULT_PERCENTILES],
    clatPercentiles: true,
    latPercentiles: false,
    direct: false,
    description: '',
    newGroup: false,
    logs: defaultLogOptions(),
    rate: defaultRateOptions(),
    thinktime: defaultThinktimeOptions(),
    bssplit: [undefined, undefined],
    rwSuffix: 0,
    rwSequencer: 'sequential',
    randomDistribution: { kind: 'random' },
  };
}

type Setter = (o: JobOptions, value: string | undefined, key: string) => void;

/** `value` is undefined for an option given without "=" (fio: "norandommap", "time_based"). */
const req = (key: string, v: string | undefined): string => {
  if (v === undefined || v === '') throw invalidArgument(key, v ?? '', 'a value (' + key + '=...)');
  return v;
};
const flag = (key: string, v: string | undefined): boolean => (v === undefined || v === '' ? true : parseBool(key, v));

const RW_ALIASES: Record<string, RwMode> = {
  read: 'read', write: 'write', randread: 'randread', randwrite: 'randwrite', rw: 'rw', readwrite: 'rw', randrw: 'randrw',
  trim: 'trim', randtrim: 'randtrim', trimwrite: 'trimwrite',
};

const setters: Record<string, Setter> = {
  name: (o, v, k) => { o.name = req(k, v); },
  description: (o, v) => { o.description = v ?? ''; },
  filename: (o, v, k) => { o.filename = req(k, v); },
  ioengine: (o, v, k) => { o.ioengine = req(k, v); },
  rw: (o, v, k) => {
    // "randread:8" / "read:4k": an offset modifier (src/rw-sequencer.ts).
    const [name, suffix] = req(k, v).split(':', 2) as [string, string | undefined];
    const mode = RW_ALIASES[name.toLowerCase()];
    if (!mode) throw invalidArgument(k, v, 'read, write, randread, randwrite, rw (readwrite), randrw, trim, randtrim or trimwrite, optionally with :N');
    o.rw = mode;
    o.rwSuffix = suffix === undefined ? 0 : parseRwSuffix(k, suffix, rwIsRandom(mode), o.kbBase);
  },
  bs: (o, v, k) => {
    // HOWTO blocksize: "bs=256k,8k" sets reads and writes separately, "bs=4k,8k,16k" trims
    // too; one value sets all three. fio 3.33 (null engine, rw=randtrim): "4k,8k" trims 8k
    // (a missing part takes the last one given), "4k,8k," trims 4k (an empty one, the default).
    const parts = req(k, v).split(',');
    const read = parts[0] ? parseSize(k, parts[0], o.kbBase) : 4096;
    const write = parts[1] ? parseSize(k, parts[1], o.kbBase) : parts.length > 1 ? 4096 : read;
    const trim = parts[2] ? parseSize(k, parts[2], o.kbBase) : parts.length > 2 ? 4096 : write;
    if (read <= 0 || write <= 0 || trim <= 0) throw invalidArgument(k, v, 'a block size greater than 0');
    o.bs = { read, write, trim };
  },
  iodepth: (o, v, k) => { o.iodepth = parseInteger(k, req(k, v), 1, 65535); },
  numjobs: (o, v, k) => { o.numjobs = parseInteger(k, req(k, v), 1, 1024); },
  size: (o, v, k) => { o.size = parseSizeOrPercent(k, req(k, v), o.kbBase); },
  offset: (o, v, k) => { o.offset = parseSizeOrPercent(k, req(k, v), o.kbBase); },
  runtime: (o, v, k) => { o.runtimeUs = parseTimeUs(k, req(k, v)); },
  time_based: (o, v, k) => { o.timeBased = flag(k, v); },
  ramp_time: (o, v, k) => { o.rampTimeUs = parseTimeUs(k, req(k, v)); },
  rwmixread: (o, v, k) => { o.rwmixread = parseInteger(k, req(k, v), 0, 100); },
  rwmixwrite: (o, v, k) => { o.rwmixread = 100 - parseInteger(k, req(k, v), 0, 100); },
  norandommap: (o, v, k) => { o.norandommap = flag(k, v); },
  randrepeat: (o, v, k) => { o.randrepeat = flag(k, v); },
  allrandrepeat: (o, v, k) => { o.randrepeat = flag(k, v); },
  randseed: (o, v, k) => { o.randseed = parseInteger(k, req(k, v)); },
  random_distribution: (o, v, k) => { o.randomDistribution = parseRandomDistribution(k, req(k, v), o.kbBase); },
  verify: (o, v, k) => {
    const m = req(k, v).toLowerCase();
    if (m === '0' || m === 'none') o.verify = 'none';
    else if (m === 'crc32c' || m === 'crc32c-intel') o.verify = 'crc32c';
    else if (m === 'md5') o.verify = 'md5';
    else throw invalidArgument(k, v, 'crc32c, crc32c-intel, md5 or 0', "vfio-node bench implements fio's crc32c and md5 verify methods.");
  },
  do_verify: (o, v, k) => { o.doVerify = flag(k, v); },
  group_reporting: (o, v, k) => { o.groupReporting = flag(k, v); },
  kb_base: (o, v, k) => {
    const b = parseInteger(k, req(k, v));
    if (b !== 1000 && b !== 1024) throw invalidArgument(k, v, '1000 or 1024');
    o.kbBase = b;
  },
  clat_percentiles: (o, v, k) => { o.clatPercentiles = flag(k, v); },
  lat_percentiles: (o, v, k) => { o.latPercentiles = flag(k, v); },
  direct: (o, v, k) => { o.direct = flag(k, v); },
  new_group: (o, v, k) => { o.newGroup = flag(k, v); },
  stonewall: (o, v, k) => { o.newGroup = flag(k, v); },
  wait_for_previous: (o, v, k) => { o.newGroup = flag(k, v); },
  // Accepted and without effect here: we always run jobs as threads of one process and
  // never go through a page cache.
  thread: () => {},
  buffered: () => {},
  invalidate: () => {},
  ...LOG_SETTERS,
  ...RATE_SETTERS,
  ...THINKTIME_SETTERS,
  ...BSSPLIT_SETTERS,
  ...PERCENTILE_SETTERS,
  ...RW_SEQUENCER_SETTERS,
};

const ALIASES: Record<string, string> = { readwrite: 'rw', blocksize: 'bs', io_depth: 'iodepth', timeout: 'runtime' };

/** The option names we accept, for --help and error hints. */
export const KNOWN_OPTIONS: readonly string[] = Object.keys(setters);

/**
 * Applies one `key=value` (value undefined for a bare key) to a job's options.
 * @throws VfioError ERR_INVALID_ARG for a bad value, ERR_BENCH_UNKNOWN_OPTION for a name we do not know.
 */
export function applyOption(o: JobOptions, rawKey: string, value: string | undefined): void {
  const key = ALIASES[rawKey.toLowerCase()] ?? rawKey.toLowerCase();
  const set = setters[key];
  if (!set) {
    throw new VfioError({
      code: 'ERR_BENCH_UNKNOWN_OPTION',
      message: `unknown or unsupported fio option '${rawKey}'`,
      hint: `vfio-node bench takes these fio options: ${KNOWN_OPTIONS.join(', ')}.`,
      details: { option: rawKey },
    });
  }
  set(o, value, key);
}

/** True for the rw modes that issue writes. */
export const rwHasWrites = (rw: RwMode): boolean => rw === 'write' || rw === 'randwrite' || rw === 'rw' || rw === 'randrw' || rw === 'trimwrite';
/** True for the rw modes that issue reads. */
export const rwHasReads = (rw: RwMode): boolean => rw === 'read' || rw === 'randread' || rw === 'rw' || rw === 'randrw';
/** True for the rw modes that issue trims (trim, randtrim, trimwrite). */
export const rwHasTrims = (rw: RwMode): boolean => rw === 'trim' || rw === 'randtrim' || rw === 'trimwrite';
/** True for the random rw modes. */
export const rwIsRandom = (rw: RwMode): boolean => rw.startsWith('rand');
