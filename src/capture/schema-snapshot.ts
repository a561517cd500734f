import type { SourceConnection } from '../source/connect.js';
import type { BinlogCoordinates, TableColumn, TableSchemaEntry } from '../store/change-index.js';
import { SYSTEM_SCHEMAS, type TableFilter } from './filter.js';
import { tableKey } from './schema-history.js';

/**
 * Reads table definitions from the server's information_schema: the columns of base tables (views have no rows in
 * the binlog) in ordinal order, and the primary key in key order (STATISTICS, index PRIMARY, SEQ_IN_INDEX).
 *
 * The result describes the tables as they are now; callers record it valid from the coordinates read together
 * with it (first start) or from the DDL just captured.
 */
interface ColumnRow {
  TABLE_SCHEMA: string;
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
  IS_NULLABLE: string;
  CHARACTER_SET_NAME: string | null;
  COLLATION_NAME: string | null;
}

interface KeyRow {
  TABLE_SCHEMA: string;
  TABLE_NAME: string;
  COLUMN_NAME: string;
}

/** Definitions of the captured tables (every user table when the filter takes all), keyed by schema and table. */
export async function snapshotTables(
  conn: SourceConnection,
  filter: TableFilter,
  validFrom: BinlogCoordinates,
  only?: readonly { schema: string; table: string }[],
): Promise<TableSchemaEntry[]> {
  const where: string[] = ["t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"];
  const params: unknown[] = [];
  if (only !== undefined) {
    if (only.length === 0) return [];
    where.push(`(${only.map(() => '(c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?)').join(' OR ')})`);
    for (const o of only) params.push(o.schema, o.table);
  } else {
    where.push(`c.TABLE_SCHEMA NOT IN (${[...SYSTEM_SCHEMAS].map(() => '?').join(', ')})`);
    params.push(...SYSTEM_SCHEMAS);
  }
  const columns = await conn.query<ColumnRow>(
    `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.CHARACTER_SET_NAME, c.COLLATION_NAME
       FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
      WHERE ${where.join(' AND ')}
      ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`,
    params,
  );
  const keyWhere = where.filter((w) => !w.startsWith('t.')).map((w) => w.replace(/\bc\./g, 's.'));
  const keys = await conn.query<KeyRow>(
    `SELECT s.TABLE_SCHEMA, s.TABLE_NAME, s.COLUMN_NAME
       FROM information_schema.STATISTICS s
      WHERE s.INDEX_NAME = 'PRIMARY'${keyWhere.length > 0 ? ` AND ${keyWhere.join(' AND ')}` : ''}
      ORDER BY s.TABLE_SCHEMA, s.TABLE_NAME, s.SEQ_IN_INDEX`,
    params,
  );
  const pk = new Map<string, string[]>();
  for (const k of keys) {
    const key = tableKey(k.TABLE_SCHEMA, k.TABLE_NAME);
    const list = pk.get(key) ?? [];
    list.push(k.COLUMN_NAME);
    pk.set(key, list);
  }
  const byTable = new Map<string, { schema: string; table: string; columns: TableColumn[] }>();
  for (const r of columns) {
    if (!filter.matches(r.TABLE_SCHEMA, r.TABLE_NAME)) continue;
    const key = tableKey(r.TABLE_SCHEMA, r.TABLE_NAME);
    let t = byTable.get(key);
    if (t === undefined) {
      t = { schema: r.TABLE_SCHEMA, table: r.TABLE_NAME, columns: [] };
      byTable.set(key, t);
    }
    t.columns.push({
      name: r.COLUMN_NAME,
      type: r.COLUMN_TYPE,
      unsigned: /\bunsigned\b/i.test(r.COLUMN_TYPE),
      charset: r.CHARACTER_SET_NAME,
      collation: r.COLLATION_NAME,
      nullable: r.IS_NULLABLE === 'YES',
    });
  }
  return [...byTable.entries()].map(([key, t]) => ({
    schema: t.schema,
    table: t.table,
    validFrom,
    columns: t.columns,
    primaryKey: pk.get(key) ?? [],
  }));
}
