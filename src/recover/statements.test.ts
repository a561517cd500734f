import { describe, expect, it } from 'vitest';
import type { ChangeRecord, TableColumn } from '../store/change-index.js';
import { columnKind } from './literal.js';
import { groupTransactions, orderForForeignKeys } from './plan.js';
import type { TableShape } from './shapes.js';
import { statementFor, type RecoveryStatement, type StatementOptions } from './statements.js';

function shape(table: string, columns: [string, string][], primaryKey: string[]): TableShape {
  const cols = columns.map(([name, type]) => ({ name, type, kind: columnKind(type) }));
  const definition: TableColumn[] = columns.map(([name, type]) => ({
    name,
    type,
    unsigned: false,
    charset: null,
    collation: null,
    nullable: true,
  }));
  return {
    schema: 'app',
    table,
    columns: cols,
    byName: new Map(cols.map((c) => [c.name, c])),
    primaryKey,
    source: 'history',
    definition,
  };
}

const users = shape(
  'users',
  [
    ['id', 'bigint(20) unsigned'],
    ['name', 'varchar(20)'],
    ['balance', 'decimal(10,2)'],
  ],
  ['id'],
);
const log = shape(
  'log',
  [
    ['msg', 'varchar(20)'],
    ['n', 'int(11)'],
  ],
  [],
);

let seq = 0n;
function change(
  partial: Partial<ChangeRecord> & Pick<ChangeRecord, 'type' | 'before' | 'after'>,
): ChangeRecord {
  seq++;
  return {
    serverId: 's',
    seq,
    gtid: '0-1-5',
    file: 'mysql-bin.000001',
    position: 100,
    commitTimeUs: 1_700_000_000_000_000n,
    threadId: 1,
    schema: 'app',
    table: 'users',
    pk: '["1"]',
    pkColumns: ['id'],
    pkIsFullImage: false,
    changedColumns: null,
    ...partial,
  };
}

const undo: StatementOptions = { direction: 'undo', columns: 'all', onConflict: 'abort', flavor: 'mariadb' };
const forward: StatementOptions = { ...undo, direction: 'forward' };

const A = { id: '18446744073709551615', name: 'ann', balance: '1.50' };
const B = { id: '18446744073709551615', name: 'bob', balance: '1.50' };

