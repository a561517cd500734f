/**
 * JSON text in which a bigint is written as its exact decimal digits (a JSON number of any size), so that seqs,
 * counts and microsecond times reach the reader unrounded. JSON.stringify refuses bigints outright.
 * `undefined` members are left out, as JSON.stringify does.
 */
export function exactJson(value: unknown, indent = 0, depth = 0): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const pad = indent > 0 ? `\n${' '.repeat(indent * (depth + 1))}` : '';
  const end = indent > 0 ? `\n${' '.repeat(indent * depth)}` : '';
  const sep = indent > 0 ? ': ' : ':';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v: unknown) => pad + exactJson(v, indent, depth + 1)).join(',')}${end}]`;
  }
  const members = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (members.length === 0) return '{}';
  return `{${members.map(([k, v]) => `${pad}${JSON.stringify(k)}${sep}${exactJson(v, indent, depth + 1)}`).join(',')}${end}}`;
}
