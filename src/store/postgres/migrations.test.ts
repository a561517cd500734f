import { describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS } from '../sqlite/migrations.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

describe('PostgreSQL migrations', () => {
  it('have the versions and names of the SQLite ones, so both backends mean the same by version N', () => {
    // A new SQLite migration needs its PostgreSQL twin (and migrate-state copies its tables).
    expect(POSTGRES_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(
      SQLITE_MIGRATIONS.map((m) => [m.version, m.name]),
    );
  });
});
