import { describe, expect, it } from 'vitest';
import { DumpOptionsError, DumpToolError } from './errors.js';
import {
  compareVersion,
  filterRegex,
  mydumperArgs,
  normaliseFilters,
  parseMydumperVersion,
  parseTableName,
  type MydumperPlanInput,
} from './mydumper.js';

const V010 = parseMydumperVersion('mydumper 0.10.0, built against MySQL 10.11.14\n');
const V013 = parseMydumperVersion(
  'mydumper0.13.0-1, built against MySQL 5.7.39-42 with SSL support with GZIP',
);
const V014Z = parseMydumperVersion(
  'mydumper0.14.0-3, built against MySQL 8.0.30-22 with SSL support with ZSTD',
);
const V016 = parseMydumperVersion('mydumper v0.16.3-6, built against MySQL 8.0.35-27 with SSL support');
const V019 = parseMydumperVersion('mydumper v0.19.3-3, built against MySQL 8.0.42-33 with SSL support');
const V0201 = parseMydumperVersion('mydumper v0.20.1-2, built against MySQL 8.4.6 with SSL support');
const V0202_4 = parseMydumperVersion('mydumper v0.20.2-4, built against MySQL 8.4.6 with SSL support');
const V0202_5 = parseMydumperVersion('mydumper v0.20.2-5, built against MySQL 8.4.6 with SSL support');

function plan(over: Partial<MydumperPlanInput> & { version: MydumperPlanInput['version'] }): string[] {
  return mydumperArgs({
    optionFile: '/tmp/cred/my.cnf',
    outputDir: '/backups/db1-x',
    threads: 4,
    filters: { schemas: null, tables: null },
    compression: 'none',
    ...over,
  });
}

describe('parseMydumperVersion', () => {
  it('reads every --version style', () => {
    expect([V010.major, V010.minor, V010.patch, V010.build]).toEqual([0, 10, 0, 0]);
    expect([V013.minor, V013.build, V013.zstdBuild]).toEqual([13, 1, false]);
    expect(V014Z.zstdBuild).toBe(true);
    expect([V016.minor, V016.patch, V016.build]).toEqual([16, 3, 6]);
    expect(compareVersion(V0202_5, [0, 20, 2, 4])).toBeGreaterThan(0);
    expect(compareVersion(V010, [0, 15, 0])).toBeLessThan(0);
  });

  it('refuses output that is not a mydumper version', () => {
    expect(() => parseMydumperVersion('myloader: command not found')).toThrow(DumpToolError);
  });
});