describe('statementFor', () => {
  it('undoes an insert with a DELETE matching the whole after image', () => {
    const s = statementFor(change({ type: 'insert', before: null, after: A }), users, undo)!;
    expect(s.verb).toBe('DELETE');
    expect(s.sql).toBe(
      "DELETE FROM `app`.`users` WHERE `id` = 18446744073709551615 AND `name` = _utf8mb4'ann' COLLATE utf8mb4_nopad_bin AND `balance` = 1.50",
    );
    expect(s.expectRows).toEqual([1]);
  });

  it('undoes a delete with an INSERT of the before image', () => {
    const s = statementFor(change({ type: 'delete', before: A, after: null }), users, undo)!;
    expect(s.sql).toBe(
      "INSERT INTO `app`.`users` (`id`, `name`, `balance`) VALUES (18446744073709551615, _utf8mb4'ann', 1.50)",
    );
  });

  it('undoes an update back to the before image, keyed and checked on the after image', () => {
    const c = change({ type: 'update', before: A, after: B, changedColumns: ['name'] });
    expect(statementFor(c, users, undo)!.sql).toBe(
      "UPDATE `app`.`users` SET `id` = 18446744073709551615, `name` = _utf8mb4'ann', `balance` = 1.50 WHERE `id` = 18446744073709551615 AND `name` = _utf8mb4'bob' COLLATE utf8mb4_nopad_bin AND `balance` = 1.50",
    );
    expect(statementFor(c, users, { ...undo, columns: 'changed' })!.sql).toBe(
      "UPDATE `app`.`users` SET `name` = _utf8mb4'ann' WHERE `id` = 18446744073709551615 AND `name` = _utf8mb4'bob' COLLATE utf8mb4_nopad_bin",
    );
    expect(statementFor(c, users, { ...undo, onConflict: 'force' })!.sql).toMatch(
      /WHERE `id` = 18446744073709551615$/,
    );
    expect(statementFor(c, users, forward)!.sql).toBe(
      "UPDATE `app`.`users` SET `id` = 18446744073709551615, `name` = _utf8mb4'bob', `balance` = 1.50 WHERE `id` = 18446744073709551615 AND `name` = _utf8mb4'ann' COLLATE utf8mb4_nopad_bin AND `balance` = 1.50",
    );
  });

  it('keys a primary-key change on the new key and restores the old one', () => {
    const c = change({
      type: 'update',
      before: { ...A, id: '1' },
      after: { ...A, id: '2' },
      changedColumns: ['id'],
    });
    const s = statementFor(c, users, { ...undo, columns: 'changed' })!;
    expect(s.sql).toBe('UPDATE `app`.`users` SET `id` = 1 WHERE `id` = 2');
    expect(s.pkAfter).toBe('["2"]');
  });

  it('matches a table without a key on its full image with LIMIT 1', () => {
    const row = { msg: 'a', n: null };
    const c = change({
      type: 'insert',
      table: 'log',
      before: null,
      after: row,
      pk: '["a",null]',
      pkColumns: ['msg', 'n'],
      pkIsFullImage: true,
    });
    expect(statementFor(c, log, undo)!.sql).toBe(
      "DELETE FROM `app`.`log` WHERE `msg` = _utf8mb4'a' COLLATE utf8mb4_nopad_bin AND `n` IS NULL LIMIT 1",
    );
  });

  it('re-inserts with an upsert under force, accepting one or two affected rows', () => {
    const s = statementFor(change({ type: 'delete', before: A, after: null }), users, {
      ...undo,
      onConflict: 'force',
    })!;
    expect(s.verb).toBe('UPSERT');
    expect(s.sql).toMatch(/ON DUPLICATE KEY UPDATE `name` = _utf8mb4'ann', `balance` = 1.50$/);
    expect(s.expectRows).toEqual([1, 2]);
  });

  it('refuses partial images for undo, naming the change and the missing columns', () => {
    const c = change({
      type: 'update',
      before: { id: '1' },
      after: { id: '1', name: 'x' },
      changedColumns: ['name'],
    });
    expect(() => statementFor(c, users, undo)).toThrow(
      /Cannot generate SQL for change \d+ \(update of app\.users, key \["1"\]\): its after image lacks column balance/,
    );
    // Forward replay can use what a MINIMAL image holds: the key and the changed columns.
    expect(statementFor(c, users, { ...forward, columns: 'changed' })!.sql).toBe(
      "UPDATE `app`.`users` SET `name` = _utf8mb4'x' WHERE `id` = 1",
    );
  });

  it('refuses an image with a column the definition lacks', () => {
    const c = change({ type: 'insert', before: null, after: { ...A, extra: '1' } });
    expect(() => statementFor(c, users, undo)).toThrow(
      /has column extra, which the table's definition \(from schema history\) lacks/,
    );
  });

  it('writes against a renamed schema', () => {
    const s = statementFor(change({ type: 'insert', before: null, after: A }), users, {
      ...forward,
      targetSchema: () => 'copy',
    })!;
    expect(s.sql).toMatch(/^INSERT INTO `copy`\.`users`/);
  });
});

describe('ordering and grouping', () => {
  const st = (table: string, verb: RecoveryStatement['verb']): RecoveryStatement => ({
    seq: 1n,
    schema: 'app',
    table,
    change: 'delete',
    verb,
    sql: `${verb} ${table}`,
    expectRows: [1],
    pk: '[]',
    pkAfter: null,
  });

  it('puts parents before children in runs of inserts, children first in runs of deletes', () => {
    const graph = new Map([
      ['app.orders', new Set(['app.customers'])],
      ['app.lines', new Set(['app.orders'])],
    ]);
    const ins = orderForForeignKeys(
      [
        st('lines', 'INSERT'),
        st('orders', 'INSERT'),
        st('customers', 'INSERT'),
        st('x', 'UPDATE'),
        st('lines', 'INSERT'),
      ],
      graph,
    );
    expect(ins.map((s) => s.sql)).toEqual([
      'INSERT customers',
      'INSERT orders',
      'INSERT lines',
      'UPDATE x',
      'INSERT lines',
    ]);
    const del = orderForForeignKeys(
      [st('customers', 'DELETE'), st('lines', 'DELETE'), st('orders', 'DELETE')],
      graph,
    );
    expect(del.map((s) => s.table)).toEqual(['lines', 'orders', 'customers']);
  });

  it('groups changes by source transaction', () => {
    const a = change({ type: 'insert', before: null, after: A, position: 10 });
    const b = change({ type: 'insert', before: null, after: B, position: 10 });
    const d = change({ type: 'insert', before: null, after: A, position: 20, gtid: '0-1-6' });
    expect(groupTransactions([a, b, d]).map((g) => g.length)).toEqual([2, 1]);
  });
});
