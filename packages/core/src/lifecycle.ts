// Cleanup at process exit. A userspace driver must leave the device quiet when the
// process ends: interrupts off, DMA unmapped, controllers shut down. Drivers register
// their shutdown with registerCleanup; the most recent runs first (a driver's shutdown
// before the device it sits on is closed). The cleanups run on 'exit', synchronously.
//
// Signals belong to the program, not to a library: SIGINT and SIGTERM are handled here
// only after handleSignals() (the CLI calls it). Without it, a program's own handlers
// decide; a program with none dies of the signal, and the kernel gives the devices back
// (closing the descriptors stops DMA and interrupts; a controller is not shut down).

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

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
}

/**
 * Registers fn to run synchronously at process exit (and on SIGINT/SIGTERM once
 * handleSignals() was called). Returns a function that unregisters it.
 */
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

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type HandledSignal = keyof typeof SIGNALS;
let signalHandlers: Map<HandledSignal, () => void> | null = null;

function onSignal(signal: HandledSignal): void {
  // The program has a handler of its own for this signal: it decides (it may stop
  // gracefully, or exit, and the exit handler cleans up then).
  if (process.listenerCount(signal) > 1) return;
  runAll();
  // End as a shell reports a death by this signal: 128 + its number (130 for SIGINT).
  process.exit(128 + SIGNALS[signal]);
}

/**
 * Opt in to signal handling, for command-line programs: on SIGINT or SIGTERM, when the
 * program has no handler of its own for that signal, every cleanup runs (controllers shut
 * down, devices closed) and the process exits with status 128 + the signal's number (130,
 * 143). A handler the program adds, before or after, takes precedence: ours then does
 * nothing, and the cleanups run at exit. Idempotent. Returns a function that removes the
 * handlers again.
 */
export function handleSignals(): () => void {
  install();
  if (!signalHandlers) {
    signalHandlers = new Map();
    for (const s of Object.keys(SIGNALS) as HandledSignal[]) {
      const h = () => onSignal(s);
      signalHandlers.set(s, h);
      // First in line, so that at the signal the program's own handlers (even `once`
      // ones, which remove themselves when called) are still counted.
      process.prependListener(s, h);
    }
  }
  return () => {
    if (!signalHandlers) return;
    for (const [s, h] of signalHandlers) process.off(s, h);
    signalHandlers = null;
  };
}
