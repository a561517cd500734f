import type { CanonicalValue } from '../binlog/column-types.js';
import type { RowChange, RowsBody } from '../binlog/events.js';
import { pkText, type CapturedRowChange, type RowImage } from '../store/change-index.js';

/**
 * Turns one decoded rows event into captured row changes: the primary key as canonical text (a JSON array of the
 * key columns' canonical values, in key order), and for updates the columns whose value changed.
 *
 * A table without a primary key (`pkColumns` empty) is keyed by its full image: the before image for updates and
 * deletes, the after image for inserts, as a JSON array in column order; `pkIsFullImage` says so.
 */
export function rowChanges(body: RowsBody, pkColumns: readonly string[]): CapturedRowChange[] {
  const out: CapturedRowChange[] = [];
  for (const row of body.rows) out.push(rowChange(body, row, pkColumns));
  return out;
}

function rowChange(body: RowsBody, row: RowChange, pkColumns: readonly string[]): CapturedRowChange {
  const before: RowImage | null = row.before;
  const after: RowImage | null = row.after;
  // The key identifies the row as it was before the change (for an update that moves the key, the old key is the
  // one a later lookup by the old value finds; the after image holds the new one).
  const keyImage = (body.op === 'insert' ? after : before) ?? after ?? before ?? {};
  const usable = pkColumns.length > 0 && pkColumns.every((c) => c in keyImage);
  const columns = usable ? pkColumns : Object.keys(keyImage);
  return {
    schema: body.schema,
    table: body.table,
    type: body.op,
    pk: pkText(columns.map((c) => keyImage[c] ?? null)),
    pkColumns: columns,
    pkIsFullImage: !usable,
    before,
    after,
    changedColumns: body.op === 'update' ? changedColumns(before, after) : null,
  };
}

/** Columns present in both images whose canonical values differ, in the after image's column order. */
export function changedColumns(before: RowImage | null, after: RowImage | null): string[] {
  if (before === null || after === null) return [];
  const out: string[] = [];
  for (const name of Object.keys(after)) {
    if (!(name in before)) continue;
    if (!sameValue(before[name] ?? null, after[name] ?? null)) out.push(name);
  }
  return out;
}

function sameValue(a: CanonicalValue, b: CanonicalValue): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.hex === b.hex;
}

/** Rough in-memory size of a change, for batch byte limits (strings count their length, keys included). */
export function approximateSize(change: CapturedRowChange): number {
  return 64 + change.pk.length + imageSize(change.before) + imageSize(change.after);
}

function imageSize(image: RowImage | null): number {
  if (image === null) return 0;
  let n = 0;
  for (const key in image) {
    const v = image[key];
    n +=
      key.length + 16 + (v === null || v === undefined ? 0 : typeof v === 'string' ? v.length : v.hex.length);
  }
  return n;
}
