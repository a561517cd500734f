import type { ServerFacts } from './server-facts.js';

/**
 * Readiness checks for a server dbtrail is about to track. Pure: evaluates the facts gathered by
 * `probeServer`, so every rule is unit-tested without a server.
 */
export interface DoctorCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly value: string | null;
  readonly expected: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly server: { readonly flavor: 'mysql' | 'mariadb'; readonly version: string };
  readonly checks: readonly DoctorCheck[];
}

const SEVEN_DAYS = 7 * 24 * 3600;

export function evaluateDoctor(facts: ServerFacts): DoctorReport {
  const v = facts.variables;
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck): void => {
    checks.push(c);
  };
  const [major, minor] = facts.versionNumber;
  const mariadb = facts.flavor === 'mariadb';

  const supported = mariadb
    ? major > 10 || (major === 10 && minor >= 5)
    : major > 5 || (major === 5 && minor >= 7);
  add({
    name: 'version',
    ok: supported,
    value: facts.version,
    expected: mariadb ? 'MariaDB 10.5 or later' : 'MySQL 5.7 or later',
    severity: 'error',
    message: supported
      ? `${mariadb ? 'MariaDB' : 'MySQL'} ${facts.version} is supported`
      : `${facts.version} is older than dbtrail supports`,
  });

  const logBin = v['log_bin'];
  const binOn = logBin === 'ON' || logBin === '1';
  add({
    name: 'log_bin',
    ok: binOn,
    value: logBin ?? null,
    expected: 'ON',
    severity: 'error',
    message: binOn
      ? 'Binary logging is on'
      : 'Binary logging is off: dbtrail reads row changes from the binlog; start the server with --log-bin',
  });

  const format = v['binlog_format'];
  add({
    name: 'binlog_format',
    ok: format === 'ROW',
    value: format ?? null,
    expected: 'ROW',
    severity: 'error',
    message:
      format === 'ROW'
        ? 'Row-based logging records every row change'
        : `binlog_format is ${format ?? 'unknown'}: only ROW records the before and after image of each row; SET GLOBAL binlog_format = 'ROW' and put it in the server config`,
  });

  const image = v['binlog_row_image'];
  add({
    name: 'binlog_row_image',
    ok: image === 'FULL',
    value: image ?? null,
    expected: 'FULL',
    severity: 'error',
    message:
      image === 'FULL'
        ? 'Full before and after images are logged'
        : `binlog_row_image is ${image ?? 'unknown'}: undo and point-in-time restore need every column of the before and after image; set binlog_row_image = FULL`,
  });

  const metadata = v['binlog_row_metadata'];
  add({
    name: 'binlog_row_metadata',
    ok: metadata === 'FULL',
    value: metadata ?? null,
    expected: 'FULL (recommended)',
    severity: 'warning',
    message:
      metadata === 'FULL'
        ? 'Table maps carry column names, signedness, charsets and the primary key'
        : metadata === undefined
          ? 'This server cannot log row metadata: dbtrail keeps its own schema history to name columns and detect signedness, which is exact only while it sees every DDL'
          : 'binlog_row_metadata is MINIMAL: without FULL, column names, signedness, charsets and primary keys are not in the binlog and dbtrail must rely on its own schema history; set binlog_row_metadata = FULL',
  });

  const serverId = facts.serverId;
  add({
    name: 'server_id',
    ok: serverId !== '0' && serverId !== '',
    value: serverId,
    expected: 'non-zero',
    severity: 'error',
    message:
      serverId !== '0' && serverId !== ''
        ? `server_id is ${serverId}`
        : 'server_id is 0: a server with server_id 0 refuses replica connections; set a unique non-zero server_id',
  });

  const checksum = v['binlog_checksum'];
  add({
    name: 'binlog_checksum',
    ok: checksum === 'CRC32',
    value: checksum ?? null,
    expected: 'CRC32',
    severity: 'warning',
    message:
      checksum === 'CRC32'
        ? 'Every binlog event carries a CRC32 that dbtrail verifies'
        : `binlog_checksum is ${checksum ?? 'unknown'}: without CRC32, corruption of a binlog event cannot be detected`,
  });

  if (mariadb) {
    const pos = v['gtid_binlog_pos'] ?? '';
    add({
      name: 'gtid',
      ok: v['gtid_domain_id'] !== undefined,
      value: `gtid_domain_id=${v['gtid_domain_id'] ?? '?'} gtid_binlog_pos=${pos === '' ? '(empty)' : pos}`,
      expected: 'MariaDB GTIDs (always on)',
      severity: 'warning',
      message: 'MariaDB GTIDs let capture resume by GTID and follow a failover',
    });
  } else {
    const mode = v['gtid_mode'];
    add({
      name: 'gtid',
      ok: mode === 'ON',
      value: mode ?? null,
      expected: 'ON',
      severity: 'warning',
      message:
        mode === 'ON'
          ? 'GTIDs let capture resume by GTID and follow a failover'
          : `gtid_mode is ${mode ?? 'unknown'}: capture resumes by file and position, which does not survive a failover to another server`,
    });
  }

  const retention = retentionSeconds(v);
  add({
    name: 'binlog_retention',
    ok: retention !== undefined && (retention === 0 || retention >= SEVEN_DAYS),
    value: retention === undefined ? null : String(retention),
    expected: `0 (never purged) or at least ${SEVEN_DAYS} seconds (7 days)`,
    severity: 'warning',
    message:
      retention === undefined
        ? 'Binlog retention is unknown'
        : retention === 0
          ? 'Binlogs are never purged automatically (watch disk space)'
          : retention >= SEVEN_DAYS
            ? `Binlogs are kept ${formatDuration(retention)}`
            : `Binlogs are kept only ${formatDuration(retention)}: capture downtime longer than that becomes a gap, and dumps must run at least that often`,
  });

  const grants = grantSummary(facts.grants);
  const replicationOk =
    grants.all ||
    (grants.has('REPLICATION SLAVE') &&
      (grants.has('REPLICATION CLIENT') ||
        grants.has('BINLOG MONITOR') ||
        grants.has('REPLICATION SLAVE ADMIN') ||
        grants.has('SUPER')));
  add({
    name: 'privileges_capture',
    ok: replicationOk,
    value: grants.list.join(', ') || null,
    expected: mariadb
      ? 'REPLICATION SLAVE and BINLOG MONITOR (or REPLICATION SLAVE ADMIN) on *.*'
      : 'REPLICATION SLAVE and REPLICATION CLIENT on *.*',
    severity: 'error',
    message: replicationOk
      ? 'The user may read the binlog as a replica'
      : `The user lacks replication privileges: GRANT ${mariadb ? 'REPLICATION SLAVE, BINLOG MONITOR' : 'REPLICATION SLAVE, REPLICATION CLIENT'} ON *.* TO the dbtrail user`,
  });

  const missingDump = ['SELECT', 'SHOW VIEW'].filter((p) => !grants.all && !grants.has(p));
  const lockOk = grants.all || grants.has('RELOAD') || grants.has('BACKUP_ADMIN');
  if (!lockOk) missingDump.push('RELOAD or BACKUP_ADMIN');
  add({
    name: 'privileges_dump',
    ok: missingDump.length === 0,
    value: grants.list.join(', ') || null,
    expected: 'SELECT, SHOW VIEW and RELOAD (or BACKUP_ADMIN) on *.*',
    severity: 'error',
    message:
      missingDump.length === 0
        ? 'The user may take consistent dumps'
        : `The user lacks privileges for consistent dumps: ${missingDump.join(', ')} on *.*`,
  });

  const ok = checks.every((c) => c.ok || c.severity !== 'error');
  return { ok, server: { flavor: facts.flavor, version: facts.version }, checks };
}

