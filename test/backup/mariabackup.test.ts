import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDump } from '../../src/backup/dump.js';
import { DumpOptionsError } from '../../src/backup/errors.js';
import { parseManifest } from '../../src/backup/manifest.js';
import { preparePhysicalBackup, readBinlogInfo } from '../../src/backup/mariabackup.js';
import { parseDsn, resolvePassword } from '../../src/source/dsn.js';
import { MariaDbSandbox, startMariaDb } from '../harness/mariadb.js';

let source: MariaDbSandbox;
let work: string;

beforeAll(async () => {
  source = await startMariaDb();
  work = await mkdtemp(join(tmpdir(), 'dbtrail-physical-test-'));
  await source.query(`
    CREATE DATABASE shop;
    CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2), at DATETIME(6));
    INSERT INTO shop.orders VALUES (1, 10.50, '2024-01-01 00:00:00.000001'), (2, 99999999.99, '2024-12-31 23:59:59.999999');
  `);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('mariadb-backup physical backup', () => {
  it('backs up with the coordinates the server reports, prepares, and the prepared copy starts with the data', async () => {
    const dsn = resolvePassword(parseDsn(source.dsnWithoutPassword), { password: source.appPassword });
    const before = await source.coordinates();
    const result = await runDump({
      dsn,
      serverName: 'phys',
      tenant: 'acme',
      tool: 'mariadb-backup',
      threads: 2,
      outDir: join(work, 'out'),
      lockDir: join(work, 'locks'),
    });
    const after = await source.coordinates();
    expect(after).toEqual(before); // nothing wrote meanwhile, so the backup's position is exactly this one
    const m = parseManifest(await readFile(join(result.dir, 'manifest.json'), 'utf8'));
    expect(m.kind).toBe('physical');
    expect(m.tool.name).toBe('mariadb-backup');
    expect(m.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.coordinates).toEqual({
      file: before.file,
      position: before.position,
      gtid: before.gtid === '' ? null : before.gtid,
    });
    expect(await readBinlogInfo(result.dir)).toEqual(m.coordinates);
    expect(m.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['ibdata1', 'xtrabackup_binlog_info', 'shop/orders.frm']),
    );

    // Prepare a copy (preparing changes files, and the backup must keep matching its manifest).
    const copy = join(work, 'restore', 'data');
    await cp(result.dir, copy, { recursive: true });
    await preparePhysicalBackup({ tool: 'mariadb-backup', dir: copy });
    const restored = await MariaDbSandbox.start({ datadir: copy });
    try {
      const rows = await restored.query<{ id: number; total: string; at: string }>(
        'SELECT id, total, at FROM shop.orders ORDER BY id',
      );
      expect(rows.map((r) => [r.id, r.total, r.at])).toEqual([
        [1, '10.50', '2024-01-01 00:00:00.000001'],
        [2, '99999999.99', '2024-12-31 23:59:59.999999'],
      ]);
    } finally {
      await restored.destroy();
    }
  });

  it('refuses filters and xtrabackup for a MariaDB server', async () => {
    const dsn = resolvePassword(parseDsn(source.dsnWithoutPassword), { password: source.appPassword });
    const base = {
      dsn,
      serverName: 'phys',
      tenant: 'acme',
      outDir: join(work, 'out2'),
      lockDir: join(work, 'locks'),
    };
    await expect(runDump({ ...base, tool: 'mariadb-backup', schemas: ['shop'] })).rejects.toThrow(
      DumpOptionsError,
    );
    await expect(runDump({ ...base, tool: 'xtrabackup' })).rejects.toThrow(/use mariadb-backup/);
  });
});
