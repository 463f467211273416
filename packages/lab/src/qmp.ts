// A minimal QMP client (QEMU Machine Protocol, docs/interop/qmp-spec): one connection
// per call, greeting, qmp_capabilities, the command, its answer. Events are skipped.

import net from 'node:net';
import { LabError } from './errors.js';

/**
 * Runs one QMP command on the socket and returns its `return` value.
 * @throws LabError ERR_LAB_QMP with QEMU's error class and description
 */
export function qmpExecute(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    let stage = 0; // 0: greeting, 1: capabilities sent, 2: command sent
    const fail = (message: string, cause?: unknown) => {
      sock.destroy();
      reject(new LabError({ code: 'ERR_LAB_QMP', message: `QMP ${execute}: ${message}`, hint: 'Is the lab still running?', cause }));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (err) => {
      clearTimeout(timer);
      fail(err.message, err);
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: { QMP?: unknown; event?: unknown; return?: unknown; error?: { class: string; desc: string } };
        try {
          msg = JSON.parse(line);
        } catch (err) {
          clearTimeout(timer);
          return fail(`unparsable answer ${line}`, err);
        }
        if (msg.event !== undefined) continue;
        if (stage === 0 && msg.QMP !== undefined) {
          stage = 1;
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (msg.error) {
          clearTimeout(timer);
          return fail(`${msg.error.class}: ${msg.error.desc}`);
        } else if (stage === 1) {
          stage = 2;
          sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
        } else if (stage === 2) {
          clearTimeout(timer);
          sock.end();
          return resolve(msg.return);
        }
      }
    });
  });
}

/** Runs a human monitor (HMP) command such as `device_del nvme0` and returns its text output. */
export async function hmpExecute(socketPath: string, commandLine: string, timeoutMs?: number): Promise<string> {
  const out = await qmpExecute(socketPath, 'human-monitor-command', { 'command-line': commandLine }, timeoutMs);
  return typeof out === 'string' ? out : JSON.stringify(out);
}