function retentionSeconds(v: Readonly<Record<string, string>>): number | undefined {
  const seconds = v['binlog_expire_logs_seconds'];
  const days = v['expire_logs_days'];
  const s = seconds !== undefined ? Number(seconds) : undefined;
  const d = days !== undefined ? Number(days) : undefined;
  // MySQL 8 and MariaDB 10.6 keep both in step; when only one is set, it decides.
  if (s !== undefined && s > 0) return s;
  if (d !== undefined && d > 0) return Math.round(d * 86400);
  if (s !== undefined || d !== undefined) return 0;
  return undefined;
}

function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} day${seconds === 86400 ? '' : 's'}`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} hours`;
  return `${seconds} seconds`;
}

interface GrantSummary {
  readonly all: boolean;
  readonly list: readonly string[];
  has(privilege: string): boolean;
}

/** Global privileges (ON *.*) from SHOW GRANTS lines. */
export function grantSummary(lines: readonly string[]): GrantSummary {
  const privileges = new Set<string>();
  let all = false;
  for (const line of lines) {
    const m = /^GRANT\s+(.+?)\s+ON\s+\*\.\*\s+TO\s/i.exec(line);
    if (!m) continue;
    for (const raw of (m[1] as string).split(',')) {
      const p = raw.trim().toUpperCase();
      if (p === 'ALL PRIVILEGES' || p === 'ALL') all = true;
      else privileges.add(p);
    }
  }
  return {
    all,
    list: all ? ['ALL PRIVILEGES'] : [...privileges],
    has: (p) => privileges.has(p),
  };
}
