// The NVM command set from the command line, with nvme-cli's names and options
// (NVM Command Set Specification 1.0: Read, Write, Compare, Flush, Write Zeroes,
// Dataset Management). Data moves through DMA memory of the controller; the driver
// checks ranges against NSZE and splits transfers at MDTS.

import { readFileSync, writeFileSync, writeSync } from 'node:fs';
import { VfioError, invalidArgument, shortInput } from '@vfio-node/core';
import { NSID_OPTION, addressArg, missingOption, nsidArg, optUint, parseBig, parseNvmeArgs, type OptionSpec, type Parsed } from './args.js';
import { planIo } from './io-plan.js';
import { refuseIfNamespaceHoldsData } from './look-before-write.js';
import { toJson } from './json.js';
import { usage } from './run-identify.js';
import { withController } from './session.js';
import { statusLine, statusValue } from './status.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** Dataset Management range Length in Logical Blocks: 32 bits, not 0's based. */
const DSM_MAX_BLOCKS = 0xffff_ffffn;

const IO_OPTIONS: OptionSpec = {
  ...NSID_OPTION,
  'start-block': { type: 'string', short: 's' },
  'block-count': { type: 'string', short: 'c' },
  'data-size': { type: 'string', short: 'z' },
  data: { type: 'string', short: 'd' },
  'force-unit-access': { type: 'boolean', short: 'f' },
};

/** Write only: --force (long only: -f is FUA, as in nvme-cli) and --pad-zeros. */
const WRITE_OPTIONS: OptionSpec = { ...IO_OPTIONS, force: { type: 'boolean' }, 'pad-zeros': { type: 'boolean' } };

/** Lines every writing subcommand's usage shows about --force. */
const FORCE_LINE = `      --force              write even where the namespace starts or ends with a partition table,
                           filesystem, LVM, ZFS, RAID or swap signature (refused otherwise)`;

const ioUsage = (cmd: string, what: string) => `usage: vfio-node nvme ${cmd} ADDR -n NSID -s SLBA -c COUNT -z BYTES [-d FILE] [-f]

${what}
  -n, --namespace-id       the namespace (required)
  -s, --start-block        first LBA (default 0)
  -c, --block-count        number of blocks, 0's based as in nvme-cli: -c 7 moves 8 blocks
  -z, --data-size          size of the data in bytes (required)
  -d, --data               the file (default: ${cmd === 'read' ? 'stdout' : 'stdin'})
  -f, --force-unit-access  FUA (write)
  -o, --output-format      normal (default) or json${cmd === 'write' ? `\n      --pad-zeros          fill the blocks past the end of shorter data with zeros (refused otherwise)\n${FORCE_LINE}` : ''}`;

export const READ_USAGE = ioUsage('read', 'Read: copies blocks of the namespace to the file.');
export const WRITE_USAGE = ioUsage('write', 'Write: copies the file to blocks of the namespace.');
export const COMPARE_USAGE = ioUsage('compare', 'Compare: checks that blocks of the namespace hold the file (NVMe status Compare Failure when not).');

interface Io {
  address: string;
  nsid: number;
  slba: bigint;
  blockCount: number | undefined;
  dataSize: number;
  file: string | undefined;
  fua: boolean;
  force: boolean;
  padZeros: boolean;
}

function ioArgs(cmd: string, p: Parsed): Io {
  const address = addressArg(cmd, p);
  const nsid = nsidArg(cmd, p);
  const s = p.values['start-block'];
  const slba = typeof s === 'string' ? parseBig('--start-block', s, U64_MAX) : 0n;
  if (p.values['data-size'] === undefined) throw missingOption(cmd, 'data-size', 'z', 'Give the size of the transfer in bytes with -z/--data-size (e.g. -z 4096).');
  return {
    address,
    nsid,
    slba,
    blockCount: optUint(p, 'block-count', 0xffffffff),
    dataSize: optUint(p, 'data-size', Number.MAX_SAFE_INTEGER)!,
    file: typeof p.values.data === 'string' ? p.values.data : undefined,
    fua: p.values['force-unit-access'] === true,
    force: p.values.force === true,
    padZeros: p.values['pad-zeros'] === true,
  };
}

/** The LBA as a number the driver takes (it checks the range against NSZE itself). */
function lbaNumber(slba: bigint): number {
  if (slba > BigInt(Number.MAX_SAFE_INTEGER)) throw new VfioError({ code: 'ERR_INVALID_ARG', message: `--start-block ${slba} is beyond any namespace this driver addresses`, hint: 'Give an LBA below the namespace size (id-ns nsze).' });
  return Number(slba);
}

/** nvme-cli's success line (stderr for read/write/compare, whose stdout may carry data); JSON: one object. */
function success(format: string, cmd: string, extra: Record<string, number | bigint | string>, text: string, stream: 'out' | 'err' = 'out'): void {
  const line = format === 'json' ? toJson({ command: cmd, result: 'success', ...extra }) : text;
  if (stream === 'err') console.error(line);
  else console.log(line);
}

