// Atomics.waitAsync: in Node 20 (V8 8.7+), not yet in TypeScript's ES2022 lib. Typed once here.

/** What Atomics.waitAsync returns: at once (the value differed, or a zero timeout), or a promise. */
export type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

const atomics = Atomics as typeof Atomics & {
  waitAsync(ta: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult;
};

/** Atomics.waitAsync(ta, index, value, timeoutMs): waits, without blocking the thread, for ta[index] to leave value. */
export function waitAsync(ta: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult {
  return atomics.waitAsync(ta, index, value, timeoutMs);
}
