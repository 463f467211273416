import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findCliBin } from './cli-bin.js';
import { vfioNodeWrapper } from './guest-command.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-node-cli-bin-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the vfio-node command the lab puts on the guest PATH', () => {
  it('is the workspace CLI in the clone', () => {
    expect(findCliBin()).toBe(path.join(repo, 'packages/cli/bin/vfio-node.js'));
  });

  it('is node_modules/vfio-node\'s bin in an installed project (the lab package beside it, not in the repository)', () => {
    const project = path.join(tmp, 'project');
    const lab = path.join(project, 'node_modules/@vfio-node/lab/dist');
    const cli = path.join(project, 'node_modules/vfio-node');
    fs.mkdirSync(lab, { recursive: true });
    fs.mkdirSync(path.join(cli, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(cli, 'package.json'), JSON.stringify({ name: 'vfio-node', bin: { 'vfio-node': './bin/vfio-node.js' } }));
    fs.writeFileSync(path.join(cli, 'bin/vfio-node.js'), '');
    expect(findCliBin(pathToFileURL(path.join(lab, 'lab.js')))).toBe(path.join(cli, 'bin/vfio-node.js'));
  });

  it('is missing where no vfio-node package is installed, and the wrapper then says what to install', () => {
    const alone = path.join(tmp, 'alone/node_modules/@vfio-node/lab/dist');
    fs.mkdirSync(alone, { recursive: true });
    expect(findCliBin(pathToFileURL(path.join(alone, 'lab.js')))).toBeUndefined();
    const script = vfioNodeWrapper(undefined);
    expect(script).toMatch(/^#!\/bin\/sh\n/);
    expect(script).toContain('npm install vfio-node');
    expect(script).toContain('exit 127');
  });
});
