// --trace on any vfio-node command turns the drivers' tracer on through VFIO_NODE_TRACE
// (worker threads share the environment), and never takes a --trace meant for the
// program after "--" (lab run -- CMD --trace).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../packages/cli/src/main.js';

let err: string[];
beforeEach(() => {
  err = [];
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.stubEnv('VFIO_NODE_TRACE', '');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('vfio-node --trace', () => {
  it('sets VFIO_NODE_TRACE (1 or json) and runs the command without the flag', async () => {
    expect(await main(['list', '--json', '--trace'])).toBe(0);
    expect(process.env.VFIO_NODE_TRACE).toBe('1');
    expect(await main(['--trace=json', 'list', '--json'])).toBe(0);
    expect(process.env.VFIO_NODE_TRACE).toBe('json');
  });

  it('refuses another format by name', async () => {
    expect(await main(['list', '--trace=xml'])).toBe(2);
    expect(err[0]).toBe('vfio-node: invalid --trace=xml (expected --trace or --trace=json)');
    expect(process.env.VFIO_NODE_TRACE).toBe('');
  });

  it('leaves a --trace after "--" to the program it belongs to', async () => {
    expect(await main(['lab', '--help', '--', 'node', 'x.js', '--trace'])).toBe(0);
    expect(process.env.VFIO_NODE_TRACE).toBe('');
  });
});
