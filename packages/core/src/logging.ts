// Logging with pino. Level from VFIO_NODE_LOG (default 'warn'); at 'trace' every
// register access and interrupt is logged with the register's name as the driver
// supplies it, so that the log of a bring-up reads like the specification.
import pino, { type Logger } from 'pino';

export type { Logger };

let root: Logger | undefined;

/** The process-wide logger (stderr, synchronous, so it interleaves with output sensibly). */
export function logger(): Logger {
  root ??= pino(
    { name: 'vfio-node', level: process.env.VFIO_NODE_LOG ?? 'warn', base: undefined },
    pino.destination({ fd: 2, sync: true }),
  );
  return root;
}

/** Sets the level of the process-wide logger ('trace' shows every register access). */
export function setLogLevel(level: string): void {
  logger().level = level;
}
