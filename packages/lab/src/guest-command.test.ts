import { describe, expect, it } from 'vitest';
import { guestEnvironment, guestScript, shQuote, vfioNodeWrapper } from './guest-command.js';

describe('shQuote', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(shQuote('node')).toBe('node');
    expect(shQuote('a b')).toBe("'a b'");
    expect(shQuote("it's")).toBe("'it'\\''s'");
    expect(shQuote('$HOME')).toBe("'$HOME'");
    expect(shQuote('')).toBe("''");
  });
});

describe('guestEnvironment', () => {
  it('passes VFIO_* and the listed variables, puts the lab bin first on PATH, drops what the guest sets', () => {
    const env = guestEnvironment(
      { PATH: '/opt/x/bin:relative:/usr/bin', HOME: '/home/u', CI: 'true', NODE_OPTIONS: '--enable-source-maps', VFIO_NODE_DEBUG: '1', VFIO_LAB_NVME: 'stale', SECRET: 'no' },
      { EXTRA: 'yes' },
    );
    expect(env).toEqual({
      CI: 'true',
      NODE_OPTIONS: '--enable-source-maps',
      VFIO_NODE_DEBUG: '1',
      PATH: '/run/vfio-lab/bin:/opt/x/bin:/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin',
      HOME: '/home/u',
      TERM: 'dumb',
      VFIO_LAB_OUT: '/run/vfio-lab/out',
      EXTRA: 'yes',
    });
  });
});

describe('guestScript', () => {
  it('exports, changes directory, checks the command, then execs it quoted', () => {
    expect(guestScript(['sh', '-c', 'echo $X; exit 7'], '/work/main', { A: "it's", 'BAD-NAME': 'x' })).toBe(
      [
        '# vfio-node lab: the command (packages/lab/src/guest-command.ts)',
        "export A='it'\\''s'",
        'ulimit -l unlimited',
        'cd /work/main || { echo "vfio-node lab: no such directory in the guest: /work/main" >&2; exit 126; }',
        "command -v sh >/dev/null 2>&1 || { echo 'vfio-node lab: command not found in the guest: sh' >&2; exit 127; }",
        'echo $$ > /run/vfio-lab.pid',
        "exec sh -c 'echo $X; exit 7'",
        '',
      ].join('\n'),
    );
  });

  it('wraps the CLI for the guest PATH', () => {
    expect(vfioNodeWrapper('/w/packages/cli/bin/vfio-node.js')).toBe('#!/bin/sh\nexec node /w/packages/cli/bin/vfio-node.js "$@"\n');
  });
});
