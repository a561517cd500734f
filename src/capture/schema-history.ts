import type { ColumnInfo, ColumnResolver } from '../binlog/table-map.js';
import { charsetForCollation } from '../binlog/values/charset.js';
import type { TableColumn, TableSchemaEntry } from '../store/change-index.js';

/**
 * Versioned table definitions, for binlogs that do not describe their tables (binlog_row_metadata=MINIMAL, MySQL
 * 5.7, MariaDB before 10.5): a TABLE_MAP then carries types but no column names, signedness, charsets or primary
 * key. Each version (a store `TableSchemaEntry`) is valid from the coordinates of the DDL that produced it, or of
 * the snapshot taken at first start, until the next version of the same table.
 *
 * Capture moves forward through the binlog, so the decoder only ever needs the version valid at the current
 * position: `SchemaHistory` holds exactly that per table, starting from the versions valid at the resume point and
 * replaced as each DDL is applied at its position. Older versions live in the store.
 *
 * Where the definitions come from, and the limits that follow (binlog_row_metadata=FULL needs none of this):
 * - First start: information_schema is read together with the coordinates capture starts from.
 * - A DDL (CREATE/ALTER/RENAME TABLE, CREATE/DROP INDEX) re-reads the table from information_schema when capture
 *   processes it, and records that definition valid from the DDL's end. This is exact when capture is live.
 *   When capture catches up over several DDLs of one table, the read reflects the latest of them; a definition
 *   whose column count does not match a TABLE_MAP is never used (positional names `@1`... and a warning instead),
 *   but an ADD and a DROP in the same catch-up can leave names shifted.
 * - The rows of a CREATE TABLE ... SELECT are decoded before its definition is read: positional names.
 * - After a restart, the definitions valid at the checkpoint are loaded for the tables information_schema lists;
 *   a table dropped while capture was stopped decodes its remaining events with positional names.
 * - Offline (`dbtrail index`) nothing can be read from the server: definitions come from what live capture
 *   stored; tables changed by DDL inside the files decode with positional names unless a stored entry matches.
 * - DDL inside an accepted gap is lost with it: definitions may be stale after the gap.
 */
export function tableKey(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}

export class SchemaHistory {
  readonly #current = new Map<string, TableSchemaEntry>();

  /** Makes `entry` the definition in effect from now on; an entry without columns means the table is gone. */
  apply(entry: TableSchemaEntry): void {
    const key = tableKey(entry.schema, entry.table);
    if (entry.columns.length === 0) this.#current.delete(key);
    else this.#current.set(key, entry);
  }

  get(schema: string, table: string): TableSchemaEntry | undefined {
    return this.#current.get(tableKey(schema, table));
  }

  /** The tables of a schema that have a definition in effect. */
  tablesOf(schema: string): TableSchemaEntry[] {
    return [...this.#current.values()].filter((e) => e.schema === schema);
  }

  get size(): number {
    return this.#current.size;
  }

  /**
   * The resolver the decoder calls for a TABLE_MAP without names. It answers only when the version's column count
   * matches the table map's: a mismatch means the history does not describe these bytes, and positional names
   * (`@1`...) are more honest than wrong ones.
   */
  resolver(): ColumnResolver {
    return (t) => {
      const entry = this.get(t.schema, t.table);
      if (entry === undefined || entry.columns.length !== t.columns.length) return undefined;
      return columnInfos(entry);
    };
  }
}

/** The decoder's view of a stored definition: names, signedness, a collation of the column's charset, members. */
export function columnInfos(entry: TableSchemaEntry): ColumnInfo[] {
  const pk = new Set(entry.primaryKey);
  return entry.columns.map((c): ColumnInfo => {
    const collation = collationIdFor(c);
    const members = /^(enum|set)\(/i.exec(c.type);
    return {
      name: c.name,
      unsigned: c.unsigned,
      ...(collation !== undefined ? { collation } : {}),
      ...(members !== null && members[1]?.toLowerCase() === 'enum'
        ? { enumValues: parseEnumMembers(c.type) }
        : {}),
      ...(members !== null && members[1]?.toLowerCase() === 'set'
        ? { setValues: parseEnumMembers(c.type) }
        : {}),
      primaryKey: pk.has(c.name),
    };
  });
}

/**
 * A collation id of the column's character set. The decoder picks the text decoding by character set only, so any
 * collation of the set will do; binary strings (no charset, or `binary`) get 63, the binary pseudo collation.
 */
export function collationIdFor(column: TableColumn): number | undefined {
  if (column.charset === null) {
    return /binary|blob/i.test(column.type) ? BINARY : undefined;
  }
  return FIRST_ID_BY_CHARSET.get(
    column.charset.toLowerCase() === 'utf8' ? 'utf8mb3' : column.charset.toLowerCase(),
  );
}

const BINARY = 63;
const FIRST_ID_BY_CHARSET = new Map<string, number>();
for (let id = 1; id < 4096; id++) {
  const cs = charsetForCollation(id);
  if (cs !== undefined && !FIRST_ID_BY_CHARSET.has(cs.name)) FIRST_ID_BY_CHARSET.set(cs.name, id);
}

/** The quoted members of an `enum('a','b''c')` / `set(...)` COLUMN_TYPE, unescaped. */
export function parseEnumMembers(columnType: string): string[] {
  const open = columnType.indexOf('(');
  const close = columnType.lastIndexOf(')');
  if (open === -1 || close <= open) return [];
  const body = columnType.slice(open + 1, close);
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    if (body[i] !== "'") {
      i++;
      continue;
    }
    let value = '';
    i++;
    while (i < body.length) {
      const c = body[i] as string;
      if (c === "'") {
        if (body[i + 1] === "'") {
          value += "'";
          i += 2;
          continue;
        }
        i++;
        break;
      }
      if (c === '\\' && i + 1 < body.length) {
        value += body[i + 1];
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    out.push(value);
  }
  return out;
}
