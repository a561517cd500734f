import type mysql from 'mysql2/promise';
import { ident } from './applier.js';

/**
 * Triggers are suspended while captured changes are replayed. The binlog already holds every row a trigger wrote on
 * the source (row-based logging records the trigger's effects as row events of their own), so a trigger firing
 * again on the target for a replayed row would write those effects twice: an audit table would gain duplicate rows,
 * a counter would count double. Row-based replication skips triggers on a replica for the same reason; replay by
 * SQL statements has no such switch, so the restored schemas' triggers are dropped before replay and created again,
 * in their original order and with their own sql_mode, when it ends (also when it fails, so a target is never left
 * without them; a resumed restore suspends them again).
 */
export interface SuspendedTrigger {
  readonly schema: string;
  readonly name: string;
  readonly sqlMode: string;
  readonly statement: string;
}

export async function suspendTriggers(
  conn: mysql.Connection,
  schemas: readonly string[],
): Promise<SuspendedTrigger[]> {
  if (schemas.length === 0) return [];
  const [rows] = await conn.query(
    conn.format(
      `SELECT TRIGGER_SCHEMA AS s, TRIGGER_NAME AS n FROM information_schema.TRIGGERS
        WHERE TRIGGER_SCHEMA IN (${schemas.map(() => '?').join(', ')})
        ORDER BY TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
      [...schemas],
    ),
  );
  const out: SuspendedTrigger[] = [];
  for (const r of rows as { s: string; n: string }[]) {
    const [show] = await conn.query(`SHOW CREATE TRIGGER ${ident(r.s)}.${ident(r.n)}`);
    const row = (show as Record<string, string>[])[0];
    const statement = row?.['SQL Original Statement'];
    if (row === undefined || statement === undefined) continue;
    out.push({ schema: r.s, name: r.n, sqlMode: row['sql_mode'] ?? '', statement });
  }
  for (const t of out) await conn.query(`DROP TRIGGER ${ident(t.schema)}.${ident(t.name)}`);
  return out;
}

/** Creates the suspended triggers again, each in its schema and with the sql_mode it was created under. */
export async function resumeTriggers(
  conn: mysql.Connection,
  triggers: readonly SuspendedTrigger[],
): Promise<void> {
  if (triggers.length === 0) return;
  const [modeRows] = await conn.query('SELECT @@SESSION.sql_mode AS m');
  const mode = String((modeRows as { m: string }[])[0]?.m ?? '');
  try {
    for (const t of triggers) {
      await conn.query(`USE ${ident(t.schema)}`);
      await conn.query('SET SESSION sql_mode = ?', [t.sqlMode]);
      await conn.query(t.statement);
    }
  } finally {
    await conn.query('SET SESSION sql_mode = ?', [mode]);
  }
}
