import type { CanonicalValue } from '../binlog/column-types.js';
import { pkText, type ChangeRecord, type ChangeType, type RowImage } from '../store/change-index.js';
import { RecoverGenerateError } from './errors.js';
import { quoteIdent, quoteTable, sqlLiteral, sqlMatch, type ColumnShape, type Flavor } from './literal.js';
import type { TableShape } from './shapes.js';

/**
 * One change turned into one SQL statement, undone or replayed forward.
 *
 * Undo: a DELETE becomes an INSERT of the before image; an UPDATE becomes an UPDATE back to the before image,
 * keyed on the after image's key; an INSERT becomes a DELETE. Forward: the same change again, its WHERE on the
 * before image. The WHERE of an UPDATE or DELETE checks that the row still is what it should be (the full image,
 * or with `columns: 'changed'` the key and the changed columns), so a row changed since matches nothing and is a
 * conflict instead of being overwritten; `onConflict: 'force'` keys on the primary key alone. A table without a
 * primary key is matched on its full image with LIMIT 1, so one undo touches one of several identical rows.
 */

export type Direction = 'undo' | 'forward';
export type ColumnsMode = 'all' | 'changed';
export type ConflictPolicy = 'abort' | 'skip' | 'force';

export interface StatementOptions {
  readonly direction: Direction;
  readonly columns: ColumnsMode;
  readonly onConflict: ConflictPolicy;
  readonly flavor: Flavor;
  /** The schema statements are written against (restore into a renamed schema); the change's own by default. */
  readonly targetSchema?: (schema: string) => string;
}

export interface RecoveryStatement {
  /** The seq of the change it comes from. */
  readonly seq: bigint;
  /** The change's schema and table (before any renaming). */
  readonly schema: string;
  readonly table: string;
  /** The type of the captured change (not of the statement). */
  readonly change: ChangeType;
  readonly verb: 'INSERT' | 'UPDATE' | 'DELETE' | 'UPSERT';
  readonly sql: string;
  /** The affected-row counts that mean success (with CLIENT_FOUND_ROWS): [1], or [1, 2] for an upsert. */
  readonly expectRows: readonly number[];
  /** The change's canonical key text (the row's key before the change; see src/capture/row-change.ts). */
  readonly pk: string;
  /** The row's key after the change, in the same form; null for a delete. */
  readonly pkAfter: string | null;
}

/** The key of the row after the change, as the index stores keys. */
export function keyAfter(c: ChangeRecord): string | null {
  if (c.type === 'insert') return c.pk;
  if (c.type === 'delete' || c.after === null) return null;
  // The common case: an update that kept its key (the changed columns come from full images).
  if (!c.pkIsFullImage && c.before !== null && c.changedColumns !== null) {
    const changed = c.changedColumns;
    if (c.pkColumns.every((n) => !changed.includes(n) && n in c.after! && n in c.before!)) return c.pk;
  }
  const after = c.after;
  const columns = c.pkIsFullImage ? Object.keys(after) : c.pkColumns;
  return pkText(columns.map((n): CanonicalValue => after[n] ?? null));
}

function describe(change: ChangeRecord): string {
  return `change ${change.seq} (${change.type} of ${change.schema}.${change.table}, key ${change.pk})`;
}

function checkImage(
  change: ChangeRecord,
  shape: TableShape,
  side: 'before' | 'after',
  image: RowImage | null,
  requireAll: boolean,
  required: readonly string[],
): RowImage {
  if (image === null) {
    throw new RecoverGenerateError(`Cannot generate SQL for ${describe(change)}: it has no ${side} image`, {
      fields: { seq: String(change.seq) },
    });
  }
  for (const name of Object.keys(image)) {
    if (!shape.byName.has(name)) {
      throw new RecoverGenerateError(
        `Cannot generate SQL for ${describe(change)}: its ${side} image has column ${name}, which the table's definition (${shape.source === 'live' ? 'read from the server' : 'from schema history'}) lacks`,
        { fields: { seq: String(change.seq), column: name } },
      );
    }
  }
  const names = requireAll ? shape.columns.map((c) => c.name) : required;
  const missing = names.filter((n) => !(n in image));
  if (missing.length > 0) {
    throw new RecoverGenerateError(
      `Cannot generate SQL for ${describe(change)}: its ${side} image lacks column${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (binlog_row_image=MINIMAL or NOBLOB); an exact ${requireAll ? 'undo' : 'statement'} needs binlog_row_image=FULL`,
      { fields: { seq: String(change.seq), missing } },
    );
  }
  return image;
}

