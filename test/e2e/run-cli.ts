// The e2e tests' way to run the built CLI: `node packages/cli/bin/vfio-node.js ARGS` in a
// folder of the test's choosing, with its output collected whatever its exit status.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI's entry point. */
export const cli = path.join(root, 'packages/cli/bin/vfio-node.js');

/** What a CLI run printed and how it ended. */
export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with args in cwd (env: added to this process's environment). */
export function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
