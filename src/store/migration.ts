import { SchemaVersionError } from './errors.js';

/**
 * A versioned schema change. Each backend keeps its own list (the SQL differs) with the same versions and names,
 * so a database can move between backends and both agree on what version N means. Versions start at 1 and
 * have no holes; a released migration is never edited, only followed by a new one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** One or more statements, run in one transaction together with the bookkeeping row. */
  readonly sql: string;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
}

/** Throws unless `migrations` is numbered 1..n in order with distinct names (a programming error). */
export function checkMigrationList(migrations: readonly Migration[]): void {
  const names = new Set<string>();
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`Cannot use migration list: entry ${i} has version ${m.version}, expected ${i + 1}`);
    }
    if (names.has(m.name)) throw new Error(`Cannot use migration list: name "${m.name}" appears twice`);
    names.add(m.name);
  });
}

/**
 * The migrations still to run, in order, to bring a database with `applied` to `target` (the newest by
 * default). Refuses a database that a newer dbtrail migrated, or whose history disagrees with this build's.
 */
export function pendingMigrations(
  known: readonly Migration[],
  applied: readonly AppliedMigration[],
  target: number = known.length,
): readonly Migration[] {
  if (!Number.isInteger(target) || target < 0 || target > known.length) {
    throw new RangeError(`Cannot migrate to version ${target}: expected 0 to ${known.length}`);
  }
  const done = new Set<number>();
  for (const a of applied) {
    const mine = known[a.version - 1];
    if (mine === undefined) {
      throw new SchemaVersionError(
        `Cannot use the state database: it has schema version ${a.version} ("${a.name}"), newer than this dbtrail knows (${known.length}); upgrade dbtrail`,
        { fields: { databaseVersion: a.version, knownVersion: known.length } },
      );
    }
    if (mine.name !== a.name) {
      throw new SchemaVersionError(
        `Cannot use the state database: its migration ${a.version} is "${a.name}", this dbtrail expects "${mine.name}"`,
        { fields: { version: a.version, databaseName: a.name, expectedName: mine.name } },
      );
    }
    done.add(a.version);
  }
  for (let v = 1; v <= done.size; v++) {
    if (!done.has(v)) {
      throw new SchemaVersionError(
        `Cannot use the state database: migration ${v} is missing although later ones were applied`,
        { fields: { version: v } },
      );
    }
  }
  return known.slice(0, target).filter((m) => !done.has(m.version));
}
