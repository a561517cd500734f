import { parseTableFilter } from '../capture/filter.js';
import { snapshotTables } from '../capture/schema-snapshot.js';
import type { SourceConnection } from '../source/connect.js';
import type { ChangeIndex, TableColumn, TableSchemaEntry } from '../store/change-index.js';
import { RecoverInputError } from './errors.js';
import { columnKind, type ColumnShape } from './literal.js';

/**
 * Table definitions for SQL generation. A change's literals need the column types the table had when the change
 * was made: they come from the index's schema history at the change's seq. Only when the history lacks the table
 * is the live server's information_schema read (its definition now), and the plan says so.
 */
export interface TableShape {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly ColumnShape[];
  readonly byName: ReadonlyMap<string, ColumnShape>;
  /** PK column names in key order; empty for a table without a primary key. */
  readonly primaryKey: readonly string[];
  readonly source: 'history' | 'live';
  /** The raw definition, to compare two points in time. */
  readonly definition: readonly TableColumn[];
}

/** Child table -> the tables its foreign keys reference (both as `schema.table`). */
export type ForeignKeyGraph = ReadonlyMap<string, ReadonlySet<string>>;

export function tableName(schema: string, table: string): string {
  return `${schema}.${table}`;
}

function toShape(entry: TableSchemaEntry, source: TableShape['source']): TableShape {
  const columns = entry.columns.map((c) =>
    Object.freeze({ name: c.name, kind: columnKind(c.type), type: c.type }),
  );
  return Object.freeze({
    schema: entry.schema,
    table: entry.table,
    columns,
    byName: new Map(columns.map((c) => [c.name, c])),
    primaryKey: entry.primaryKey,
    source,
    definition: entry.columns,
  });
}

/** Whether two definitions have the same columns in the same order with the same types and charsets. */
export function sameDefinition(a: TableShape, b: TableShape): boolean {
  if (a.definition.length !== b.definition.length) return false;
  if (a.primaryKey.join('\u0000') !== b.primaryKey.join('\u0000')) return false;
  return a.definition.every((c, i) => {
    const d = b.definition[i]!;
    return (
      c.name === d.name &&
      c.type.toLowerCase() === d.type.toLowerCase() &&
      (c.charset ?? '') === (d.charset ?? '') &&
      (c.collation ?? '') === (d.collation ?? '')
    );
  });
}

export class TableShapes {
  readonly #index: ChangeIndex;
  readonly #serverId: string;
  readonly #live: SourceConnection | undefined;
  /** Seqs of DDL events, ascending: a definition can only change at one, so it is cached per span between them. */
  readonly #ddlSeqs: readonly bigint[];
  readonly #cache = new Map<string, Promise<TableShape>>();
  readonly #resolved = new Map<string, TableShape>();
  #lastHit: { schema: string; table: string; epoch: number; shape: TableShape } | undefined;
  readonly #liveCache = new Map<string, Promise<TableShape | undefined>>();
  /** Tables whose definition had to come from the live server. */
  readonly liveFallbacks = new Set<string>();

  constructor(
    index: ChangeIndex,
    serverId: string,
    ddlSeqs: readonly bigint[],
    live: SourceConnection | undefined,
  ) {
    this.#index = index;
    this.#serverId = serverId;
    this.#ddlSeqs = ddlSeqs;
    this.#live = live;
  }

  /** The definition valid at a change's seq. */
  at(schema: string, table: string, seq: bigint): Promise<TableShape> {
    const key = `${schema}\u0000${table}\u0000${this.#epoch(seq)}`;
    let shape = this.#cache.get(key);
    if (shape === undefined) {
      shape = this.#load(schema, table, seq);
      shape.then(
        (s) => this.#resolved.set(key, s),
        () => undefined,
      );
      this.#cache.set(key, shape);
    }
    return shape;
  }

