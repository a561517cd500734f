import { describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { MariaDbSandbox, startMariaDb } from './mariadb.js';

describe('MariaDB harness', () => {
  it('starts a private server with ROW binlogs that survives kill -9 and restart', async () => {
    const started = Date.now();
    const db = await startMariaDb({ serverId: 4242 });
    expect(Date.now() - started).toBeLessThan(20_000);
    const [vars] = await db.query<Record<string, string>>(
      'SELECT @@log_bin AS log_bin, @@binlog_format AS fmt, @@binlog_row_image AS img, @@server_id AS sid, @@binlog_row_metadata AS meta',
    );
    expect(vars).toEqual({ log_bin: '1', fmt: 'ROW', img: 'FULL', sid: '4242', meta: 'FULL' });

    // The app user reaches it over TCP with the DSN.
    const url = new URL(db.dsn);
    const conn = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    await conn.query('CREATE DATABASE app');
    await conn.query('CREATE TABLE app.t (id INT PRIMARY KEY)');
    await conn.query('INSERT INTO app.t VALUES (1)');
    await conn.end();

    await db.flushBinaryLogs();
    const logs = await db.binaryLogs();
    expect(logs.length).toBeGreaterThanOrEqual(2);
    await db.purgeBinaryLogsTo(logs[logs.length - 1]!.name);
    expect((await db.binaryLogs()).length).toBe(1);

    const pid = db.pid;
    await db.kill();
    expect(db.running).toBe(false);
    await db.startAgain();
    expect(db.pid).not.toBe(pid);
    expect(await db.query('SELECT id FROM app.t')).toEqual([{ id: 1 }]);

    await db.restart(['--binlog-format=STATEMENT']);
    const [fmt] = await db.query<{ f: string }>('SELECT @@binlog_format AS f');
    expect(fmt?.f).toBe('STATEMENT');
  });

  it('gives each instance its own port, socket and datadir, and cleans up on destroy', async () => {
    const a = await MariaDbSandbox.start();
    const b = await MariaDbSandbox.start();
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.datadir).not.toBe(b.datadir);
      expect(a.serverId).not.toBe(b.serverId);
    } finally {
      await a.destroy();
      await b.destroy();
    }
    const { existsSync } = await import('node:fs');
    expect(existsSync(a.dir)).toBe(false);
  });
});
