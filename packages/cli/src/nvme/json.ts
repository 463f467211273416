// JSON the way nvme-cli prints it (json-c, JSON_C_TO_STRING_PRETTY): two-space indent,
// no space after the colon, and 64/128-bit counters as bare numbers, which
// JSON.stringify cannot do with bigint. Key order is insertion order.

export type JsonValue = string | number | bigint | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Serialises like json-c's pretty printer; bigints come out as plain digits. */
export function toJson(value: JsonValue, indent = 0): string {
  const pad = ' '.repeat(indent);
  const inner = ' '.repeat(indent + 2);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + toJson(v, indent + 2)).join(',\n')}\n${pad}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}:${toJson(v, indent + 2)}`).join(',\n')}\n${pad}}`;
}