function value(image: RowImage, name: string): CanonicalValue {
  return image[name] ?? null;
}

function literal(change: ChangeRecord, image: RowImage, column: ColumnShape, flavor: Flavor): string {
  try {
    return sqlLiteral(value(image, column.name), column, flavor);
  } catch (err) {
    if (err instanceof RecoverGenerateError) {
      throw new RecoverGenerateError(`Cannot generate SQL for ${describe(change)}: ${err.message}`, {
        cause: err,
        fields: { seq: String(change.seq), ...err.fields },
      });
    }
    throw err;
  }
}

function match(
  change: ChangeRecord,
  image: RowImage,
  column: ColumnShape,
  flavor: Flavor,
  key: boolean,
): string {
  try {
    return sqlMatch(value(image, column.name), column, flavor, key);
  } catch (err) {
    if (err instanceof RecoverGenerateError) {
      throw new RecoverGenerateError(`Cannot generate SQL for ${describe(change)}: ${err.message}`, {
        cause: err,
        fields: { seq: String(change.seq), ...err.fields },
      });
    }
    throw err;
  }
}

/** Columns of the image in table order. */
function present(shape: TableShape, image: RowImage): ColumnShape[] {
  const out: ColumnShape[] = [];
  for (const c of shape.columns) if (c.name in image) out.push(c);
  return out;
}

const ONE: readonly number[] = Object.freeze([1]);
const ONE_OR_TWO: readonly number[] = Object.freeze([1, 2]);

const keySets = new WeakMap<TableShape, ReadonlySet<string>>();
function keySet(shape: TableShape): ReadonlySet<string> {
  let set = keySets.get(shape);
  if (set === undefined) keySets.set(shape, (set = new Set(shape.primaryKey)));
  return set;
}

/** The WHERE that finds the row an image describes, and checks it unless forced. */
function whereSql(
  change: ChangeRecord,
  shape: TableShape,
  image: RowImage,
  checkColumns: readonly string[] | null,
  options: StatementOptions,
): string {
  const { flavor } = options;
  let sql = '';
  if (shape.primaryKey.length === 0) {
    for (const c of shape.columns)
      sql += `${sql === '' ? '' : ' AND '}${match(change, image, c, flavor, false)}`;
    return `${sql} LIMIT 1`;
  }
  for (const name of shape.primaryKey) {
    sql += `${sql === '' ? '' : ' AND '}${match(change, image, shape.byName.get(name)!, flavor, true)}`;
  }
  if (options.onConflict === 'force') return sql;
  const keys = keySet(shape);
  if (checkColumns === null) {
    for (const c of shape.columns) {
      if (keys.has(c.name) || !(c.name in image)) continue;
      sql += ` AND ${match(change, image, c, flavor, false)}`;
    }
  } else {
    for (const name of checkColumns) {
      if (keys.has(name) || !(name in image)) continue;
      sql += ` AND ${match(change, image, shape.byName.get(name)!, flavor, false)}`;
    }
  }
  return sql;
}

