/**
 * The session variables a replica sets before COM_REGISTER_SLAVE and the dump command. The dump thread reads them
 * as user variables of the connection (MySQL `sql/rpl_binlog_sender.cc`, MariaDB `sql/sql_repl.cc`):
 *
 * - `@master_binlog_checksum`: the replica understands checksums; without it the server strips the CRC32 trailer
 *   (and refuses to stream at all from a CRC32 binlog on some versions). Set to the server's own setting so every
 *   event arrives exactly as written and its CRC32 can be verified.
 * - `@master_heartbeat_period` (nanoseconds): send a HEARTBEAT after this much idle time.
 * - MariaDB `@mariadb_slave_capability = 4` (MARIA_SLAVE_CAPABILITY_GTID): send GTID, GTID_LIST and
 *   BINLOG_CHECKPOINT events as they are, instead of rewriting them for pre-10.0 replicas.
 * - MariaDB GTID start: `@slave_connect_state` plus non-strict, no-duplicate-skipping mode.
 * - MySQL: `@slave_uuid` / `@replica_uuid` (8.0.26+ reads the new name): the server kills an older dump thread
 *   with the same UUID, so each client needs its own.
 * MySQL 8.0.26+ reads `@source_*` before `@master_*`; both are set there so every version gets the same values.
 */
export interface PreambleOptions {
  readonly flavor: 'mysql' | 'mariadb';
  readonly heartbeatMs: number;
  /** MySQL only: the replica UUID. */
  readonly replicaUuid?: string | undefined;
  /** MariaDB only: the GTID list to start after (validated by the caller). */
  readonly mariadbGtid?: string | undefined;
}

export function sessionPreamble(options: PreambleOptions): string[] {
  const ns = BigInt(Math.round(options.heartbeatMs)) * 1_000_000n;
  const out = [
    'SET @master_binlog_checksum = @@global.binlog_checksum',
    `SET @master_heartbeat_period = ${ns}`,
  ];
  if (options.flavor === 'mysql') {
    out.push(
      'SET @source_binlog_checksum = @@global.binlog_checksum',
      `SET @source_heartbeat_period = ${ns}`,
    );
    if (options.replicaUuid !== undefined) {
      const uuid = sqlString(options.replicaUuid);
      out.push(`SET @slave_uuid = ${uuid}`, `SET @replica_uuid = ${uuid}`);
    }
  } else {
    out.push('SET @mariadb_slave_capability = 4');
    if (options.mariadbGtid !== undefined) {
      out.push(
        `SET @slave_connect_state = ${sqlString(options.mariadbGtid)}`,
        'SET @slave_gtid_strict_mode = 0',
        'SET @slave_gtid_ignore_duplicates = 0',
      );
    }
  }
  return out;
}

/**
 * A single-quoted SQL string literal. Callers pass validated UUIDs and GTID lists (digits, hex, dashes, commas),
 * so doubling quotes is enough; it is kept as a guard, not as a licence to pass free text.
 */
function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