async function transfer(cmd: 'read' | 'write' | 'compare', argv: string[], usageText: string): Promise<number> {
  const p = parseNvmeArgs(cmd, argv, cmd === 'write' ? WRITE_OPTIONS : IO_OPTIONS);
  if (p.help) return usage(usageText);
  const io = ioArgs(cmd, p);
  // Data to send is read before the controller is opened: a missing file is bad input.
  const input = cmd === 'read' ? undefined : readInput(io.file);
  let matched = true;
  let plan!: ReturnType<typeof planIo>;
  let output: Uint8Array | undefined;
  await withController(io.address, async (ctrl) => {
    const ns = ctrl.namespace(io.nsid);
    plan = planIo(io.dataSize, io.blockCount, ns.blockSize);
    if (plan.rounded) console.error(`Rounding data size to fit block count (${plan.bufferSize} bytes)`);
    const mem = ctrl.allocBuffer(roundUp(plan.bufferSize, ctrl.pageSize));
    try {
      const data = mem.bytes.subarray(0, plan.blocks * ns.blockSize);
      const lba = lbaNumber(io.slba);
      if (cmd === 'read') {
        await ns.read(lba, plan.blocks, data);
        output = mem.bytes.slice(0, plan.bufferSize);
      } else {
        const have = Math.min(input!.byteLength, io.dataSize, plan.bufferSize);
        if (cmd === 'write') {
          // Short data would go out padded with zeros: only when asked.
          if (have < data.byteLength && !io.padZeros) throw shortInput(io.dataSize < input!.byteLength ? `--data-size ${io.dataSize}` : (io.file ?? 'stdin'), have, data.byteLength, '--pad-zeros');
          await refuseIfNamespaceHoldsData(ctrl, ns, 'nvme write', io.force);
        }
        mem.bytes.set(input!.subarray(0, have));
        if (cmd === 'write') await ns.write(lba, plan.blocks, data, { fua: io.fua });
        else matched = await ns.compare(lba, plan.blocks, data);
      }
    } finally {
      mem.release();
    }
  });
  if (!matched) {
    // The driver turns Compare Failure (SCT 2h, SC 85h) into false; report it as nvme-cli does.
    console.error(statusLine(statusValue({ sct: 2, sc: 0x85 })));
    return 1;
  }
  if (output) writeOutput(io.file, output);
  success(p.format, cmd, { nsid: io.nsid, slba: io.slba, blocks: plan.blocks }, `${cmd}: Success`, 'err');
  return 0;
}

function readInput(file: string | undefined): Uint8Array {
  try {
    return file === undefined ? readFileSync(0) : readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new VfioError({ code: e.code ?? 'EIO', message: `cannot read ${file ?? 'stdin'}: ${e.message}`, hint: 'Give an existing file with -d FILE.', path: file, cause: err });
  }
}

function writeOutput(file: string | undefined, data: Uint8Array): void {
  try {
    if (file === undefined) writeAllToStdout(data);
    else writeFileSync(file, data);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new VfioError({ code: e.code ?? 'EIO', message: `write: ${e.message}: failed to write buffer to output file`, hint: 'Check the path given with -d and that its directory is writable.', path: file, cause: err });
  }
}

