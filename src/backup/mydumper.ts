import { readdir } from 'node:fs/promises';
import type { Logger } from '../log/logger.js';
import { lastLines, runTool } from './child.js';
import { DumpFailedError, DumpOptionsError, DumpToolError } from './errors.js';
import type { Compression } from './manifest.js';
import { readMydumperMetadata, type DumpMetadata } from './mydumper-metadata.js';
import { clientGroup, writeOptionFile, type ClientOptions } from './option-file.js';

/**
 * The mydumper driver: probes the version, chooses flags that this version accepts, passes the password in an
 * option file, runs it into a directory dbtrail created, and reads the coordinates back.
 *
 * Flag history that matters here (mydumper's docs and release notes):
 * - `--defaults-file` exists in every version we support; from 0.15 mydumper also reads /etc/mydumper.cnf by
 *   default and offers `--defaults-extra-file`, loaded after it, which is the one to use so the system file keeps
 *   applying. Either way the file given becomes the client library's defaults file, so the `[client]` group
 *   carries the credentials.
 * - Compression: up to 0.14 `-c/--compress` takes no value and compresses with gzip (zstd only in builds that say
 *   "with ZSTD" in `--version`); from 0.15.1 `--compress=GZIP|ZSTD`. We pass the `=` form from 0.15, since glib
 *   only accepts an optional value attached with `=`.
 * - Locking: without a locking flag every version takes a consistent snapshot and holds the global read lock
 *   until its non-transactional tables are dumped, which is what a backup with exact coordinates needs.
 *   `--trx-consistency-only` (release the lock at once, coordinates wrong if non-InnoDB tables change) exists up
 *   to 0.18, is rejected as deprecated from 0.19 (`--trx-tables` replaced it, with a changing argument syntax),
 *   and is removed in 0.21; we pass it only on request and only below 0.19.
 * - Filters: `--tables-list` without `--database` hangs in 0.10.0 (seen with Debian's build), and `--database`
 *   took a single name before it took a list; `--regex` over `db.table` works the same in every version, so all
 *   filters become one anchored regex.
 * - 0.20.1 to 0.20.2-4 write no binlog coordinates at all; we refuse them before dumping.
 */
export interface MydumperVersion {
  readonly text: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The package build after the dash (`0.16.3-6` -> 6); 0 when absent. */
  readonly build: number;
  /** The build links zstd instead of zlib (0.12-0.14 packages named "with ZSTD"). */
  readonly zstdBuild: boolean;
}

export function parseMydumperVersion(text: string): MydumperVersion {
  const m = /mydumper\s*v?(\d+)\.(\d+)\.(\d+)(?:-(\d+))?/i.exec(text);
  if (m === null) {
    throw new DumpToolError(
      `Cannot read the mydumper version: expected "mydumper X.Y.Z", got "${text.trim().slice(0, 120)}"`,
    );
  }
  return {
    text: text.trim().split('\n')[0] ?? '',
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    build: m[4] === undefined ? 0 : Number(m[4]),
    zstdBuild: /with\s+ZSTD/i.test(text),
  };
}

export function versionString(v: MydumperVersion): string {
  return `${v.major}.${v.minor}.${v.patch}${v.build > 0 ? `-${v.build}` : ''}`;
}

