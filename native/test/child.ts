// Test helper: run a reproduction in a child process, so that a crash (SIGSEGV, SIGABRT,
// SIGBUS) fails the test with its signal instead of killing the test runner.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed as JSON (each child script ends with one), or null. */
  result: Record<string, unknown> | null;
}

/** Runs native/test/children/<name> with node (and nodeArgs) and resolves when it exits (never rejects on a crash). */
export function runChild(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000, nodeArgs: string[] = []): Promise<ChildResult> {
  const script = fileURLToPath(new URL(`./children/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A hang is a failure too, but a generous one: the machine may be loaded.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      let result: Record<string, unknown> | null = null;
      try {
        result = JSON.parse(last) as Record<string, unknown>;
      } catch {
        result = null;
      }
      resolve({ code, signal, stdout, stderr, result });
    });
  });
}

/** What a failed child said, for assertion messages. */
export function describeExit(r: ChildResult): string {
  return `exit code ${r.code}, signal ${r.signal}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;
}
