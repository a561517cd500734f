import type { CanonicalValue } from '../../binlog/column-types.js';
import { isoMicros, type ChangeRecord, type RowImage } from '../../store/change-index.js';
import { joinPk } from '../commands/change-args.js';
import { exactJson } from './json.js';

/** Output of `dbtrail query`: one function per --format. */
export const QUERY_FORMATS = ['table', 'json', 'ndjson', 'csv'] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];

export const DEFAULT_TABLE_WIDTH = 120;

/**
 * The public JSON form of a change: the NDJSON line, the element of `--format json`. Field names are public
 * surface. `pk` maps the key's columns to their canonical values; for a table without a primary key it is the
 * full row image, and `pk_is_full_image: true` says so (the field is present only then). seq is an exact JSON
 * number; timestamp is ISO 8601 UTC with microseconds.
 */
export function changeJson(server: string, r: ChangeRecord): Record<string, unknown> {
  return {
    server,
    seq: r.seq,
    gtid: r.gtid,
    file: r.file,
    pos: r.position,
    timestamp: isoMicros(r.commitTimeUs),
    schema: r.schema,
    table: r.table,
    type: r.type,
    pk: pkObject(r),
    ...(r.pkIsFullImage ? { pk_is_full_image: true } : {}),
    before: r.before,
    after: r.after,
    changed_columns: r.changedColumns,
  };
}

function pkValues(r: ChangeRecord): CanonicalValue[] | undefined {
  try {
    const parsed: unknown = JSON.parse(r.pk);
    return Array.isArray(parsed) ? (parsed as CanonicalValue[]) : undefined;
  } catch {
    return undefined;
  }
}

/** The key as `{column: value}`; the raw array when the stored column list does not match it. */
function pkObject(r: ChangeRecord): RowImage | readonly CanonicalValue[] | string {
  const values = pkValues(r);
  if (values === undefined) return r.pk;
  if (values.length !== r.pkColumns.length) return values;
  return Object.fromEntries(r.pkColumns.map((c, i) => [c, values[i] ?? null]));
}

export function renderNdjson(server: string, records: readonly ChangeRecord[]): string {
  return records.map((r) => `${exactJson(changeJson(server, r))}\n`).join('');
}

export function renderJson(server: string, records: readonly ChangeRecord[]): string {
  return `${exactJson(
    records.map((r) => changeJson(server, r)),
    2,
  )}\n`;
}

const CSV_COLUMNS = [
  'server',
  'seq',
  'gtid',
  'file',
  'pos',
  'timestamp',
  'schema',
  'table',
  'type',
  'pk',
  'pk_is_full_image',
  'before',
  'after',
  'changed_columns',
] as const;

/** RFC 4180 CSV; pk, images and changed columns are JSON text in their cells. */
export function renderCsv(server: string, records: readonly ChangeRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const cells = [
      server,
      r.seq.toString(),
      r.gtid ?? '',
      r.file,
      String(r.position),
      isoMicros(r.commitTimeUs),
      r.schema,
      r.table,
      r.type,
      exactJson(pkObject(r)),
      r.pkIsFullImage ? 'true' : 'false',
      r.before === null ? '' : exactJson(r.before),
      r.after === null ? '' : exactJson(r.after),
      r.changedColumns === null ? '' : exactJson(r.changedColumns),
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The human table: one line per change, fitted to `width` by cutting the CHANGE column (then table and key)
 * with an ellipsis. Times are UTC with microseconds. An update shows its changed columns as `col: old -> new`,
 * an insert its new row, a delete the row it removed. Rows of a table without a primary key show `(no PK)`, with
 * a note below the table. `--format json` has everything uncut.
 */
export function renderChangeTable(
  records: readonly ChangeRecord[],
  width: number = DEFAULT_TABLE_WIDTH,
): string {
  const headers = ['SEQ', 'TIME (UTC)', 'TYPE', 'TABLE', 'PK', 'CHANGE'];
  const rows = records.map((r) => [
    r.seq.toString(),
    isoMicros(r.commitTimeUs).slice(0, 26).replace('T', ' '),
    r.type,
    `${r.schema}.${r.table}`,
    r.pkIsFullImage ? '(no PK)' : pkCell(r),
    summary(r),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Never squeeze below these; CHANGE gives way first, then TABLE, then PK.
  const minimum = [0, 0, 0, 12, 8, 20];
  const cap = (i: number, to: number) => {
    widths[i] = Math.max(minimum[i]!, Math.min(widths[i]!, to));
  };
  widths[3] = Math.min(widths[3]!, 32);
  widths[4] = Math.min(widths[4]!, 24);
  for (const i of [5, 3, 4]) {
    const over = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) - width;
    if (over <= 0) break;
    cap(i, widths[i]! - over);
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => fit(c, widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(headers), ...rows.map(line)];
  const noPk = [...new Set(records.filter((r) => r.pkIsFullImage).map((r) => `${r.schema}.${r.table}`))];
  if (noPk.length > 0) out.push('');
  for (const name of noPk) {
    out.push(`(no PK) ${name} has no primary key: the full row image identifies its rows (pk_is_full_image)`);
  }
  return `${out.join('\n')}\n`;
}

function pkCell(r: ChangeRecord): string {
  const values = pkValues(r);
  return values === undefined ? r.pk : joinPk(values.map(valueText));
}

function summary(r: ChangeRecord): string {
  if (r.type === 'update' && r.before !== null && r.after !== null) {
    const columns = r.changedColumns ?? Object.keys(r.after);
    return columns.map((c) => `${c}: ${quoted(r.before?.[c])} -> ${quoted(r.after?.[c])}`).join(', ');
  }
  const image = r.after ?? r.before;
  if (image === null) return '';
  return Object.entries(image)
    .map(([c, v]) => `${c}=${quoted(v)}`)
    .join(' ');
}

/** A canonical value for the eye: NULL, 0x-hex for bytes, text as is (quoted when it has spaces or is empty). */
function valueText(v: CanonicalValue | undefined): string {
  if (v === undefined) return '?';
  if (v === null) return 'NULL';
  if (typeof v === 'object') return `0x${v.hex}`;
  return v;
}

function quoted(v: CanonicalValue | undefined): string {
  const text = valueText(v);
  if (typeof v === 'string' && (v === '' || /\s|"/.test(v) || v === 'NULL')) return JSON.stringify(v);
  return oneLine(text);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function fit(text: string, width: number): string {
  const flat = oneLine(text);
  if (flat.length <= width) return flat.padEnd(width);
  return `${flat.slice(0, Math.max(0, width - 1))}…`;
}
