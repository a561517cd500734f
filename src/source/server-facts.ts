import type { SourceConnection } from './connect.js';

/** What dbtrail learns about a server on connect: flavour, version, identity and the binlog settings it relies on. */
export interface ServerFacts {
  readonly flavor: 'mysql' | 'mariadb';
  readonly version: string;
  /** Numeric major.minor.patch, for feature checks. */
  readonly versionNumber: readonly [number, number, number];
  readonly serverId: string;
  readonly serverUuid: string | null;
  readonly hostname: string;
  /** Global variables by lower-case name (only the ones dbtrail asks for); absent when the server lacks one. */
  readonly variables: Readonly<Record<string, string>>;
  /** The lines of SHOW GRANTS FOR CURRENT_USER(). */
  readonly grants: readonly string[];
}

export const PROBED_VARIABLES = [
  'version',
  'version_comment',
  'hostname',
  'server_id',
  'server_uuid',
  'log_bin',
  'binlog_format',
  'binlog_row_image',
  'binlog_row_metadata',
  'binlog_checksum',
  'gtid_mode',
  'enforce_gtid_consistency',
  'gtid_domain_id',
  'gtid_binlog_pos',
  'gtid_executed',
  'gtid_purged',
  'gtid_strict_mode',
  'binlog_expire_logs_seconds',
  'expire_logs_days',
  'log_slave_updates',
  'log_replica_updates',
] as const;

export async function probeServer(conn: SourceConnection): Promise<ServerFacts> {
  const list = PROBED_VARIABLES.map((v) => `'${v}'`).join(',');
  const rows = await conn.query<{ Variable_name: string; Value: string | null }>(
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${list})`,
  );
  const variables: Record<string, string> = {};
  for (const r of rows) variables[r.Variable_name.toLowerCase()] = r.Value ?? '';
  const grantRows = await conn.query<Record<string, string>>('SHOW GRANTS FOR CURRENT_USER()');
  const grants = grantRows.map((r) => Object.values(r)[0] ?? '');
  const version = variables['version'] ?? '';
  const flavor =
    /mariadb/i.test(version) || /mariadb/i.test(variables['version_comment'] ?? '') ? 'mariadb' : 'mysql';
  return {
    flavor,
    version,
    versionNumber: parseVersion(version),
    serverId: variables['server_id'] ?? '0',
    serverUuid: variables['server_uuid'] ?? null,
    hostname: variables['hostname'] ?? '',
    variables,
    grants,
  };
}

export function parseVersion(version: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}