function insertStatement(
  change: ChangeRecord,
  shape: TableShape,
  image: RowImage,
  target: string,
  options: StatementOptions,
): RecoveryStatement {
  const { flavor } = options;
  const cols = present(shape, image);
  let names = '';
  let values = '';
  for (const c of cols) {
    names += `${names === '' ? '' : ', '}${quoteIdent(c.name)}`;
    values += `${values === '' ? '' : ', '}${literal(change, image, c, flavor)}`;
  }
  let sql = `INSERT INTO ${target} (${names}) VALUES (${values})`;
  if (options.onConflict === 'force' && shape.primaryKey.length > 0) {
    // Overwrite a row that took the key since: set every column to the image's value.
    const keys = keySet(shape);
    const assign = cols.filter((c) => !keys.has(c.name));
    const list = (assign.length > 0 ? assign : cols.slice(0, 1)).map(
      (c) => `${quoteIdent(c.name)} = ${literal(change, image, c, flavor)}`,
    );
    sql += ` ON DUPLICATE KEY UPDATE ${list.join(', ')}`;
    return statement(change, 'UPSERT', sql, ONE_OR_TWO);
  }
  return statement(change, 'INSERT', sql, ONE);
}

function statement(
  change: ChangeRecord,
  verb: RecoveryStatement['verb'],
  sql: string,
  expectRows: readonly number[],
): RecoveryStatement {
  return {
    seq: change.seq,
    schema: change.schema,
    table: change.table,
    change: change.type,
    verb,
    sql,
    expectRows,
    pk: change.pk,
    pkAfter: keyAfter(change),
  };
}

/**
 * The statement for one change, or null when there is nothing to do (an update that changed no column, with
 * `columns: 'changed'`). Throws RecoverGenerateError when it cannot be exact.
 */
export function statementFor(
  change: ChangeRecord,
  shape: TableShape,
  options: StatementOptions,
): RecoveryStatement | null {
  const { direction, columns, flavor } = options;
  const target = quoteTable(options.targetSchema?.(change.schema) ?? change.schema, change.table);
  const pkLess = shape.primaryKey.length === 0;
  const undo = direction === 'undo';
  // Undo restores whole rows, so it needs full images; forward replay can work with what a MINIMAL image holds
  // (the key to find the row, the columns to set), except for tables without a key.
  switch (change.type) {
    case 'insert': {
      const after = checkImage(change, shape, 'after', change.after, undo, []);
      if (!undo) return insertStatement(change, shape, after, target, options);
      return statement(
        change,
        'DELETE',
        `DELETE FROM ${target} WHERE ${whereSql(change, shape, after, null, options)}`,
        ONE,
      );
    }
    case 'delete': {
      const before = checkImage(change, shape, 'before', change.before, undo || pkLess, shape.primaryKey);
      if (undo) return insertStatement(change, shape, before, target, options);
      return statement(
        change,
        'DELETE',
        `DELETE FROM ${target} WHERE ${whereSql(change, shape, before, null, options)}`,
        ONE,
      );
    }
    case 'update': {
      const fromImage = checkImage(
        change,
        shape,
        undo ? 'after' : 'before',
        undo ? change.after : change.before,
        undo || pkLess,
        shape.primaryKey,
      );
      const toImage = checkImage(
        change,
        shape,
        undo ? 'before' : 'after',
        undo ? change.before : change.after,
        undo,
        [],
      );
      const changed = change.changedColumns ?? [];
      // A MINIMAL before image lacks the columns an update set, so they count as changed too (forward only: undo
      // has full images).
      const changedSet = undo
        ? changed
        : [...changed, ...Object.keys(toImage).filter((n) => !(n in fromImage) && !changed.includes(n))];
      let set = '';
      if (columns === 'changed') {
        for (const n of changedSet) {
          set += `${set === '' ? '' : ', '}${quoteIdent(n)} = ${literal(change, toImage, shape.byName.get(n)!, flavor)}`;
        }
      } else {
        for (const c of shape.columns) {
          if (!(c.name in toImage)) continue;
          set += `${set === '' ? '' : ', '}${quoteIdent(c.name)} = ${literal(change, toImage, c, flavor)}`;
        }
      }
      if (set === '') return null;
      const where = whereSql(change, shape, fromImage, columns === 'changed' ? changedSet : null, options);
      return statement(change, 'UPDATE', `UPDATE ${target} SET ${set} WHERE ${where}`, ONE);
    }
  }
}
