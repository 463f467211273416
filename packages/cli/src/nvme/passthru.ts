// `nvme admin-passthru`, `nvme io-passthru` and `nvme get-log`: nvme-cli's options turned
// into a PassthruCommand, and nvme-cli's output: the "NVMe command result:" line and its
// hex dump (offset, 16 bytes in hex, the printable ASCII of them). Pure functions; the
// subcommands that run them are in run-passthru.ts.

import { VfioError, invalidArgument } from '@vfio-node/core';
import { AdminOpcode, sqeGetLogPage, type PassthruCommand } from '@vfio-node/nvme';
import { NSID_OPTION, optUint, parseUint, type OptionSpec, type Parsed } from './args.js';

const U32 = 0xffffffff;

/** The command dwords nvme-cli takes, with its short options (--cdw10 is -4 up to --cdw15, -9). */
export const CDW_OPTIONS = [
  ['cdw2', '2'],
  ['cdw3', '3'],
  ['cdw10', '4'],
  ['cdw11', '5'],
  ['cdw12', '6'],
  ['cdw13', '7'],
  ['cdw14', '8'],
  ['cdw15', '9'],
] as const;

export const PASSTHRU_OPTIONS: OptionSpec = {
  opcode: { type: 'string', short: 'O' },
  ...NSID_OPTION,
  ...Object.fromEntries(CDW_OPTIONS.map(([name, short]) => [name, { type: 'string', short }])),
  'data-len': { type: 'string', short: 'l' },
  'input-file': { type: 'string', short: 'i' },
  read: { type: 'boolean', short: 'r' },
  write: { type: 'boolean', short: 'w' },
  timeout: { type: 'string', short: 't' },
  'raw-binary': { type: 'boolean', short: 'b' },
  force: { type: 'boolean' },
};

export const passthruUsage = (sub: 'admin-passthru' | 'io-passthru') => `usage: vfio-node nvme ${sub} ADDR --opcode=N [--namespace-id=N] [--cdw2=N ... --cdw15=N]
       [--data-len=N] [--read | --write] [--input-file=FILE] [--timeout=MS] [-b] [--force]

Sends one ${sub === 'admin-passthru' ? 'admin command' : 'I/O command (on I/O queue 1)'} as given and prints completion DW0 ("NVMe command result")
and, for a read, a hex dump of the data. Numbers are decimal or 0x hex.${sub === 'admin-passthru' ? `
The commands the driver manages itself are refused: Create/Delete I/O Submission/Completion
Queue, Abort, Asynchronous Event Request, Doorbell Buffer Config.` : ''}
  -O, --opcode           the opcode, 0-255 (required)
  -n, --namespace-id     NSID (default 0)
  -2, --cdw2  -3, --cdw3 command dwords 2 and 3
  -4 .. -9, --cdw10 .. --cdw15
                         command dwords 10 to 15
  -l, --data-len         bytes of data (at most the controller's MDTS)
  -r, --read             the data goes from the controller to the host
  -w, --write            the data goes from the host to the controller (from --input-file, or stdin)
                         (default for both: what the opcode's bits 1:0 say)
  -i, --input-file       the data to write (default stdin); --data-len defaults to its size
  -t, --timeout          ms before the command is aborted (default: the driver's command timeout)
  -b, --raw-binary       write the data read to stdout as it is (the result line goes to stderr)
      --force            move data against the opcode's bits 1:0 (vendor commands that break the convention)
  -o, --output-format    normal (default) or json`;

/** What the command line asked for: the command, and where its data comes from. */
export interface PassthruRequest {
  command: PassthruCommand & { data?: number };
  /** The file to write from (write only); undefined: stdin. */
  inputFile: string | undefined;
  raw: boolean;
}

/** Reads admin-passthru / io-passthru options into a command (data as a length: the run step provides the bytes). */
export function passthruRequest(sub: string, p: Parsed): PassthruRequest {
  const opcodeText = p.values.opcode;
  if (typeof opcodeText !== 'string') {
    throw new VfioError({ code: 'ERR_INVALID_ARG', message: `nvme ${sub}: --opcode (-O) is required`, hint: `Give the opcode, e.g. --opcode=6 (Identify); run 'vfio-node nvme ${sub} --help' for the options.` });
  }
  const opcode = parseUint('--opcode', opcodeText, 0xff);
  const command: PassthruCommand & { data?: number } = { opcode, nsid: optUint(p, 'namespace-id', U32) ?? 0 };
  for (const [name] of CDW_OPTIONS) {
    const v = optUint(p, name, U32);
    if (v !== undefined) command[name] = v;
  }
  const read = p.values.read === true;
  const write = p.values.write === true;
  if (read && write) throw invalidArgument('--read and --write', 'both', 'one direction', "Give --read (-r) for data from the controller or --write (-w) for data to it, not both.");
  if (read) command.direction = 'read';
  if (write) command.direction = 'write';
  const dataLen = optUint(p, 'data-len', 0x7fffffff);
  if (dataLen !== undefined && dataLen > 0) command.data = dataLen;
  const timeout = optUint(p, 'timeout', 3_600_000);
  if (timeout !== undefined) {
    if (timeout === 0) throw invalidArgument('--timeout', 0, 'a number of milliseconds from 1');
    command.timeoutMs = timeout;
  }
  if (p.values.force === true) command.force = true;
  const inputFile = typeof p.values['input-file'] === 'string' ? p.values['input-file'] : undefined;
  if (inputFile !== undefined && read) throw invalidArgument('--input-file', inputFile, 'a file only with --write', 'The data of a read goes to stdout; --input-file is the data of a write.');
  return { command, inputFile, raw: p.values['raw-binary'] === true };
}

