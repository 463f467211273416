import { describe, expect, it } from 'vitest';
import { confirmFormat } from './format-confirm.js';

describe('format asks before erasing', () => {
  it('refuses without a terminal, naming --force', async () => {
    const err = await confirmFormat('0000:00:03.0', 1, { isTTY: false, ask: async () => 'yes' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_NVME_FORMAT_NOT_CONFIRMED', message: expect.stringContaining('no terminal'), hint: expect.stringContaining('--force') });
  });

  it("goes on when the user types yes, and stops on anything else", async () => {
    const asked: string[] = [];
    await confirmFormat('0000:00:03.0', 1, { isTTY: true, ask: async (q) => (asked.push(q), 'yes\n') });
    expect(asked[0]).toContain('You are about to format 0000:00:03.0, namespace 0x1.');
    expect(asked[0]).toContain("WARNING: Format may irrevocably delete this device's data.");
    await expect(confirmFormat('0000:00:03.0', 0xffffffff, { isTTY: true, ask: async () => 'n' })).rejects.toMatchObject({ code: 'ERR_NVME_FORMAT_NOT_CONFIRMED', message: expect.stringContaining('(ALL namespaces)') });
  });
});
