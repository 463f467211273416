// The confirmation Format NVM asks for: on a terminal, the user types "yes"; without a
// terminal (a script, a pipe) it refuses unless --force was given, since the command
// erases every block of the namespace.

import { createInterface } from 'node:readline/promises';
import { VfioError } from '@vfio-node/core';

/** Where the question is asked; injectable for tests. */
export interface Confirm {
  isTTY: boolean;
  ask(question: string): Promise<string>;
}

export const terminal: Confirm = {
  isTTY: process.stdin.isTTY === true && process.stderr.isTTY === true,
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

/** Asks before erasing; throws ERR_NVME_FORMAT_NOT_CONFIRMED without a terminal, or when the answer is not "yes". */
export async function confirmFormat(address: string, nsid: number, confirm: Confirm): Promise<void> {
  const what = `${address}, namespace ${'0x' + nsid.toString(16)}${nsid === 0xffffffff ? '(ALL namespaces)' : ''}`;
  if (!confirm.isTTY) {
    throw new VfioError({
      code: 'ERR_NVME_FORMAT_NOT_CONFIRMED',
      message: `refusing to format ${what} without confirmation: there is no terminal to ask`,
      hint: 'Add --force to format without asking (every block of the namespace is erased).',
    });
  }
  const answer = await confirm.ask(
    `You are about to format ${what}.\nWARNING: Format may irrevocably delete this device's data.\nType 'yes' to continue (--force skips this question): `,
  );
  if (answer.trim().toLowerCase() !== 'yes') {
    throw new VfioError({ code: 'ERR_NVME_FORMAT_NOT_CONFIRMED', message: `format of ${what} cancelled`, hint: "Answer 'yes' to format, or pass --force." });
  }
}
