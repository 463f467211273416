// `vfio-node lab run --machines 2` and the two commands of a two-machine lab
// (`lab machine2 -- CMD` on machine 1, `lab agent` on machine 2): arguments only, no boot.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseLabRunArgs, run } from '../../packages/cli/src/commands/lab.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('vfio-node lab with two machines', () => {
  it('reads --machines and machine 2\'s size', () => {
    const { options, command } = parseLabRunArgs(['--machines', '2', '--machine2-memory', '1G', '--machine2-cpus', '2', '--', 'true']);
    expect(options).toMatchObject({ machines: 2, machine2: { memory: '1G', cpus: 2 } });
    expect(command).toEqual(['true']);
    expect(parseLabRunArgs(['--', 'true']).options.machines).toBeUndefined();
    expect(() => parseLabRunArgs(['--machines', 'two', '--', 'true'])).toThrow(/--machines must be a whole number/);
  });

  it('documents --machines and lab machine2 in its help', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(out.join('\n')).toMatch(/--machines N +1 \(default\) or 2/);
    expect(out.join('\n')).toMatch(/vfio-node lab machine2 \[--timeout SEC\] -- COMMAND/);
  });

  it('lab machine2 without a command, or with an unknown option, exits 2 and says why', async () => {
    expect(await run(['machine2'])).toBe(2);
    expect(err.join('\n')).toMatch(/no command given/);
    expect(await run(['machine2', '--bogus', '--', 'true'])).toBe(2);
    expect(err.join('\n')).toMatch(/unknown option '--bogus'/);
  });

  it('lab agent refuses a listen address without a port', async () => {
    expect(await run(['agent', '--listen', '10.99.0.2'])).toBe(2);
    expect(err.join('\n')).toMatch(/--listen must be ADDR:PORT/);
  });
});
