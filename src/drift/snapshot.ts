import type { SourceConnection } from '../source/connect.js';
import type { BinlogCoordinates } from '../store/change-index.js';
import { DriftSnapshotError } from './errors.js';

/**
 * A consistent snapshot of the live server and the exact binlog coordinates it corresponds to: the "actual" side
 * of a drift check. Every later read on `conn` sees the database as of `coordinates` until `release`.
 *
 * - MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT`, then the status variables `binlog_snapshot_file` and
 *   `binlog_snapshot_position`, which the server reports for that very snapshot (group commit takes them under
 *   the same lock), and `BINLOG_GTID_POS()` of those coordinates for the GTID position.
 * - MySQL: `performance_schema.log_status` gives file, position and `gtid_executed` atomically, but not atomically
 *   with the snapshot: a commit between the two would make them disagree (the race the issue names). So the
 *   status is read on both sides of `START TRANSACTION WITH CONSISTENT SNAPSHOT`; when both reads agree no commit
 *   came in between and the snapshot is exactly at those coordinates. Under a heavy write load they may never
 *   agree; after `attempts` tries the snapshot is taken under a brief `FLUSH TABLES WITH READ LOCK` (needs RELOAD),
 *   which stops commits for the instant it takes.
 */
export interface SnapshotAt {
  readonly coordinates: BinlogCoordinates;
  /** How the coordinates were tied to the snapshot, for the report. */
  readonly method: 'binlog_snapshot_status' | 'log_status_stable' | 'read_lock';
  release(): Promise<void>;
}

export async function openSnapshot(
  conn: SourceConnection,
  flavor: 'mysql' | 'mariadb',
  attempts = 20,
): Promise<SnapshotAt> {
  await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  const release = async () => {
    await conn.query('ROLLBACK');
  };
  if (flavor === 'mariadb') {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const status = await conn.query<{ Variable_name: string; Value: string }>(
      "SHOW SESSION STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')",
    );
    const file = status.find((s) => s.Variable_name.toLowerCase() === 'binlog_snapshot_file')?.Value ?? '';
    const position = Number(
      status.find((s) => s.Variable_name.toLowerCase() === 'binlog_snapshot_position')?.Value ?? NaN,
    );
    if (file === '' || !Number.isSafeInteger(position)) {
      await release();
      throw new DriftSnapshotError(
        'Cannot tie the snapshot to binlog coordinates: binlog_snapshot_file/position are empty (is log_bin on?)',
      );
    }
    const gtid = await conn.query<{ g: string | null }>('SELECT BINLOG_GTID_POS(?, ?) AS g', [
      file,
      position,
    ]);
    return {
      coordinates: { file, position, gtidSet: gtid[0]?.g ?? null },
      method: 'binlog_snapshot_status',
      release,
    };
  }
  const logStatus = async (): Promise<BinlogCoordinates> => {
    const rows = await conn.query<{ LOCAL: string | Record<string, unknown> }>(
      'SELECT LOCAL FROM performance_schema.log_status',
    );
    const local = rows[0]?.LOCAL;
    const parsed = (typeof local === 'string' ? JSON.parse(local) : local) as
      { binary_log_file?: string; binary_log_position?: number; gtid_executed?: string } | undefined;
    if (parsed?.binary_log_file === undefined || parsed.binary_log_position === undefined) {
      throw new DriftSnapshotError(
        'Cannot read binlog coordinates from performance_schema.log_status (needs BACKUP_ADMIN and log_bin on)',
      );
    }
    return {
      file: parsed.binary_log_file,
      position: parsed.binary_log_position,
      gtidSet: (parsed.gtid_executed ?? '').replace(/\s+/g, '') || null,
    };
  };
  for (let i = 0; i < attempts; i++) {
    const before = await logStatus();
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const after = await logStatus();
    if (before.file === after.file && before.position === after.position) {
      return { coordinates: after, method: 'log_status_stable', release };
    }
    await release();
  }
  await conn.query('FLUSH TABLES WITH READ LOCK');
  try {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const at = await logStatus();
    return { coordinates: at, method: 'read_lock', release };
  } finally {
    await conn.query('UNLOCK TABLES');
  }
}
