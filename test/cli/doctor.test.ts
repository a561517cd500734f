import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, cliBinary } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { freePort } from '../../src/sandbox/free-port.js';

const home = mkdtempSync(join(tmpdir(), 'dbtrail-doctor-home-'));
const env = { DBTRAIL_HOME: home };

describe('dbtrail doctor', () => {
  let ready: MariaDbSandbox;
  let statement: MariaDbSandbox;

  beforeAll(async () => {
    [ready, statement] = await Promise.all([
      startMariaDb(),
      startMariaDb({ extraArgs: ['--binlog-format=STATEMENT', '--binlog-row-metadata=MINIMAL'] }),
    ]);
  });

  it('passes a ready server and prints the checklist', async () => {
    const r = await cli(['doctor', '--dsn', ready.dsnWithoutPassword], {
      ...env,
      DBTRAIL_SOURCE_PASSWORD: ready.appPassword,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[ok\]\s+binlog_format/);
    expect(r.stdout).toMatch(/Ready for dbtrail/);
  });

  it('prints the documented JSON shape', async () => {
    const r = await cli(['doctor', '--dsn', ready.dsn, '--json'], env);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      server: { flavor: string; version: string };
      checks: {
        name: string;
        ok: boolean;
        value: unknown;
        expected: string;
        severity: string;
        message: string;
      }[];
    };
    expect(report.ok).toBe(true);
    expect(report.server.flavor).toBe('mariadb');
    expect(report.server.version).toMatch(/^10\.11/);
    const names = report.checks.map((c) => c.name);
    for (const n of [
      'log_bin',
      'binlog_format',
      'binlog_row_image',
      'binlog_row_metadata',
      'server_id',
      'binlog_checksum',
      'gtid',
      'binlog_retention',
      'privileges_capture',
      'privileges_dump',
    ]) {
      expect(names).toContain(n);
    }
    for (const c of report.checks) expect(['error', 'warning']).toContain(c.severity);
  });

  it('fails a STATEMENT-format server, naming binlog_format', async () => {
    const r = await cli(['doctor', '--dsn', statement.dsn, '--json'], env);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; value: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'binlog_format')).toMatchObject({
      ok: false,
      value: 'STATEMENT',
    });
    expect(report.checks.find((c) => c.name === 'binlog_row_metadata')).toMatchObject({
      ok: false,
      value: 'MINIMAL',
    });
    const human = await cli(['doctor', '--dsn', statement.dsn], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/\[FAIL\]\s+binlog_format\s+binlog_format is STATEMENT/);
  });

  it('flags a user without replication or dump privileges', async () => {
    await ready.query("CREATE USER 'weak'@'%' IDENTIFIED BY 'weakpw'; GRANT SELECT ON mysql.* TO 'weak'@'%'");
    const r = await cli(['doctor', '--dsn', `mysql://weak@127.0.0.1:${ready.port}`, '--json'], {
      ...env,
      DBTRAIL_SOURCE_PASSWORD: 'weakpw',
    });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { checks: { name: string; ok: boolean }[] };
    expect(report.checks.find((c) => c.name === 'privileges_capture')?.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'privileges_dump')?.ok).toBe(false);
  });

  it('gives one clear line for bad credentials, an unreachable host and a malformed DSN', async () => {
    const badPw = await cli(['doctor', '--dsn', `mysql://dbtrail:wrong@127.0.0.1:${ready.port}`], env);
    expect(badPw.code).toBe(6);
    // The password typed into --dsn earns a warning, then the one-line error.
    expect(badPw.stderr).toContain('visible in the process list');
    expect(badPw.stderr.trim().split('\n').at(-1)).toBe(
      `dbtrail: Cannot log in to dbtrail@127.0.0.1:${ready.port}: access denied (check the user and password)`,
    );

    const port = await freePort();
    const down = await cli(['doctor', '--dsn', `mysql://u@127.0.0.1:${port}`], env);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(
      new RegExp(`^dbtrail: Cannot connect to u@127.0.0.1:${port}: connection refused`),
    );
    expect(down.stderr.trim().split('\n')).toHaveLength(1);

    const malformed = await cli(['doctor', '--dsn', 'mysq://u:secret@h'], env);
    expect(malformed.code).toBe(3);
    expect(malformed.stderr).toBe(
      'dbtrail: Cannot parse DSN "mysq://u:***@h": scheme must be mysql:// or mariadb://, got mysq://\n',
    );
  });

  it('works as a real process from the built binary', async () => {
    const r = await cliBinary(['doctor', '--dsn', ready.dsnWithoutPassword, '--json'], {
      ...env,
      DBTRAIL_SOURCE_PASSWORD: ready.appPassword,
    });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { ok: boolean }).ok).toBe(true);
    // The password never reaches the output or logs.
    expect(r.stdout + r.stderr).not.toContain(ready.appPassword);
  });
});
