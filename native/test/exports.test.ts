import { describe, expect, it } from 'vitest';
import * as named from '@vfio-node/native';
import binding from '@vfio-node/native';

describe('the ESM face of the addon', () => {
  it('exports by name every function and class the compiled addon has', () => {
    const missing = Object.keys(binding).filter((k) => !(k in named));
    expect(missing).toEqual([]);
  });
});
