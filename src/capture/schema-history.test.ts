import { describe, expect, it } from 'vitest';
import type { TableSchemaEntry } from '../store/change-index.js';
import { collationIdFor, parseEnumMembers, SchemaHistory } from './schema-history.js';

const entry = (columns: string[], pk: string[]): TableSchemaEntry => ({
  schema: 'app',
  table: 't',
  validFrom: { file: 'binlog.000001', position: 4, gtidSet: null },
  columns: columns.map((name) => ({
    name,
    type: name === 'e' ? "enum('a','it''s')" : name === 'b' ? 'varbinary(4)' : 'varchar(10)',
    unsigned: false,
    charset: name === 'b' ? null : 'utf8mb4',
    collation: name === 'b' ? null : 'utf8mb4_general_ci',
    nullable: true,
  })),
  primaryKey: pk,
});

describe('SchemaHistory', () => {
  it('resolves names only for a table map with the same column count', () => {
    const h = new SchemaHistory();
    h.apply(entry(['id', 'e', 'b'], ['id']));
    const resolve = h.resolver();
    const cols = (n: number) =>
      Array.from({ length: n }, (_, index) => ({
        index,
        name: `@${index + 1}`,
        type: 15,
        meta: 0,
        nullable: true,
        unsigned: false,
        flavor: 'mariadb' as const,
      }));
    const info = resolve({ schema: 'app', table: 't', tableId: 1, columns: cols(3) });
    expect(info?.map((c) => c.name)).toEqual(['id', 'e', 'b']);
    expect(info?.[0]?.primaryKey).toBe(true);
    expect(info?.[1]?.enumValues).toEqual(['a', "it's"]);
    expect(info?.[2]?.collation).toBe(63);
    expect(resolve({ schema: 'app', table: 't', tableId: 1, columns: cols(4) })).toBeUndefined();
    h.apply({ ...entry([], []), columns: [] });
    expect(h.get('app', 't')).toBeUndefined();
  });

  it('maps a character set to a collation of that set', () => {
    expect(
      collationIdFor({
        name: 'x',
        type: 'varchar(3)',
        unsigned: false,
        charset: 'latin1',
        collation: 'latin1_swedish_ci',
        nullable: true,
      }),
    ).toBe(5);
    expect(
      collationIdFor({
        name: 'x',
        type: 'int(11)',
        unsigned: false,
        charset: null,
        collation: null,
        nullable: true,
      }),
    ).toBeUndefined();
  });

  it('parses enum members with doubled quotes', () => {
    expect(parseEnumMembers("set('x','y''z','')")).toEqual(['x', "y'z", '']);
  });
});