/** nvme-cli's line for a completed passthrough command: DW0 as 8 hex digits. */
export function resultLine(dw0: number): string {
  return `NVMe command result:${(dw0 >>> 0).toString(16).padStart(8, '0')}`;
}

const WIDTH = 16;

/**
 * nvme-cli's hex dump: a header of column numbers, then per 16 bytes the offset (4 hex
 * digits), the bytes in hex, and the bytes as ASCII in quotes ('!' to '~' as themselves,
 * anything else as '.'). Without a trailing newline.
 */
export function hexDump(data: Uint8Array): string {
  let header = '     ';
  for (let i = 0; i < WIDTH; i++) header += i.toString(16).padStart(3, ' ');
  const lines = [header];
  for (let at = 0; at < data.length; at += WIDTH) {
    const row = data.subarray(at, at + WIDTH);
    let hex = '';
    let ascii = '';
    for (const b of row) {
      hex += ' ' + b.toString(16).padStart(2, '0');
      ascii += b >= 0x21 && b <= 0x7e ? String.fromCharCode(b) : '.';
    }
    // A short last row keeps the ASCII column where the full rows have it.
    lines.push(`${at.toString(16).padStart(4, '0')}:${hex}${' '.repeat(3 * (WIDTH - row.length))} "${ascii}"`);
  }
  return lines.join('\n');
}

// ---- get-log -------------------------------------------------------------------------

export const GET_LOG_OPTIONS: OptionSpec = {
  'log-id': { type: 'string', short: 'i' },
  'log-len': { type: 'string', short: 'l' },
  ...NSID_OPTION,
  lsp: { type: 'string', short: 's' },
  lpo: { type: 'string', short: 'L' },
  rae: { type: 'boolean', short: 'r' },
  'raw-binary': { type: 'boolean', short: 'b' },
};

export const GET_LOG_USAGE = `usage: vfio-node nvme get-log ADDR --log-id=N --log-len=N [-n NSID] [--lsp=N] [--lpo=N] [--rae] [-b]

Get Log Page: reads log-len bytes of a log page and prints them as a hex dump (or raw with -b).
  -i, --log-id           the Log Page Identifier (default 0; 2 is SMART / Health Information)
  -l, --log-len          bytes to read, a multiple of 4 (required)
  -n, --namespace-id     NSID (default 0xffffffff: the controller)
  -s, --lsp              Log Specific Parameter (0-127)
  -L, --lpo              Log Page Offset in bytes, a multiple of 4
  -r, --rae              Retain Asynchronous Event
  -b, --raw-binary       write the log to stdout as it is
  -o, --output-format    normal (default) or json`;

export interface GetLogRequest {
  lid: number;
  bytes: number;
  nsid: number;
  lsp: number;
  lpo: number;
  rae: boolean;
  raw: boolean;
}

/** Reads get-log's options. */
export function getLogRequest(p: Parsed): GetLogRequest {
  const lid = optUint(p, 'log-id', 0xff) ?? 0;
  const bytes = optUint(p, 'log-len', 0x7fffffff);
  if (bytes === undefined) throw new VfioError({ code: 'ERR_INVALID_ARG', message: 'nvme get-log: --log-len (-l) is required', hint: 'Give the number of bytes to read, e.g. --log-len=512 for the SMART / Health Information log.' });
  // NUMD counts dwords, and the offset's bits 1:0 are reserved (Get Log Page, CDW10-CDW13).
  if (bytes === 0 || bytes % 4 !== 0) throw invalidArgument('--log-len', bytes, 'a non-zero multiple of 4 (Get Log Page counts dwords)');
  const lpo = optUint(p, 'lpo', Number.MAX_SAFE_INTEGER) ?? 0;
  if (lpo % 4 !== 0) throw invalidArgument('--lpo', lpo, 'a multiple of 4 (the offset is in bytes, dword aligned)');
  return {
    lid,
    bytes,
    nsid: optUint(p, 'namespace-id', U32) ?? U32,
    lsp: optUint(p, 'lsp', 0x7f) ?? 0,
    lpo,
    rae: p.values.rae === true,
    raw: p.values['raw-binary'] === true,
  };
}

/** The Get Log Page command for `bytes` bytes from byte `offset` of the log (built by the driver's sqeGetLogPage). */
export function getLogCommand(r: GetLogRequest, offset: number, bytes: number): PassthruCommand {
  const u32 = new Uint32Array(16);
  sqeGetLogPage(u32, 0, 0, r.lid, bytes, offset, r.nsid, r.rae, r.lsp);
  return { opcode: AdminOpcode.GetLogPage, nsid: r.nsid, cdw10: u32[10], cdw11: u32[11], cdw12: u32[12], cdw13: u32[13], data: bytes, direction: 'read' };
}

/** nvme-cli's first line of get-log output (%#x: 0 prints as 0). */
export function getLogHeader(address: string, lid: number, nsid: number): string {
  return `Device:${address} log-id:${lid} namespace-id:${nsid === 0 ? '0' : '0x' + nsid.toString(16)}`;
}