  /** `at` without waiting, once that definition has been loaded (the hot path of long plans); else undefined. */
  loaded(schema: string, table: string, seq: bigint): TableShape | undefined {
    const epoch = this.#epoch(seq);
    const hit = this.#lastHit;
    if (hit !== undefined && hit.epoch === epoch && hit.table === table && hit.schema === schema)
      return hit.shape;
    const shape = this.#resolved.get(`${schema}\u0000${table}\u0000${epoch}`);
    if (shape !== undefined) this.#lastHit = { schema, table, epoch, shape };
    return shape;
  }

  /** The newest definition: what the table is now, as far as the index knows (else the live server). */
  latest(schema: string, table: string): Promise<TableShape> {
    const key = `${schema}\u0000${table}\u0000latest`;
    let shape = this.#cache.get(key);
    if (shape === undefined) {
      shape = this.#load(schema, table, undefined);
      this.#cache.set(key, shape);
    }
    return shape;
  }

  /** The number of DDL events before `seq`. */
  #epoch(seq: bigint): number {
    let lo = 0;
    let hi = this.#ddlSeqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ddlSeqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  async #load(schema: string, table: string, seq: bigint | undefined): Promise<TableShape> {
    const entry = await this.#index.tableSchemaAt(
      this.#serverId,
      schema,
      table,
      seq === undefined ? {} : { seq },
    );
    if (entry !== undefined) return toShape(entry, 'history');
    const live = await this.#liveShape(schema, table);
    if (live !== undefined) {
      this.liveFallbacks.add(tableName(schema, table));
      return live;
    }
    throw new RecoverInputError(
      this.#live === undefined
        ? `Cannot find the definition of table ${schema}.${table}: the index's schema history lacks it; give --dsn so it can be read from the server`
        : `Cannot find the definition of table ${schema}.${table}: neither the index's schema history nor the server has it`,
      { fields: { schema, table } },
    );
  }

  #liveShape(schema: string, table: string): Promise<TableShape | undefined> {
    const key = `${schema}\u0000${table}`;
    let found = this.#liveCache.get(key);
    if (found === undefined) {
      const live = this.#live;
      found =
        live === undefined
          ? Promise.resolve(undefined)
          : snapshotTables(
              live,
              parseTableFilter(undefined, undefined),
              { file: '', position: 0, gtidSet: null },
              [{ schema, table }],
            ).then((entries) => (entries[0] === undefined ? undefined : toShape(entries[0], 'live')));
      this.#liveCache.set(key, found);
    }
    return found;
  }
}

/** The foreign keys among the given schemas' tables, from the server. */
export async function readForeignKeys(
  live: SourceConnection,
  schemas: readonly string[],
): Promise<ForeignKeyGraph> {
  const graph = new Map<string, Set<string>>();
  if (schemas.length === 0) return graph;
  const rows = await live.query<{
    TABLE_SCHEMA: string;
    TABLE_NAME: string;
    REFERENCED_TABLE_SCHEMA: string;
    REFERENCED_TABLE_NAME: string;
  }>(
    `SELECT DISTINCT k.TABLE_SCHEMA, k.TABLE_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME
       FROM information_schema.REFERENTIAL_CONSTRAINTS r
       JOIN information_schema.KEY_COLUMN_USAGE k
         ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME
        AND k.TABLE_NAME = r.TABLE_NAME
      WHERE k.REFERENCED_TABLE_NAME IS NOT NULL
        AND (k.TABLE_SCHEMA IN (${schemas.map(() => '?').join(', ')})
          OR k.REFERENCED_TABLE_SCHEMA IN (${schemas.map(() => '?').join(', ')}))`,
    [...schemas, ...schemas],
  );
  for (const r of rows) {
    const child = tableName(r.TABLE_SCHEMA, r.TABLE_NAME);
    const parent = tableName(r.REFERENCED_TABLE_SCHEMA, r.REFERENCED_TABLE_NAME);
    if (child === parent) continue;
    let parents = graph.get(child);
    if (parents === undefined) graph.set(child, (parents = new Set()));
    parents.add(parent);
  }
  return graph;
}
