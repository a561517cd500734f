import type { SourceConnection } from '../source/connect.js';
import type { ServerFacts } from '../source/server-facts.js';
import { BinlogOffError } from '../source/replication/errors.js';
import type { BinlogCoordinates, ServerIdentity } from '../store/change-index.js';
import type { ServerBinlogs } from './gap.js';

/**
 * What capture reads from the source with plain SQL: its identity, its current binlog coordinates, the binlogs it
 * still has, and whether it writes GTIDs.
 */
export function identityOf(facts: ServerFacts): ServerIdentity {
  return {
    serverUuid: facts.serverUuid === '' ? null : facts.serverUuid,
    serverId: facts.serverId,
    hostname: facts.hostname,
    flavor: facts.flavor,
  };
}

/**
 * Whether `now` is the server `recorded` belongs to. A MySQL server_uuid decides alone (it survives a host rename
 * and is unique); without one (MariaDB), server_id and hostname must both match.
 */
export function sameServer(recorded: ServerIdentity, now: ServerIdentity): boolean {
  if (recorded.flavor !== now.flavor) return false;
  if (recorded.serverUuid !== null && now.serverUuid !== null) return recorded.serverUuid === now.serverUuid;
  return recorded.serverId === now.serverId && recorded.hostname === now.hostname;
}

export function describeIdentity(i: ServerIdentity): string {
  const uuid = i.serverUuid === null ? '' : `server_uuid ${i.serverUuid}, `;
  return `${i.flavor} ${uuid}server_id ${i.serverId} on host "${i.hostname}"`;
}

/** Whether the server writes GTIDs capture can resume from: always on MariaDB, with gtid_mode=ON on MySQL. */
export function hasGtids(facts: ServerFacts): boolean {
  if (facts.flavor === 'mariadb') return true;
  return (facts.variables['gtid_mode'] ?? 'OFF').toUpperCase() === 'ON';
}

function statusStatement(facts: ServerFacts): string {
  const [major, minor] = facts.versionNumber;
  return facts.flavor === 'mysql' && (major > 8 || (major === 8 && minor >= 2))
    ? 'SHOW BINARY LOG STATUS'
    : 'SHOW MASTER STATUS';
}

/** The end of the binlog now: file, position and the GTID state there. */
export async function currentCoordinates(
  conn: SourceConnection,
  facts: ServerFacts,
  server: string,
): Promise<BinlogCoordinates> {
  const sql = statusStatement(facts);
  const [row] = await conn.query<{ File?: string; Position?: string | number; Executed_Gtid_Set?: string }>(
    sql,
  );
  if (row?.File === undefined || row.Position === undefined) {
    throw new BinlogOffError(
      `Cannot find the current binlog position of ${server}: ${sql} returned nothing (is log_bin on?)`,
      { fields: { server } },
    );
  }
  let gtidSet: string | null = null;
  if (facts.flavor === 'mariadb') {
    const [g] = await conn.query<{ g: string | null }>('SELECT @@global.gtid_binlog_pos AS g');
    gtidSet = g?.g ?? '';
  } else if (hasGtids(facts)) {
    gtidSet = (row.Executed_Gtid_Set ?? '').replace(/\s+/g, '');
  }
  return { file: row.File, position: Number(row.Position), gtidSet };
}

/** SHOW BINARY LOGS and the GTID state at the start of the oldest one. */
export async function serverBinlogs(
  conn: SourceConnection,
  facts: ServerFacts,
  server: string,
): Promise<ServerBinlogs> {
  const rows = await conn.query<{ Log_name: string }>('SHOW BINARY LOGS');
  const files = rows.map((r) => r.Log_name);
  const first = files[0];
  if (first === undefined) {
    throw new BinlogOffError(`Cannot list the binlogs of ${server}: SHOW BINARY LOGS returned none`, {
      fields: { server },
    });
  }
  let gtidSet: string | null = null;
  if (facts.flavor === 'mariadb') {
    // BINLOG_GTID_POS(file, 4) is the GTID position before the file's first event: its GTID_LIST.
    const [g] = await conn.query<{ g: string | null }>('SELECT BINLOG_GTID_POS(?, 4) AS g', [first]);
    gtidSet = g?.g ?? (await gtidListOf(conn, first));
  } else if (hasGtids(facts)) {
    const [g] = await conn.query<{ g: string | null }>('SELECT @@global.gtid_purged AS g');
    gtidSet = (g?.g ?? '').replace(/\s+/g, '');
  }
  return { flavor: facts.flavor, files, oldest: { file: first, position: 4, gtidSet } };
}

/** The GTID_LIST event of a MariaDB binlog, from SHOW BINLOG EVENTS (Info is `[0-1-5,1-2-7]`). */
async function gtidListOf(conn: SourceConnection, file: string): Promise<string> {
  const rows = await conn.query<{ Event_type: string; Info: string }>(
    `SHOW BINLOG EVENTS IN ${quote(file)} LIMIT 4`,
  );
  const list = rows.find((r) => r.Event_type === 'Gtid_list');
  return list === undefined ? '' : list.Info.replace(/^\[|\]$/g, '');
}

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The tables information_schema lists (base tables of user schemas), for loading schema history. */
export async function listTables(conn: SourceConnection): Promise<{ schema: string; table: string }[]> {
  const rows = await conn.query<{ s: string; t: string }>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
        AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`,
  );
  return rows.map((r) => ({ schema: r.s, table: r.t }));
}