/** Compares against `[major, minor, patch, build]`: negative when older, 0 when equal, positive when newer. */
export function compareVersion(
  v: MydumperVersion,
  other: readonly [number, number, number, number?],
): number {
  const a = [v.major, v.minor, v.patch, v.build];
  const b = [other[0], other[1], other[2], other[3] ?? 0];
  for (let i = 0; i < 4; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

export interface DumpFilters {
  /** Schemas to dump; null for every user schema. */
  readonly schemas: readonly string[] | null;
  /** `schema.table` names to dump; null for all tables of the chosen schemas. */
  readonly tables: readonly string[] | null;
}

/** Schemas that belong to the server, never to a logical backup of the application. */
export const SYSTEM_SCHEMAS = ['mysql', 'sys', 'information_schema', 'performance_schema'] as const;

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** Splits `schema.table`; a name with a dot in it cannot be told apart, so it must be quoted with backticks. */
export function parseTableName(text: string): TableName {
  const quoted = /^`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`$/.exec(text);
  if (quoted !== null) {
    return {
      schema: (quoted[1] as string).replace(/``/g, '`'),
      table: (quoted[2] as string).replace(/``/g, '`'),
    };
  }
  const parts = text.split('.');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new DumpOptionsError(
      `Cannot use table "${text}": expected schema.table (quote names that contain dots: \`my.db\`.\`t\`)`,
      { fields: { table: text } },
    );
  }
  return { schema: parts[0] as string, table: parts[1] as string };
}

/** Checks filters once: tables must name a schema, and lie inside `schemas` when both are given. */
export function normaliseFilters(filters: DumpFilters): DumpFilters {
  const schemas = filters.schemas === null ? null : [...new Set(filters.schemas)];
  if (schemas !== null && schemas.length === 0)
    throw new DumpOptionsError('Cannot dump: the schema list is empty');
  for (const s of schemas ?? []) {
    if (s.trim() === '') throw new DumpOptionsError('Cannot dump: a schema name is empty');
  }
  let tables: string[] | null = null;
  if (filters.tables !== null) {
    if (filters.tables.length === 0) throw new DumpOptionsError('Cannot dump: the table list is empty');
    tables = [];
    for (const t of filters.tables) {
      const name = parseTableName(t);
      if (schemas !== null && !schemas.includes(name.schema)) {
        throw new DumpOptionsError(
          `Cannot dump table "${t}": its schema "${name.schema}" is not among --schemas ${schemas.join(',')}`,
          { fields: { table: t } },
        );
      }
      tables.push(`${name.schema}.${name.table}`);
    }
  }
  return { schemas, tables };
}

/** PCRE-escapes ASCII punctuation; other characters are literal in a PCRE pattern. */
function escapeRegex(text: string): string {
  return text.replace(/[\x20-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7e]/g, (c) => `\\${c}`);
}

/** The one `--regex` over `db.table` that expresses the filters. */
export function filterRegex(filters: DumpFilters): string {
  if (filters.tables !== null) {
    const alts = filters.tables.map((t) => {
      const n = parseTableName(t);
      return `${escapeRegex(n.schema)}\\.${escapeRegex(n.table)}`;
    });
    return `^(${alts.join('|')})$`;
  }
  if (filters.schemas !== null) return `^(${filters.schemas.map(escapeRegex).join('|')})\\.`;
  return `^(?!(${SYSTEM_SCHEMAS.join('|')})\\.)`;
}

/** Size in MB after which mydumper starts a new data file for the same table. */
export const CHUNK_FILESIZE_MB = 32;

export interface MydumperPlanInput {
  readonly version: MydumperVersion;
  readonly optionFile: string;
  readonly outputDir: string;
  readonly threads: number;
  readonly filters: DumpFilters;
  readonly compression: Compression;
  /** Release the global lock as soon as the snapshot is taken (only right when every table is transactional). */
  readonly transactionalOnly?: boolean;
}

/** Refuses versions that cannot give a backup with coordinates. */
export function checkMydumperVersion(v: MydumperVersion): void {
  if (compareVersion(v, [0, 9, 0]) < 0) {
    throw new DumpToolError(
      `Cannot use mydumper ${versionString(v)}: dbtrail needs 0.9 or later`,
      'unsupported',
      {
        fields: { version: v.text },
      },
    );
  }
  if (compareVersion(v, [0, 20, 1]) >= 0 && compareVersion(v, [0, 20, 2, 4]) <= 0) {
    throw new DumpToolError(
      `Cannot use mydumper ${versionString(v)}: versions 0.20.1 to 0.20.2-4 write no binlog coordinates into the metadata file; upgrade to 0.20.2-5 or later`,
      'unsupported',
      { fields: { version: v.text } },
    );
  }
}

/** The argv for one dump; pure, so every version's choice is unit-tested. Never contains a secret. */
export function mydumperArgs(input: MydumperPlanInput): string[] {
  const v = input.version;
  checkMydumperVersion(v);
  if (!Number.isInteger(input.threads) || input.threads < 1 || input.threads > 256) {
    throw new DumpOptionsError(
      `Cannot dump with ${input.threads} threads: expected a whole number from 1 to 256`,
    );
  }
  const modern = compareVersion(v, [0, 15, 0]) >= 0;
  const args: string[] = [];
  args.push(modern ? `--defaults-extra-file=${input.optionFile}` : `--defaults-file=${input.optionFile}`);
  args.push(`--outputdir=${input.outputDir}`);
  // mydumper 0.20+ refuses fewer than 2 threads; 1 is still a valid request on older versions.
  const threads = compareVersion(v, [0, 20, 0]) >= 0 ? Math.max(2, input.threads) : input.threads;
  args.push(`--threads=${threads}`);
  args.push(`--regex=${filterRegex(input.filters)}`);
  args.push('--triggers', '--events', '--routines');
  // Data files of at most this size: each completes (is closed) early in the dump, so that it can be hashed,
  // encrypted and uploaded while mydumper writes the next ones; myloader also restores them in parallel.
  args.push(`--chunk-filesize=${CHUNK_FILESIZE_MB}`);
  args.push('--verbose=3');
  if (input.transactionalOnly === true && compareVersion(v, [0, 19, 0]) < 0)
    args.push('--trx-consistency-only');
  switch (input.compression) {
    case 'none':
      break;
    case 'gzip':
      if (modern) args.push('--compress=GZIP');
      else if (v.zstdBuild) {
        throw new DumpToolError(
          `Cannot compress with gzip: this mydumper build (${v.text}) compresses only with zstd`,
        );
      } else args.push('--compress');
      break;
    case 'zstd':
      if (modern) args.push('--compress=ZSTD');
      else if (v.zstdBuild) args.push('--compress');
      else {
        throw new DumpToolError(
          `Cannot compress with zstd: mydumper ${versionString(v)} before 0.15 does zstd only in builds "with ZSTD"; use gzip or none`,
        );
      }
      break;
  }
  return args;
}

export async function probeMydumper(bin = 'mydumper', signal?: AbortSignal): Promise<MydumperVersion> {
  const result = await runTool(bin, ['--version'], signal === undefined ? {} : { signal });
  if (result.code !== 0) {
    throw new DumpToolError(
      `Cannot run ${bin} --version: exited with ${result.code ?? result.signal}: ${lastLines(result.output)}`,
    );
  }
  return parseMydumperVersion(result.output);
}

export interface MydumperRunOptions {
  readonly bin?: string;
  readonly connection: ClientOptions;
  /** An empty directory dbtrail created for this dump. */
  readonly outputDir: string;
  readonly threads: number;
  readonly filters: DumpFilters;
  readonly compression: Compression;
  readonly transactionalOnly?: boolean;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** Called with mydumper's process id once it runs. */
  readonly onSpawn?: (pid: number) => void;
}

export interface MydumperRun {
  readonly version: MydumperVersion;
  readonly metadata: DumpMetadata;
  /** What the files actually are, read from their names. */
  readonly compression: Compression;
}

export async function runMydumper(options: MydumperRunOptions): Promise<MydumperRun> {
  const bin = options.bin ?? 'mydumper';
  const version = await probeMydumper(bin, options.signal);
  const optionFile = await writeOptionFile({ client: clientGroup(options.connection) });
  try {
    const args = mydumperArgs({
      version,
      optionFile: optionFile.path,
      outputDir: options.outputDir,
      threads: options.threads,
      filters: options.filters,
      compression: options.compression,
      ...(options.transactionalOnly !== undefined ? { transactionalOnly: options.transactionalOnly } : {}),
    });
    options.logger?.info({ tool: 'mydumper', version: versionString(version), args }, 'Running mydumper');
    const result = await runTool(bin, args, {
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.onSpawn !== undefined ? { onSpawn: options.onSpawn } : {}),
    });
    if (result.code !== 0) {
      throw new DumpFailedError(
        `Cannot dump with mydumper ${versionString(version)}: exited with ${result.code ?? result.signal}: ${lastLines(result.output)}`,
        { fields: { dir: options.outputDir, exitCode: result.code } },
      );
    }
    // mydumper 0.10 logs a failed table and still exits 0 in some paths; its log says so.
    if (/\*\* \(mydumper:\d+\): CRITICAL \*\*/.test(result.output)) {
      throw new DumpFailedError(
        `Cannot accept the mydumper dump: it logged a critical error: ${lastLines(result.output)}`,
        {
          fields: { dir: options.outputDir },
        },
      );
    }
    const metadata = await readMydumperMetadata(options.outputDir);
    const compression = await detectCompression(options.outputDir, options.compression);
    return { version, metadata, compression };
  } finally {
    await optionFile.dispose();
  }
}

/** The compression the files really have: `.gz` or `.zst` data files, or what was asked when there are none. */
export async function detectCompression(dir: string, requested: Compression): Promise<Compression> {
  const names = await readdir(dir);
  if (names.some((n) => n.endsWith('.zst'))) return 'zstd';
  if (names.some((n) => n.endsWith('.gz'))) return 'gzip';
  return names.some((n) => n.endsWith('.sql')) ? 'none' : requested;
}
