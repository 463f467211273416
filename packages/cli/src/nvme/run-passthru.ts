// `vfio-node nvme admin-passthru | io-passthru | get-log ADDR`: raw commands through the
// driver's passthrough (which refuses what would break it: the queues it manages, a
// data direction against the opcode, a transfer beyond MDTS), printed as nvme-cli does.

import { readFileSync } from 'node:fs';
import { VfioError } from '@vfio-node/core';
import type { NvmeController, PassthruCommand, PassthruResult } from '@vfio-node/nvme';
import { addressArg, parseNvmeArgs, type Parsed } from './args.js';
import { toJson } from './json.js';
import { GET_LOG_OPTIONS, GET_LOG_USAGE, PASSTHRU_OPTIONS, getLogCommand, getLogHeader, getLogRequest, hexDump, passthruRequest, passthruUsage, resultLine } from './passthru.js';
import { usage } from './run-identify.js';
import { writeAllToStdout } from './run-io.js';
import { withController } from './session.js';

export function adminPassthru(argv: string[]): Promise<number> {
  return passthru('admin-passthru', argv);
}

export function ioPassthru(argv: string[]): Promise<number> {
  return passthru('io-passthru', argv);
}

async function passthru(sub: 'admin-passthru' | 'io-passthru', argv: string[]): Promise<number> {
  const p = parseNvmeArgs(sub, argv, PASSTHRU_OPTIONS);
  if (p.help) return usage(passthruUsage(sub));
  const address = addressArg(sub, p);
  const { command, inputFile, raw } = passthruRequest(sub, p);
  // Without -r/-w, data goes the way the opcode's bits 1:0 say (the driver checks them too).
  const direction = command.direction ?? (command.data ? (['none', 'write', 'read', 'none'] as const)[command.opcode & 3]! : 'none');
  // The data of a write: the input file (or stdin), read before the controller is opened.
  const input = direction === 'write' ? readInput(inputFile) : null;
  if (input) {
    if (command.data === undefined) command.data = input.byteLength;
    if (input.byteLength < command.data) {
      throw new VfioError({
        code: 'ERR_SHORT_INPUT',
        message: `nvme ${sub}: ${inputFile ?? 'stdin'} holds ${input.byteLength} bytes, --data-len asks for ${command.data}`,
        hint: 'Give as many bytes of data as --data-len, or leave --data-len out to send the whole input.',
        details: { have: input.byteLength, need: command.data },
      });
    }
  }
  const result = await withController(address, (ctrl) => send(ctrl, sub, command, input));
  report(p, raw, result, direction === 'read');
  return 0;
}

/** Sends the command; a write's data goes through DMA memory of the controller. */
async function send(ctrl: NvmeController, sub: string, command: PassthruCommand & { data?: number }, input: Uint8Array | null): Promise<PassthruResult> {
  const run = (c: PassthruCommand) => (sub === 'admin-passthru' ? ctrl.admin.passthru(c) : ctrl.ioPassthru(c));
  if (!input || !command.data) return run(command);
  const mem = ctrl.allocBuffer(command.data);
  try {
    mem.bytes.set(input.subarray(0, command.data));
    return await run({ ...command, data: mem.bytes.subarray(0, command.data) });
  } finally {
    mem.release();
  }
}

function report(p: Parsed, raw: boolean, r: PassthruResult, read: boolean): void {
  const data = read ? r.data : null;
  if (p.format === 'json') {
    console.log(toJson({ result: r.dw0, dw1: r.dw1, ...(data ? { data: Buffer.from(data).toString('hex') } : {}) }));
    return;
  }
  if (raw) {
    // stdout carries the data alone, for another program to parse.
    console.error(resultLine(r.dw0));
    if (data) writeAllToStdout(data);
    return;
  }
  console.log(resultLine(r.dw0));
  if (data) console.log(hexDump(data));
}

export async function getLog(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('get-log', argv, GET_LOG_OPTIONS);
  if (p.help) return usage(GET_LOG_USAGE);
  const address = addressArg('get-log', p);
  const r = getLogRequest(p);
  const log = await withController(address, async (ctrl) => {
    // One command moves at most MDTS: longer logs are read in parts, each from its offset.
    const out = new Uint8Array(r.bytes);
    const step = Math.max(4, ctrl.maxTransfer - (ctrl.maxTransfer % 4));
    for (let done = 0; done < r.bytes; done += step) {
      const n = Math.min(step, r.bytes - done);
      const { data } = await ctrl.admin.passthru(getLogCommand(r, r.lpo + done, n));
      out.set(data!, done);
    }
    return out;
  });
  if (p.format === 'json') console.log(toJson({ device: address, log_id: r.lid, namespace_id: r.nsid, data: Buffer.from(log).toString('hex') }));
  else if (r.raw) writeAllToStdout(log);
  else console.log(`${getLogHeader(address, r.lid, r.nsid)}\n${hexDump(log)}`);
  return 0;
}

function readInput(file: string | undefined): Uint8Array {
  try {
    return file === undefined ? readFileSync(0) : readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new VfioError({ code: e.code ?? 'EIO', message: `cannot read ${file ?? 'stdin'}: ${e.message}`, hint: 'Give an existing file with --input-file=FILE (-i), or the data on stdin.', path: file, cause: err });
  }
}
