import { CaptureFilterError } from './errors.js';

/**
 * Which tables capture records, from `--schemas a,b` and `--tables s.t,...`. A table is captured when its schema is
 * listed in `schemas` or the table is listed in `tables`; with neither flag every table is captured. Names compare
 * exactly (MySQL table names are case-sensitive on Linux with lower_case_table_names=0).
 *
 * Filtering drops row changes only: a transaction whose rows are all filtered out still advances the checkpoint.
 */
export interface TableFilter {
  /** True when every table is captured. */
  readonly all: boolean;
  readonly schemas: ReadonlySet<string>;
  /** `schema.table` entries. */
  readonly tables: ReadonlySet<string>;
  matches(schema: string, table: string): boolean;
  /** Whether anything of the schema can match (for DDL without a parsed table). */
  matchesSchema(schema: string): boolean;
}

/** Schemas whose changes are the server's own bookkeeping, never user data. */
export const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set([
  'mysql',
  'information_schema',
  'performance_schema',
  'sys',
]);

export function parseTableFilter(
  schemas: readonly string[] | undefined,
  tables: readonly string[] | undefined,
): TableFilter {
  const schemaSet = new Set<string>();
  for (const s of schemas ?? []) {
    if (s === '' || s.includes('.') || /\s/.test(s)) {
      throw new CaptureFilterError(
        `Cannot use --schemas entry "${s}": expected a schema name without dots or spaces, e.g. --schemas app,billing`,
        { fields: { schema: s } },
      );
    }
    schemaSet.add(s);
  }
  const tableSet = new Set<string>();
  for (const t of tables ?? []) {
    const dot = t.indexOf('.');
    if (dot <= 0 || dot === t.length - 1 || t.indexOf('.', dot + 1) !== -1 || /\s/.test(t)) {
      throw new CaptureFilterError(
        `Cannot use --tables entry "${t}": expected schema.table, e.g. --tables app.users,app.orders`,
        { fields: { table: t } },
      );
    }
    tableSet.add(t);
  }
  const all = schemaSet.size === 0 && tableSet.size === 0;
  const tableSchemas = new Set([...tableSet].map((t) => t.slice(0, t.indexOf('.'))));
  return Object.freeze({
    all,
    schemas: schemaSet,
    tables: tableSet,
    matches(schema: string, table: string): boolean {
      return all || schemaSet.has(schema) || tableSet.has(`${schema}.${table}`);
    },
    matchesSchema(schema: string): boolean {
      return all || schemaSet.has(schema) || tableSchemas.has(schema);
    },
  });
}
