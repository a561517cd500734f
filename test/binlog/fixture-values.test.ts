import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MARIADB_TYPES_ROW_1 } from './fixture-expectations.js';
import { describe, expect, it } from 'vitest';
import type { RowImage } from '../../src/binlog/events.js';
import { decodeBinlogFile } from './oracle-helpers.js';

/**
 * Column values of real binlog files written by MySQL 8.0-9.x and MariaDB 10.11 (see the fixtures' README): the
 * rows those servers are known to have written, decoded to the canonical value encoding.
 */
const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'binlog');
const present = existsSync(FIXTURES);

async function rows(
  file: string,
  table: string,
): Promise<{ op: string; before: RowImage | null; after: RowImage | null }[]> {
  const events = await decodeBinlogFile(join(FIXTURES, file));
  const out: { op: string; before: RowImage | null; after: RowImage | null }[] = [];
  for (const e of events) {
    if (e.body.kind === 'rows' && e.body.table === table) {
      for (const r of e.body.rows) out.push({ op: e.body.op, before: r.before, after: r.after });
    }
  }
  return out;
}

describe.skipIf(!present)(`fixture values (skipped: ${FIXTURES} is absent)`, () => {
  it('MariaDB 10.11 t.types: every type at its edge', async () => {
    const changes = await rows('mariadb/mariadb-10.11-types.000001', 'types');
    expect(changes.map((c) => c.op)).toEqual(['insert', 'update', 'delete', 'insert', 'insert']);
    expect(changes[0]?.after).toMatchObject(MARIADB_TYPES_ROW_1);
    expect(changes[1]?.after).toMatchObject({ dec2: '99999999.99', vc: 'changed' });
    expect(changes[3]?.after).toMatchObject({ id: '2', yr: '2024', vc: 'x', ti: null });
    expect(changes[4]?.after).toMatchObject({ id: '3', vc: 'héllo 🐬' });
  });

  it('MySQL 9.0 JSON opaque values print as MySQL prints them', async () => {
    const changes = await rows('mysql/json-opaque.binlog', 'test');
    expect(changes.map((c) => c.after?.a)).toEqual([
      '{"a": "base64:type15:VQ=="}',
      '{"b": "2012-03-18"}',
      '{"c": "2012-03-18 11:30:45.000000"}',
      '{"c": "87:31:46.654321"}',
      '{"d": 123.456}',
      '{"e": 9.00}',
      '{"e": [0, 1, true, false]}',
      '{"e": null}',
    ]);
  });

  it('MySQL 8.0 JSON documents and the TIME2 hour above 255', async () => {
    const json = await rows('mysql/json.binlog.000001', 't');
    expect(json[0]?.after).toEqual({
      '@1': '1',
      '@2': '{"age": 24, "data": "xxxxxxxxxx", "name": "Joe"}',
      '@3': 'Joe',
      '@4': '24',
    });
    const time = await rows('mysql/time_issue.000001', 't');
    expect(time.map((c) => c.after)).toEqual([{ '@1': '-507:48:27' }]);
  });

  it('MySQL BIT, CHAR/VARCHAR/ENUM/SET, DECIMAL and VECTOR', async () => {
    expect((await rows('mysql/mysql_type_bit.000001', 'foo'))[0]?.after).toEqual({
      a: { hex: '04' },
      b: 'foo',
      c: { hex: '20' },
    });
    const ess = await rows('mysql/mysql-enum-string-set.000001', 't');
    expect(ess[1]?.after).toMatchObject({ f1: 'field1', f2: 'field_2', f3: 'variant2', f4: 'two,four' });
    expect(ess[0]?.after).toMatchObject({ f3: 'var1', f4: 'one,three', f5: '0123456789' });
    expect((await rows('mysql/binlog_transaction_with_GTID_TAG.000001', 'orders'))[0]?.after).toEqual({
      '@1': '3',
      '@2': '100',
      '@3': '250.00',
    });
    const vectors = await rows('mysql/vector.binlog', 'foo');
    // VECTOR(3) [1.1, 2.2, 3.3] as little-endian float32.
    expect(vectors[0]?.after).toEqual({ id: '1', vector_column: { hex: 'CDCC8C3FCDCC0C4033335340' } });
  });
});
