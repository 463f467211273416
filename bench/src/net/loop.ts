// The shape every packet app shares: run the hot loop in slices of a few milliseconds,
// yield to the event loop between slices (timers, signals, interrupts), report once a
// second, stop on a deadline, a count or an abort signal.

import { setImmediate as yieldToLoop } from 'node:timers/promises';

export interface LoopControl {
  /** Stop after this many milliseconds (default: run until stopped). */
  durationMs?: number;
  /** Stop when aborted (the CLI aborts on SIGINT). */
  signal?: AbortSignal;
  /** Called once a second with the time in ms (performance.now()). */
  onSecond?: (now: number) => void;
  /** Milliseconds of hot loop between yields (default 5). */
  sliceMs?: number;
  /**
   * Polling mode: when a step finds nothing to do, sleep this many microseconds (default 0:
   * spin). Under emulation the device model runs on the same host CPUs as the guest's
   * vCPUs: a sleeping vCPU halts and leaves its host CPU to the device.
   */
  idleSleepUs?: number;
}

// Atomics.wait on a cell nobody writes: a synchronous sleep with sub-millisecond timeouts.
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** What a step did: STOP ends the loop, IDLE found nothing to do, BUSY did some work. */
export const STOP = -1;
export const IDLE = 0;
export const BUSY = 1;

/**
 * Calls step() until it returns STOP or the loop is told to stop. step() does one batch.
 * In polling mode the loop never sleeps; when `idle` is given (interrupt mode) and a
 * step found nothing, the loop awaits idle() (a wait on the queue's vector) instead.
 */
export async function runLoop(step: () => number, control: LoopControl, idle?: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  const end = control.durationMs === undefined ? Infinity : start + control.durationMs;
  const slice = control.sliceMs ?? 5;
  const idleSleepMs = (control.idleSleepUs ?? 0) / 1000;
  let nextSecond = start + 1000;
  let r = BUSY;
  while (r !== STOP && !control.signal?.aborted) {
    const sliceEnd = performance.now() + slice;
    let now = 0;
    let steps = 0;
    // Check the clock every 64 batches only: performance.now() costs more than a batch of polls.
    for (;;) {
      r = step();
      if (r === STOP || (r === IDLE && idle)) break;
      if (r === IDLE && idleSleepMs > 0) Atomics.wait(sleepCell, 0, 0, idleSleepMs);
      if ((++steps & 63) === 0 && (now = performance.now()) >= sliceEnd) break;
    }
    now = performance.now();
    if (now >= nextSecond) {
      control.onSecond?.(now);
      nextSecond += 1000 * Math.max(1, Math.ceil((now - nextSecond) / 1000));
    }
    if (now >= end) break;
    if (r === IDLE && idle) await idle();
    else await yieldToLoop();
  }
  return performance.now() - start;
}