describe('mydumperArgs', () => {
  it('uses --defaults-file before 0.15 and --defaults-extra-file from 0.15', () => {
    expect(plan({ version: V010 })).toContain('--defaults-file=/tmp/cred/my.cnf');
    expect(plan({ version: V013 })).toContain('--defaults-file=/tmp/cred/my.cnf');
    expect(plan({ version: V016 })).toContain('--defaults-extra-file=/tmp/cred/my.cnf');
    expect(plan({ version: V019 }).some((a) => a.startsWith('--defaults-file'))).toBe(false);
  });

  it('never puts a password or user on argv', () => {
    for (const version of [V010, V013, V016, V019, V0202_5]) {
      const args = plan({ version, compression: 'gzip' }).join(' ');
      expect(args).not.toMatch(/--password|-p\b|--user|-u\b|--ask-password/);
    }
  });

  it('passes --trx-consistency-only only when asked and only before 0.19', () => {
    expect(plan({ version: V010 })).not.toContain('--trx-consistency-only');
    expect(plan({ version: V010, transactionalOnly: true })).toContain('--trx-consistency-only');
    expect(plan({ version: V016, transactionalOnly: true })).toContain('--trx-consistency-only');
    expect(plan({ version: V019, transactionalOnly: true })).not.toContain('--trx-consistency-only');
    expect(plan({ version: V0202_5, transactionalOnly: true })).not.toContain('--trx-consistency-only');
  });

  it('chooses the compression flag by version and build', () => {
    expect(plan({ version: V010, compression: 'gzip' })).toContain('--compress');
    expect(() => plan({ version: V010, compression: 'zstd' })).toThrow(/zstd/);
    expect(plan({ version: V014Z, compression: 'zstd' })).toContain('--compress');
    expect(() => plan({ version: V014Z, compression: 'gzip' })).toThrow(/only with zstd/);
    expect(plan({ version: V016, compression: 'zstd' })).toContain('--compress=ZSTD');
    expect(plan({ version: V019, compression: 'gzip' })).toContain('--compress=GZIP');
    expect(plan({ version: V019, compression: 'none' }).some((a) => a.startsWith('--compress'))).toBe(false);
  });

  it('refuses the releases that write no coordinates, and very old ones', () => {
    expect(() => plan({ version: V0201 })).toThrow(/0\.20\.1 to 0\.20\.2-4 write no binlog coordinates/);
    expect(() => plan({ version: V0202_4 })).toThrow(DumpToolError);
    expect(plan({ version: V0202_5 })).toContain('--threads=4');
    expect(() => plan({ version: parseMydumperVersion('mydumper 0.6.2') })).toThrow(/0\.9 or later/);
  });

  it('passes threads, output dir and dump objects, raising threads to the 0.20 minimum of 2', () => {
    const args = plan({ version: V010, threads: 1 });
    expect(args).toEqual(
      expect.arrayContaining([
        '--outputdir=/backups/db1-x',
        '--threads=1',
        '--triggers',
        '--events',
        '--routines',
        '--chunk-filesize=32',
      ]),
    );
    expect(plan({ version: V0202_5, threads: 1 })).toContain('--threads=2');
    expect(() => plan({ version: V010, threads: 0 })).toThrow(DumpOptionsError);
  });

  it('expresses every filter as one --regex and never uses --tables-list or --database', () => {
    const args = plan({ version: V010, filters: { schemas: ['app'], tables: null } });
    expect(args).toContain('--regex=^(app)\\.');
    for (const version of [V010, V016, V019]) {
      const all = plan({ version, filters: { schemas: null, tables: ['app.t', 'b2.x'] } }).join(' ');
      expect(all).not.toMatch(/--tables-list|--database|-T |-B /);
    }
  });
});

describe('filters', () => {
  it('excludes the system schemas when nothing is chosen', () => {
    const re = new RegExp(filterRegex({ schemas: null, tables: null }));
    expect(re.test('app.users')).toBe(true);
    expect(re.test('mysql.user')).toBe(false);
    expect(re.test('sys.x')).toBe(false);
    expect(re.test('performance_schema.t')).toBe(false);
    expect(re.test('mysqlapp.t')).toBe(true);
  });

  it('anchors schema and table patterns and escapes punctuation', () => {
    const schemas = new RegExp(filterRegex({ schemas: ['app', 'my-db'], tables: null }));
    expect(schemas.test('app.t')).toBe(true);
    expect(schemas.test('my-db.t')).toBe(true);
    expect(schemas.test('apps.t')).toBe(false);
    expect(schemas.test('xapp.t')).toBe(false);
    const tables = new RegExp(filterRegex({ schemas: null, tables: ['app.t', 'b.x$y'] }));
    expect(tables.test('app.t')).toBe(true);
    expect(tables.test('b.x$y')).toBe(true);
    expect(tables.test('app.t2')).toBe(false);
    expect(tables.test('appxt')).toBe(false);
  });

  it('parses schema.table and backticked names with dots', () => {
    expect(parseTableName('app.users')).toEqual({ schema: 'app', table: 'users' });
    expect(parseTableName('`my.db`.`t``x`')).toEqual({ schema: 'my.db', table: 't`x' });
    expect(() => parseTableName('users')).toThrow(/expected schema\.table/);
    expect(() => parseTableName('a.b.c')).toThrow(DumpOptionsError);
  });

  it('requires tables to lie inside the chosen schemas', () => {
    expect(normaliseFilters({ schemas: ['app'], tables: ['app.t'] })).toEqual({
      schemas: ['app'],
      tables: ['app.t'],
    });
    expect(() => normaliseFilters({ schemas: ['app'], tables: ['other.t'] })).toThrow(
      /not among --schemas app/,
    );
    expect(() => normaliseFilters({ schemas: [], tables: null })).toThrow(/empty/);
  });
});
