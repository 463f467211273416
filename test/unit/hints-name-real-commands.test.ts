// Every error hint that tells the user to run `vfio-node X` (or `vfio-node nvme X`, or
// `vfio-node lab X`) names a command that exists. Reads the sources: a hint is a string
// on a line that says `hint`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../packages/cli/src/main.js';
import { NVME_SUBCOMMANDS } from '../../packages/cli/src/commands/nvme.js';

const root = path.resolve(import.meta.dirname, '../..');

/** Words after "vfio-node" in hints that are prose, not commands ("vfio-node sends ...", the JSON key "vfio-node compare"). */
const PROSE = new Set(['sends', 'needs', 'compare']);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'dist') out.push(...sources(p));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

describe('hints name commands that exist', () => {
  const files = ['packages', 'drivers', 'bench/src'].flatMap((d) => sources(path.join(root, d)));
  const hints: Array<{ where: string; cmd: string; sub: string | undefined }> = [];
  for (const f of files) {
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if (!/hint/i.test(line)) return;
      for (const m of line.matchAll(/vfio-node ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)) {
        hints.push({ where: `${path.relative(root, f)}:${i + 1}`, cmd: m[1]!, sub: m[2] });
      }
    });
  }

  it('finds hints to check', () => {
    expect(hints.length).toBeGreaterThan(10);
  });

  it('each `vfio-node X` in a hint is a subcommand, each `vfio-node nvme X` an nvme subcommand', () => {
    const bad = hints.filter((h) => (!COMMAND_NAMES.includes(h.cmd) && !PROSE.has(h.cmd)) || (h.cmd === 'nvme' && h.sub !== undefined && !NVME_SUBCOMMANDS.includes(h.sub)) || (h.cmd === 'lab' && h.sub !== undefined && h.sub !== 'run'));
    expect(bad).toEqual([]);
  });
});
