import type mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../lib/errors.js';
import type { ResolvedDsn } from '../source/dsn.js';
import type { Coordinates } from '../store/catalog.js';
import { RestoreStepError } from './errors.js';

/**
 * Replica bootstrap: after a backup is loaded into the target, point the target's replication at the source from
 * the backup's exact coordinates, start it, and check that it runs and catches up.
 *
 * MariaDB: `SET GLOBAL gtid_slave_pos` to the backup's GTID position and `CHANGE MASTER TO ... MASTER_USE_GTID =
 * slave_pos`, or MASTER_LOG_FILE/MASTER_LOG_POS when the backup has no GTID position. MySQL: `CHANGE REPLICATION
 * SOURCE TO` with SOURCE_AUTO_POSITION after `SET GLOBAL gtid_purged`, or the file and position. The replication
 * password travels only inside the statement sent to the target; it is never logged nor put in an error message.
 */
export type Flavor = 'mysql' | 'mariadb';

export interface ReplicaSetup {
  readonly flavor: Flavor;
  readonly source: ResolvedDsn;
  readonly coordinates: Coordinates;
}

export interface ReplicationStatement {
  /** For logs and messages: the password is replaced. */
  readonly display: string;
  readonly sql: string;
}

/** The statements that configure replication, in order (pure; the password only in `sql`). */
export function replicationStatements(
  setup: ReplicaSetup,
  format: (sql: string, values: unknown[]) => string,
): ReplicationStatement[] {
  const { source, coordinates: c } = setup;
  const useGtid = c.gtid !== null && c.gtid !== '';
  const out: ReplicationStatement[] = [];
  const add = (sql: string, values: unknown[] = [], secret = false): void => {
    const display = secret
      ? format(
          sql,
          values.map((v) => (v === source.password ? '***' : v)),
        )
      : format(sql, values);
    out.push({ sql: format(sql, values), display });
  };
  if (source.socketPath !== undefined) {
    throw new RestoreStepError(
      'Cannot set up replication over a unix socket: give the source as host:port in --as-replica-of-dsn',
      'usage',
      {
        fields: { step: 'replica' },
      },
    );
  }
  if (setup.flavor === 'mariadb') {
    add('STOP SLAVE');
    add('RESET SLAVE ALL');
    if (useGtid) add('SET GLOBAL gtid_slave_pos = ?', [c.gtid]);
    const pos = useGtid
      ? 'MASTER_USE_GTID = slave_pos'
      : `MASTER_LOG_FILE = ?, MASTER_LOG_POS = ${c.position}`;
    add(
      `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ${source.port}, MASTER_USER = ?, MASTER_PASSWORD = ?, ${pos}${source.tls === 'required' ? ', MASTER_SSL = 1' : ''}`,
      [source.host, source.user, source.password ?? '', ...(useGtid ? [] : [c.file])],
      true,
    );
    add('START SLAVE');
  } else {
    add('STOP REPLICA');
    add('RESET REPLICA ALL');
    if (useGtid) {
      // gtid_purged can only be set on a server whose own executed set is empty.
      add('RESET MASTER');
      add('SET GLOBAL gtid_purged = ?', [c.gtid]);
    }
    const pos = useGtid ? 'SOURCE_AUTO_POSITION = 1' : `SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ${c.position}`;
    add(
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ${source.port}, SOURCE_USER = ?, SOURCE_PASSWORD = ?, ${pos}${source.tls === 'required' ? ', SOURCE_SSL = 1' : ''}`,
      [source.host, source.user, source.password ?? '', ...(useGtid ? [] : [c.file])],
      true,
    );
    add('START REPLICA');
  }
  return out;
}

export interface ReplicaStatus {
  readonly ioRunning: boolean;
  readonly sqlRunning: boolean;
  readonly secondsBehind: number | null;
  readonly lastError: string | null;
  readonly gtidPos: string | null;
}

export async function configureReplica(
  conn: mysql.Connection,
  setup: ReplicaSetup,
  options: { readonly waitMs?: number; readonly signal?: AbortSignal } = {},
): Promise<ReplicaStatus> {
  for (const s of replicationStatements(setup, (sql, v) => conn.format(sql, v))) {
    try {
      await conn.query(s.sql);
    } catch (err) {
      // STOP on a server that never replicated is harmless.
      if (/^(STOP|RESET) (SLAVE|REPLICA)/.test(s.display)) continue;
      throw new RestoreStepError(
        `Cannot configure replication on the target: "${s.display}" failed: ${messageOf(err).replaceAll(setup.source.password ?? '\u0000', '***')}`,
        'internal',
        { fields: { step: 'replica' } },
      );
    }
  }
  // Running, and caught up: both threads up with no error, and the SQL thread 0 seconds behind.
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  let status = await replicaStatus(conn, setup.flavor);
  while (Date.now() < deadline && options.signal?.aborted !== true) {
    status = await replicaStatus(conn, setup.flavor);
    if (status.lastError !== null) break;
    if (status.ioRunning && status.sqlRunning && status.secondsBehind === 0) return status;
    await sleep(200);
  }
  throw new RestoreStepError(
    `Cannot confirm that the replica runs and catches up: IO thread ${status.ioRunning ? 'running' : 'stopped'}, SQL thread ${status.sqlRunning ? 'running' : 'stopped'}, ${status.secondsBehind ?? 'unknown'} s behind${status.lastError !== null ? `, last error: ${status.lastError}` : ''}`,
    'check_failed',
    { fields: { step: 'replica', ...status } },
  );
}

export async function replicaStatus(conn: mysql.Connection, flavor: Flavor): Promise<ReplicaStatus> {
  const [rows] = await conn.query(flavor === 'mariadb' ? 'SHOW SLAVE STATUS' : 'SHOW REPLICA STATUS');
  const r = (rows as Record<string, unknown>[])[0] ?? {};
  const get = (...keys: string[]): string | null => {
    for (const k of keys) {
      const v = r[k];
      if (typeof v === 'string' && v !== '') return v;
      if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    }
    return null;
  };
  const behind = get('Seconds_Behind_Master', 'Seconds_Behind_Source');
  const errors = [get('Last_IO_Error'), get('Last_SQL_Error')].filter((e) => e !== null);
  return {
    ioRunning: get('Slave_IO_Running', 'Replica_IO_Running') === 'Yes',
    sqlRunning: get('Slave_SQL_Running', 'Replica_SQL_Running') === 'Yes',
    secondsBehind: behind === null ? null : Number(behind),
    lastError: errors.length === 0 ? null : errors.join('; '),
    gtidPos: get('Gtid_Slave_Pos', 'Executed_Gtid_Set'),
  };
}
