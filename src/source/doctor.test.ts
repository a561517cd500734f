import { describe, expect, it } from 'vitest';
import { evaluateDoctor, grantSummary } from './doctor.js';
import type { ServerFacts } from './server-facts.js';

function facts(
  overrides: Partial<Record<string, string>> = {},
  grants?: string[],
  flavor: 'mysql' | 'mariadb' = 'mariadb',
): ServerFacts {
  const variables: Record<string, string> = {
    version: flavor === 'mariadb' ? '10.11.19-MariaDB-0+deb12u1-log' : '8.0.36',
    log_bin: 'ON',
    binlog_format: 'ROW',
    binlog_row_image: 'FULL',
    binlog_row_metadata: 'FULL',
    binlog_checksum: 'CRC32',
    gtid_domain_id: '0',
    gtid_binlog_pos: '0-1-5',
    gtid_mode: 'ON',
    binlog_expire_logs_seconds: '864000',
    expire_logs_days: '10',
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete variables[k];
    else variables[k] = v;
  }
  return {
    flavor,
    version: variables['version']!,
    versionNumber: flavor === 'mariadb' ? [10, 11, 19] : [8, 0, 36],
    serverId: overrides['server_id'] ?? '1',
    serverUuid: null,
    hostname: 'h',
    variables,
    grants: grants ?? ['GRANT ALL PRIVILEGES ON *.* TO `dbtrail`@`%`'],
  };
}

const check = (r: ReturnType<typeof evaluateDoctor>, name: string) => r.checks.find((c) => c.name === name)!;

describe('evaluateDoctor', () => {
  it('passes a ready MariaDB', () => {
    const r = evaluateDoctor(facts());
    expect(r.ok).toBe(true);
    expect(r.checks.every((c) => c.ok)).toBe(true);
    expect(r.server).toEqual({ flavor: 'mariadb', version: '10.11.19-MariaDB-0+deb12u1-log' });
  });

  it('fails on STATEMENT format, naming binlog_format', () => {
    const r = evaluateDoctor(facts({ binlog_format: 'STATEMENT' }));
    expect(r.ok).toBe(false);
    expect(check(r, 'binlog_format')).toMatchObject({
      ok: false,
      value: 'STATEMENT',
      expected: 'ROW',
      severity: 'error',
    });
    expect(check(r, 'binlog_format').message).toMatch(/binlog_format is STATEMENT/);
  });

  it.each([
    ['log_bin', { log_bin: 'OFF' }],
    ['binlog_row_image', { binlog_row_image: 'MINIMAL' }],
    ['server_id', { server_id: '0' }],
  ])('fails with an error on %s', (name, override) => {
    const r = evaluateDoctor(facts(override));
    expect(r.ok).toBe(false);
    expect(check(r, name).ok).toBe(false);
  });

  it('only warns on MINIMAL metadata, no checksum, short retention and MySQL without GTIDs', () => {
    const r = evaluateDoctor(
      facts(
        {
          binlog_row_metadata: 'MINIMAL',
          binlog_checksum: 'NONE',
          binlog_expire_logs_seconds: '86400',
          gtid_mode: 'OFF',
        },
        undefined,
        'mysql',
      ),
    );
    expect(r.ok).toBe(true);
    for (const name of ['binlog_row_metadata', 'binlog_checksum', 'binlog_retention', 'gtid']) {
      expect(check(r, name)).toMatchObject({ ok: false, severity: 'warning' });
    }
    expect(check(r, 'binlog_retention').message).toMatch(/only 1 day/);
  });

  it('reads retention from expire_logs_days when seconds are absent, and treats 0 as never', () => {
    expect(
      check(
        evaluateDoctor(facts({ binlog_expire_logs_seconds: undefined, expire_logs_days: '3' })),
        'binlog_retention',
      ),
    ).toMatchObject({
      ok: false,
      value: '259200',
    });
    expect(
      check(
        evaluateDoctor(facts({ binlog_expire_logs_seconds: '0', expire_logs_days: '0' })),
        'binlog_retention',
      ).ok,
    ).toBe(true);
  });

  it('checks replication and dump privileges, including MariaDB names', () => {
    const mariadbOk = evaluateDoctor(
      facts({}, [
        "GRANT SELECT, RELOAD, SHOW VIEW, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `d`@`%` IDENTIFIED BY PASSWORD '*X'",
      ]),
    );
    expect(mariadbOk.ok).toBe(true);
    const none = evaluateDoctor(
      facts({}, ['GRANT USAGE ON *.* TO `d`@`%`', 'GRANT SELECT ON `app`.* TO `d`@`%`']),
    );
    expect(none.ok).toBe(false);
    expect(check(none, 'privileges_capture').ok).toBe(false);
    expect(check(none, 'privileges_dump').message).toMatch(/SELECT, SHOW VIEW, RELOAD or BACKUP_ADMIN/);
  });

  it('only counts grants on *.*', () => {
    expect(grantSummary(['GRANT SELECT ON `app`.* TO `d`@`%`']).has('SELECT')).toBe(false);
    expect(grantSummary(['GRANT SELECT, SHOW VIEW ON *.* TO `d`@`%`']).has('SHOW VIEW')).toBe(true);
  });
});