/** Writes everything to fd 1, also when it is a non-blocking pipe (EAGAIN: try again). */
export function writeAllToStdout(data: Uint8Array): void {
  let at = 0;
  while (at < data.byteLength) {
    try {
      at += writeSync(1, data, at, data.byteLength - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export const read = (argv: string[]) => transfer('read', argv, READ_USAGE);
export const write = (argv: string[]) => transfer('write', argv, WRITE_USAGE);
export const compareCmd = (argv: string[]) => transfer('compare', argv, COMPARE_USAGE);

export const FLUSH_USAGE = `usage: vfio-node nvme flush ADDR -n NSID [-o normal|json]

Flush: commits the volatile write cache of the namespace to non-volatile media.`;

export async function flush(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('flush', argv, NSID_OPTION);
  if (p.help) return usage(FLUSH_USAGE);
  const address = addressArg('flush', p);
  const nsid = nsidArg('flush', p);
  await withController(address, (ctrl) => ctrl.namespace(nsid).flush());
  success(p.format, 'flush', { nsid }, 'NVMe Flush: success');
  return 0;
}

export const WRITE_ZEROES_USAGE = `usage: vfio-node nvme write-zeroes ADDR -n NSID -s SLBA -c COUNT [-d] [-f] [-o normal|json]

Write Zeroes: sets blocks to zero without moving data.
  -n, --namespace-id       the namespace (required)
  -s, --start-block        first LBA (default 0)
  -c, --block-count        number of blocks, 0's based (default 0: one block)
  -d, --deac               deallocate the blocks too (DEAC)
  -f, --force-unit-access  FUA
${FORCE_LINE}`;

export async function writeZeroes(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('write-zeroes', argv, {
    ...NSID_OPTION,
    'start-block': { type: 'string', short: 's' },
    'block-count': { type: 'string', short: 'c' },
    deac: { type: 'boolean', short: 'd' },
    'force-unit-access': { type: 'boolean', short: 'f' },
    force: { type: 'boolean' },
  });
  if (p.help) return usage(WRITE_ZEROES_USAGE);
  const address = addressArg('write-zeroes', p);
  const nsid = nsidArg('write-zeroes', p);
  const s = p.values['start-block'];
  const slba = typeof s === 'string' ? parseBig('--start-block', s, U64_MAX) : 0n;
  const count = (optUint(p, 'block-count', 0xffff) ?? 0) + 1;
  await withController(address, async (ctrl) => {
    const ns = ctrl.namespace(nsid);
    await refuseIfNamespaceHoldsData(ctrl, ns, 'nvme write-zeroes', p.values.force === true);
    await ns.writeZeroes(lbaNumber(slba), count, { deallocate: p.values.deac === true, fua: p.values['force-unit-access'] === true });
  });
  success(p.format, 'write-zeroes', { nsid, slba, blocks: count }, 'NVME Write Zeroes Success');
  return 0;
}

export const DSM_USAGE = `usage: vfio-node nvme dsm ADDR -n NSID --slbs L1,L2,... --blocks N1,N2,... --ad [-o normal|json]

Dataset Management with the Deallocate attribute ("trim") of one or more ranges.
  -n, --namespace-id  the namespace (required)
  -s, --slbs          first LBA of each range, comma separated
  -b, --blocks        number of blocks of each range (not 0's based), comma separated
  -d, --ad            Attribute - Deallocate (required: the only attribute vfio-node sends)
      --force         deallocate even where the namespace starts or ends with a partition table,
                      filesystem, LVM, ZFS, RAID or swap signature (refused otherwise)`;

export async function dsm(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('dsm', argv, {
    ...NSID_OPTION,
    slbs: { type: 'string', short: 's' },
    blocks: { type: 'string', short: 'b' },
    ad: { type: 'boolean', short: 'd' },
    idw: { type: 'boolean', short: 'w' },
    idr: { type: 'boolean', short: 'r' },
    force: { type: 'boolean' },
  });
  if (p.help) return usage(DSM_USAGE);
  const address = addressArg('dsm', p);
  const nsid = nsidArg('dsm', p);
  if (p.values.idw || p.values.idr) {
    throw new VfioError({ code: 'ERR_INVALID_ARG', message: 'nvme dsm: the integral dataset attributes (--idw, --idr) are not supported', hint: 'vfio-node sends Dataset Management with the Deallocate attribute only (--ad).' });
  }
  if (p.values.ad !== true) {
    throw new VfioError({ code: 'ERR_INVALID_ARG', message: 'nvme dsm: no attribute given', hint: 'Add --ad (deallocate): the only Dataset Management attribute vfio-node sends.' });
  }
  const list = (name: string, short: string) => {
    const v = p.values[name];
    if (typeof v !== 'string') throw missingOption('dsm', name, short, 'No range definition provided: give --slbs and --blocks, comma separated lists of the same length.');
    return v.split(',').map((x) => parseBig(`--${name}`, x, U64_MAX));
  };
  const slbs = list('slbs', 's');
  const blocks = list('blocks', 'b');
  if (slbs.length !== blocks.length) {
    throw new VfioError({ code: 'ERR_INVALID_ARG', message: `nvme dsm: ${slbs.length} start LBAs but ${blocks.length} block counts`, hint: 'Give one --blocks entry for each --slbs entry.' });
  }
  // A range's length is 32 bits (NVM Command Set 1.0, Dataset Management range): larger counts would wrap.
  const tooLong = blocks.findIndex((n) => n > DSM_MAX_BLOCKS);
  if (tooLong >= 0) throw invalidArgument('--blocks', String(blocks[tooLong]), `at most ${DSM_MAX_BLOCKS} per range (the Dataset Management range length is 32 bits)`, 'Split the range into several ranges, each of at most 4294967295 blocks.');
  const ranges = slbs.map((lba, i) => ({ lba: lbaNumber(lba), blocks: Number(blocks[i]!) }));
  await withController(address, async (ctrl) => {
    const ns = ctrl.namespace(nsid);
    await refuseIfNamespaceHoldsData(ctrl, ns, 'nvme dsm', p.values.force === true);
    await ns.deallocate(ranges);
  });
  success(p.format, 'dsm', { nsid, ranges: ranges.length }, 'NVMe DSM: success');
  return 0;
}
