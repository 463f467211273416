import { describe, expect, it } from 'vitest';
import { toJson } from './json.js';

describe('json-c style output', () => {
  it('indents by two, puts no space after the colon and prints bigints as bare numbers', () => {
    expect(toJson({ a: 1, b: 'x', c: [1n << 100n, { d: true }], e: [], f: {} })).toBe(
      ['{', '  "a":1,', '  "b":"x",', '  "c":[', '    1267650600228229401496703205376,', '    {', '      "d":true', '    }', '  ],', '  "e":[],', '  "f":{}', '}'].join('\n'),
    );
  });

  it('escapes strings', () => {
    expect(toJson({ 'k"': 'a\tb' })).toBe('{\n  "k\\"":"a\\tb"\n}');
  });
});
