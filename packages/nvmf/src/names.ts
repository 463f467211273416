// NVMe Qualified Names (NVMe Base 2.0 §4.5) and listen addresses.

import { isIP } from 'node:net';
import { badAddress, badNqn } from './errors.js';

/** The well-known NQN of a discovery controller (Base 2.0 §4.5). */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/**
 * Checks an NQN: `nqn.YYYY-MM.reverse-domain[:anything]` or the UUID form
 * `nqn.2014-08.org.nvmexpress:uuid:...`, at most 223 bytes of UTF-8 (§4.5).
 * @throws ERR_NVMF_NQN
 */
export function checkNqn(nqn: string): string {
  if (typeof nqn !== 'string' || nqn.length === 0) throw badNqn(String(nqn), 'empty');
  if (Buffer.byteLength(nqn, 'utf8') > 223) throw badNqn(nqn, `${Buffer.byteLength(nqn, 'utf8')} bytes is more than 223`);
  if (!/^nqn\.\d{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:.+)?$/.test(nqn)) throw badNqn(nqn, 'not nqn.YYYY-MM.domain:name');
  return nqn;
}

/** A listen address: host and TCP port. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `ADDR:PORT` (`127.0.0.1:4420`, `[::1]:4420`, `0.0.0.0:4420`); a bare address gets port 4420; port 0 takes any free port.
 * @throws ERR_NVMF_ADDRESS
 */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw badAddress(text, 'not ADDR:PORT');
  const host = m[1]!;
  if (!isIP(host)) throw badAddress(text, `'${host}' is not an IPv4 or IPv6 address`);
  const port = m[2] === undefined ? 4420 : Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badAddress(text, `port ${m[2]} is not 0 (any free port) to 65535`);
  return { host, port };
}
