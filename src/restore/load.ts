import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool, lastLines } from '../backup/child.js';
import { clientGroup, writeOptionFile, type ClientOptions } from '../backup/option-file.js';
import type { Logger } from '../log/logger.js';
import { RestoreStepError } from './errors.js';

/**
 * Loading a fetched mydumper backup into the target with myloader.
 *
 * Schema and table filters are applied to the fetched directory (files of other schemas and tables are removed
 * before myloader sees it), since myloader 0.10 has no filter of its own; a renamed schema is loaded by a myloader
 * run of its own (`--source-db old --database new`). The password reaches myloader through a 0600 option file.
 */
export interface LoadFilters {
  /** Only these schemas (null: every schema in the backup). */
  readonly schemas: readonly string[] | null;
  /** Only these `schema.table` (null: every table of the chosen schemas). */
  readonly tables: readonly string[] | null;
}

/** The schema (and table, for table files) a mydumper output file belongs to; undefined for other files. */
export function dumpFileObject(name: string): { schema: string; table: string | null } | undefined {
  if (name === 'metadata' || name === 'manifest.json' || name.startsWith('metadata.')) return undefined;
  const base = name.replace(/\.(gz|zst)$/, '');
  let m = /^(.+)-schema-create\.sql$/.exec(base);
  if (m !== null) return { schema: m[1] as string, table: null };
  m = /^(.+)-schema-post\.sql$/.exec(base);
  if (m !== null) return { schema: m[1] as string, table: null };
  // schema.table-schema.sql, -schema-view.sql, -schema-triggers.sql, schema.table.sql, schema.table.00001.sql
  m = /^([^.]+)\.(.+?)(?:-schema(?:-view|-triggers)?)?(?:\.\d+)?\.sql$/.exec(base);
  if (m !== null) return { schema: m[1] as string, table: m[2] as string };
  return undefined;
}

/** The schemas a fetched backup holds. */
export async function dumpSchemas(dir: string): Promise<string[]> {
  const out = new Set<string>();
  for (const f of await readdir(dir)) {
    const o = dumpFileObject(f);
    if (o !== undefined) out.add(o.schema);
  }
  return [...out].sort();
}

export function inScope(filters: LoadFilters, schema: string, table: string | null): boolean {
  if (filters.tables !== null) {
    if (table === null) return filters.tables.some((t) => t.startsWith(`${schema}.`));
    return filters.tables.includes(`${schema}.${table}`);
  }
  return filters.schemas === null || filters.schemas.includes(schema);
}

/** Removes the files of objects outside the filters; returns the bytes kept is not needed, only the count removed. */
export async function applyFilters(dir: string, filters: LoadFilters): Promise<number> {
  if (filters.schemas === null && filters.tables === null) return 0;
  let removed = 0;
  for (const f of await readdir(dir)) {
    const o = dumpFileObject(f);
    if (o === undefined || inScope(filters, o.schema, o.table)) continue;
    await rm(join(dir, f), { force: true });
    removed++;
  }
  return removed;
}

export interface MyloaderOptions {
  readonly dir: string;
  readonly connection: ClientOptions;
  readonly threads: number;
  /** Drop tables that exist already (`--force`). */
  readonly overwrite: boolean;
  readonly renames: ReadonlyMap<string, string>;
  readonly schemas: readonly string[];
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly bin?: string;
}

/** Runs myloader once for the schemas kept under their name, and once per renamed schema. */
export async function runMyloader(options: MyloaderOptions): Promise<void> {
  const optionFile = await writeOptionFile({ client: clientGroup(options.connection) });
  try {
    const base = [
      `--defaults-file=${optionFile.path}`,
      `--directory=${options.dir}`,
      `--threads=${options.threads}`,
      '--verbose=2',
      ...(options.overwrite ? ['--overwrite-tables'] : []),
    ];
    const renamed = options.schemas.filter((s) => options.renames.has(s));
    const runs: string[][] = [];
    if (renamed.length === 0) runs.push(base);
    else {
      // myloader restores either every schema or one (--source-db): with a rename, each schema gets its own run.
      for (const s of options.schemas) {
        const to = options.renames.get(s);
        runs.push([...base, `--source-db=${s}`, ...(to !== undefined ? [`--database=${to}`] : [])]);
      }
    }
    for (const args of runs) {
      const result = await runTool(options.bin ?? 'myloader', args, {
        ...(options.logger !== undefined ? { logger: options.logger } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      if (result.code !== 0 || /\*\* \(myloader:\d+\): CRITICAL \*\*/.test(result.output)) {
        throw new RestoreStepError(
          `Cannot load the backup with myloader: exited with ${result.code ?? result.signal}: ${lastLines(result.output)}`,
          'internal',
          { fields: { step: 'load', exitCode: result.code } },
        );
      }
    }
  } finally {
    await optionFile.dispose();
  }
}
