import { describe, expect, it } from 'vitest';
import { SchemaVersionError } from './errors.js';
import { checkMigrationList, pendingMigrations, type Migration } from './migration.js';

const known: readonly Migration[] = [
  { version: 1, name: 'initial', sql: 'a' },
  { version: 2, name: 'control_plane', sql: 'b' },
  { version: 3, name: 'agents', sql: 'c' },
];

describe('pendingMigrations', () => {
  it('runs everything on a fresh database and nothing on a current one', () => {
    expect(pendingMigrations(known, []).map((m) => m.version)).toEqual([1, 2, 3]);
    expect(pendingMigrations(known, known)).toEqual([]);
  });

  it('continues an older database from where it stopped, up to a target', () => {
    const applied = [{ version: 1, name: 'initial' }];
    expect(pendingMigrations(known, applied).map((m) => m.name)).toEqual(['control_plane', 'agents']);
    expect(pendingMigrations(known, applied, 2).map((m) => m.name)).toEqual(['control_plane']);
    expect(pendingMigrations(known, applied, 1)).toEqual([]);
    expect(() => pendingMigrations(known, applied, 4)).toThrow(RangeError);
  });

  it('refuses a database from a newer dbtrail', () => {
    const applied = [...known, { version: 4, name: 'future' }];
    expect(() => pendingMigrations(known, applied)).toThrow(SchemaVersionError);
    expect(() => pendingMigrations(known, applied)).toThrow(
      /schema version 4 \("future"\), newer than this dbtrail knows \(3\)/,
    );
  });

  it('refuses a history that disagrees with this build', () => {
    expect(() => pendingMigrations(known, [{ version: 1, name: 'other' }])).toThrow(
      'Cannot use the state database: its migration 1 is "other", this dbtrail expects "initial"',
    );
    expect(() => pendingMigrations(known, [{ version: 2, name: 'control_plane' }])).toThrow(
      /migration 1 is missing/,
    );
  });
});

describe('checkMigrationList', () => {
  it('accepts 1..n and rejects holes and repeated names', () => {
    expect(() => checkMigrationList(known)).not.toThrow();
    expect(() => checkMigrationList([known[0]!, known[2]!])).toThrow(/entry 1 has version 3, expected 2/);
    expect(() => checkMigrationList([known[0]!, { version: 2, name: 'initial', sql: '' }])).toThrow(/twice/);
  });
});
