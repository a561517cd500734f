import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import type { MariaDbSandbox } from '../harness/mariadb.js';
import {
  captureHome,
  indexedChanges,
  openIndex,
  serverIds,
  spawnCli,
  waitCaughtUp,
  startSource,
} from './helpers.js';

/**
 * binlog_row_metadata=MINIMAL: table maps carry no column names, signedness or key, so capture decodes each event
 * with the definition valid at its position. ALTER TABLE ADD/DROP/MODIFY COLUMN between changes, captured live:
 * older events keep their old column names and values, newer ones get the new.
 */
describe('stream: schema history with binlog_row_metadata=MINIMAL', () => {
  let db: MariaDbSandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    db = await startSource(['--binlog-row-metadata=MINIMAL']);
    await db.query(
      'CREATE DATABASE app; CREATE TABLE app.m (k1 VARCHAR(5) NOT NULL, a VARCHAR(10), b INT UNSIGNED, k0 INT NOT NULL, PRIMARY KEY (k0, k1))',
    );
    ({ home, env } = await captureHome(db));
  });

  it('decodes every change with the table definition of its position', async () => {
    const run = spawnCli(
      ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'm', '--schemas', 'app'],
      env,
    );
    const step = async (sql: string): Promise<void> => {
      await db.query(sql);
      await waitCaughtUp(home, 'm', db);
    };
    await waitCaughtUp(home, 'm', db);
    await step("INSERT INTO app.m VALUES ('x', 'first', 4294967295, 1)");
    await step('ALTER TABLE app.m ADD COLUMN c VARCHAR(5) AFTER a');
    await step("INSERT INTO app.m VALUES ('y', 'second', 'new', 7, 2)");
    await step('ALTER TABLE app.m DROP COLUMN a');
    await step("UPDATE app.m SET c = 'upd' WHERE k0 = 1");
    await step('ALTER TABLE app.m MODIFY COLUMN b BIGINT UNSIGNED');
    await step("INSERT INTO app.m VALUES ('z', 'third', 18446744073709551615, 3)");
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code, run.stderr()).toBe(0);
    expect(run.stderr()).not.toMatch(/positional column names/);

    const store = await openIndex(home);
    try {
      const changes = await indexedChanges(store, 'm', 'app');
      expect(changes.map((c) => [c.type, c.pkColumns, c.pk, c.before, c.after, c.changedColumns])).toEqual([
        ['insert', ['k0', 'k1'], '["1","x"]', null, { k1: 'x', a: 'first', b: '4294967295', k0: '1' }, null],
        [
          'insert',
          ['k0', 'k1'],
          '["2","y"]',
          null,
          { k1: 'y', a: 'second', c: 'new', b: '7', k0: '2' },
          null,
        ],
        [
          'update',
          ['k0', 'k1'],
          '["1","x"]',
          { k1: 'x', c: null, b: '4294967295', k0: '1' },
          { k1: 'x', c: 'upd', b: '4294967295', k0: '1' },
          ['c'],
        ],
        [
          'insert',
          ['k0', 'k1'],
          '["3","z"]',
          null,
          { k1: 'z', c: 'third', b: '18446744073709551615', k0: '3' },
          null,
        ],
      ]);
      // The history holds one definition per DDL, at its position.
      const { serverId } = await serverIds(store, 'm');
      const ddl = await store.changes.ddl(serverId);
      expect(ddl.map((d) => d.statement)).toEqual([
        'ALTER TABLE app.m ADD COLUMN c VARCHAR(5) AFTER a',
        'ALTER TABLE app.m DROP COLUMN a',
        'ALTER TABLE app.m MODIFY COLUMN b BIGINT UNSIGNED',
      ]);
      const first = await store.changes.tableSchemaAt(serverId, 'app', 'm', {
        coordinates: { file: changes[0]!.file, position: changes[0]!.position, gtidSet: null },
      });
      expect(first?.columns.map((c) => c.name)).toEqual(['k1', 'a', 'b', 'k0']);
      expect(first?.primaryKey).toEqual(['k0', 'k1']);
      const last = await store.changes.tableSchemaAt(serverId, 'app', 'm', {});
      expect(last?.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
        'k1 varchar(5)',
        'c varchar(5)',
        'b bigint(20) unsigned',
        'k0 int(11)',
      ]);
    } finally {
      await store.close();
    }
  });

  it('offline: indexes the same files with the stored history after a restart from its checkpoint', async () => {
    // A later change, indexed from the files on disk (for hosts whose binlog directory is readable).
    await db.query("INSERT INTO app.m VALUES ('w', 'four', 5, 4)");
    const files = (await db.binlogFilesOnDisk()).map((f) => db.binlogPath(f));
    const indexed = await cli(['index', '--server-name', 'm', '--json', ...files], env);
    expect(indexed.code, indexed.stderr).toBe(0);
    const result = JSON.parse(indexed.stdout) as { changes: number; unfinished: string | null };
    expect(result.changes).toBe(1);
    expect(result.unfinished).toBe(files[files.length - 1]);
    expect(indexed.stderr).not.toMatch(/positional column names/);
    const store = await openIndex(home);
    try {
      const changes = await indexedChanges(store, 'm', 'app');
      expect(changes[changes.length - 1]?.after).toEqual({ k1: 'w', c: 'four', b: '5', k0: '4' });
    } finally {
      await store.close();
    }
  });
});
