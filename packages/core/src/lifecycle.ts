// Cleanup on process exit and on SIGINT/SIGTERM. A userspace driver must leave the
// device quiet when the process ends: interrupts off, DMA unmapped, controllers shut
// down. Drivers register their shutdown with registerCleanup; the most recent runs first
// (a driver's shutdown before the device it sits on is closed).

type Cleanup = () => void;

const cleanups = new Set<{ fn: Cleanup }>();
let installed = false;
let running = false;

function runAll(): void {
  if (running) return;
  running = true;
  try {
    for (const c of [...cleanups].reverse()) {
      try {
        c.fn();
      } catch {
        // Keep going: one failing cleanup must not leave the others undone.
      }
    }
    cleanups.clear();
  } finally {
    running = false;
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // Re-raise with the default action so the exit status says which signal ended us.
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  // Only take over the signals if nobody else did: an embedding program's own handlers win.
  if (process.listenerCount('SIGINT') === 0) process.on('SIGINT', onSignal);
  if (process.listenerCount('SIGTERM') === 0) process.on('SIGTERM', onSignal);
}

/** Registers fn to run at process exit or on SIGINT/SIGTERM. Returns a function that unregisters it. */
export function registerCleanup(fn: Cleanup): () => void {
  install();
  const entry = { fn };
  cleanups.add(entry);
  return () => {
    cleanups.delete(entry);
  };
}

/** Runs every registered cleanup now (for embedders with their own signal handling). */
export function runCleanups(): void {
  runAll();
}
