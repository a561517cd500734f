import { describe, expect, it } from 'vitest';
import { renameInStatement } from './applier.js';
import { dumpFileObject, inScope } from './load.js';
import { isoUs, mariadbGtidPos, parseGtidArg, parsePositionArg, parseRenameArgs } from './target.js';

describe('restore arguments', () => {
  it('parses file:pos and refuses anything else, naming the flag', () => {
    expect(parsePositionArg('to-position', 'binlog.000042:1234')).toEqual({
      file: 'binlog.000042',
      position: 1234,
    });
    for (const bad of ['binlog.000042', 'binlog:12', 'binlog.000001:2', ':5', 'a/b.000001:9']) {
      expect(() => parsePositionArg('to-position', bad)).toThrow(/--to-position/);
    }
  });

  it('accepts GTIDs of both flavours', () => {
    expect(parseGtidArg('to-gtid', '0-1-42')).toBe('0-1-42');
    expect(parseGtidArg('to-gtid', '3E11FA47-71CA-11E1-9E33-C80AA9429562:23')).toBe(
      '3E11FA47-71CA-11E1-9E33-C80AA9429562:23',
    );
    expect(() => parseGtidArg('before-gtid', '0-1')).toThrow(/--before-gtid "0-1": expected one GTID/);
  });

  it('parses renames and refuses a schema renamed twice', () => {
    expect(parseRenameArgs('rename-schema', ['app:app_copy'])).toEqual([{ from: 'app', to: 'app_copy' }]);
    expect(() => parseRenameArgs('rename-schema', ['a:b', 'a:c'])).toThrow(/renamed twice/);
    expect(() => parseRenameArgs('rename-schema', ['a.b:c'])).toThrow(/expected old:new/);
  });

  it('reads MariaDB GTID positions per domain, exactly', () => {
    expect(mariadbGtidPos('0-1-18446744073709551615,2-5-7')).toEqual(
      new Map([
        [0, 18446744073709551615n],
        [2, 7n],
      ]),
    );
    expect(mariadbGtidPos('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5')).toBeUndefined();
  });

  it('prints microseconds exactly', () => {
    expect(isoUs(1_700_000_000_123_456n)).toBe('2023-11-14T22:13:20.123456Z');
  });
});

describe('schema renames in DDL', () => {
  const renames = new Map([['app', 'app_copy']]);
  it('renames qualifiers, quoted or not, and leaves strings, bare names and other schemas alone', () => {
    expect(renameInStatement('ALTER TABLE app.t ADD c INT', renames)).toBe(
      'ALTER TABLE `app_copy`.t ADD c INT',
    );
    expect(renameInStatement('DROP TABLE `app`.`t`, other.app', renames)).toBe(
      'DROP TABLE `app_copy`.`t`, other.app',
    );
    expect(renameInStatement("UPDATE t SET s = 'app.x' WHERE app = 1", renames)).toBe(
      "UPDATE t SET s = 'app.x' WHERE app = 1",
    );
    expect(renameInStatement('CREATE TABLE t (id INT)', renames)).toBe('CREATE TABLE t (id INT)');
  });
});

describe('mydumper file names', () => {
  it('maps each file to its schema and table', () => {
    expect(dumpFileObject('app-schema-create.sql')).toEqual({ schema: 'app', table: null });
    expect(dumpFileObject('app.orders-schema.sql.zst')).toEqual({ schema: 'app', table: 'orders' });
    expect(dumpFileObject('app.orders.00001.sql.gz')).toEqual({ schema: 'app', table: 'orders' });
    expect(dumpFileObject('app.orders.sql')).toEqual({ schema: 'app', table: 'orders' });
    expect(dumpFileObject('app.v-schema-view.sql')).toEqual({ schema: 'app', table: 'v' });
    expect(dumpFileObject('metadata')).toBeUndefined();
  });

  it('keeps a schema whose table is listed, and only that table', () => {
    const f = { schemas: null, tables: ['app.orders'] };
    expect(inScope(f, 'app', null)).toBe(true);
    expect(inScope(f, 'app', 'orders')).toBe(true);
    expect(inScope(f, 'app', 'users')).toBe(false);
    expect(inScope(f, 'other', null)).toBe(false);
  });
});

describe('DDL in the scope of --schemas and --tables', () => {
  it('keeps DDL that names a restored table, qualified or under its default schema', async () => {
    const { ddlInScope } = await import('./execute.js');
    const tables = { schemas: null, tables: ['app.acct'] };
    expect(ddlInScope(tables, { schema: null, statement: 'ALTER TABLE app.acct ADD c INT' })).toBe(true);
    expect(ddlInScope(tables, { schema: null, statement: 'ALTER TABLE `app`.`acct` ADD c INT' })).toBe(true);
    expect(ddlInScope(tables, { schema: 'app', statement: 'ALTER TABLE acct ADD c INT' })).toBe(true);
    expect(ddlInScope(tables, { schema: null, statement: 'ALTER TABLE app.acct2 ADD c INT' })).toBe(false);
    expect(ddlInScope(tables, { schema: 'app', statement: 'ALTER TABLE comp ADD c INT' })).toBe(false);
    const schemas = { schemas: ['app'], tables: null };
    expect(ddlInScope(schemas, { schema: null, statement: 'DROP TABLE app.zoo' })).toBe(true);
    expect(ddlInScope(schemas, { schema: 'other', statement: 'DROP TABLE zoo' })).toBe(false);
    expect(ddlInScope(schemas, { schema: null, statement: 'DROP TABLE happ.zoo' })).toBe(false);
  });
});
