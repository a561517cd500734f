import type { Clock } from '../../lib/clock.js';
import type { CanonicalValue } from '../../lib/canonical-json.js';
import {
  auditEntryHash,
  checkAuditEvent,
  GENESIS_HASH,
  MAX_AUDIT_PAGE,
  type AuditActorKind,
  type AuditEntry,
  type AuditEvent,
  type AuditLogRepository,
  type AuditOutcome,
  type AuditQuery,
} from '../audit-log.js';
import { InvalidValueError } from '../errors.js';
import type { PgConnection } from './driver.js';

interface AuditRow {
  seq: bigint;
  at: string;
  tenant_id: string | null;
  actor_kind: string;
  actor_id: string;
  action: string;
  target: string | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

const COLUMNS = 'seq, at, tenant_id, actor_kind, actor_id, action, target, outcome, details, prev_hash, hash';

/** The advisory lock appends take turns on (ASCII "dbtrail" + 2): one chain however many processes append. */
const AUDIT_LOCK = (0x64627472_61696cn + 2n).toString();

export class PostgresAuditLogRepository implements AuditLogRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async append(event: AuditEvent): Promise<AuditEntry> {
    const details = checkAuditEvent(event);
    return this.#conn.write('Cannot append audit entry', async (q) => {
      // Held from reading the head to inserting after it, released at commit: appends form one chain.
      await q.run('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const head = await q.row<{ seq: bigint; hash: string }>(
        'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
      );
      const body: Omit<AuditEntry, 'hash'> = {
        seq: Number(head?.seq ?? 0n) + 1,
        at: this.#clock.now().toISOString(),
        tenantId: event.tenantId,
        actor: { kind: event.actor.kind, id: event.actor.id },
        action: event.action,
        target: event.target,
        outcome: event.outcome,
        details: JSON.parse(details) as Record<string, CanonicalValue>,
        prevHash: head?.hash ?? GENESIS_HASH,
      };
      const hash = auditEntryHash(body);
      await q.run(
        `INSERT INTO audit_log (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          body.seq,
          body.at,
          body.tenantId,
          body.actor.kind,
          body.actor.id,
          body.action,
          body.target,
          body.outcome,
          details,
          body.prevHash,
          hash,
        ],
      );
      return { ...body, hash };
    });
  }

  async list(query: AuditQuery = {}): Promise<readonly AuditEntry[]> {
    const limit = query.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
      throw new InvalidValueError(
        `Cannot list audit entries: limit must be a whole number from 1 to ${MAX_AUDIT_PAGE}, got ${limit}`,
      );
    }
    const params: unknown[] = [query.afterSeq ?? 0];
    const where = ['seq > $1'];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (query.tenantId !== undefined) add((p) => `tenant_id = ${p}`, query.tenantId);
    if (query.from !== undefined) add((p) => `at >= ${p}`, query.from.toISOString());
    if (query.to !== undefined) add((p) => `at < ${p}`, query.to.toISOString());
    if (query.action !== undefined) add((p) => `action = ${p}`, query.action);
    params.push(limit);
    const rows = await this.#conn.read('Cannot list audit entries', (q) =>
      q.rows<AuditRow>(
        `SELECT ${COLUMNS} FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $${params.length}`,
        params,
      ),
    );
    return rows.map(toEntry);
  }

  async head(): Promise<{ seq: number; hash: string } | undefined> {
    const row = await this.#conn.read('Cannot read the audit log head', (q) =>
      q.row<{ seq: bigint; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
    );
    return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
  }
}

function toEntry(row: AuditRow): AuditEntry {
  let details: Record<string, CanonicalValue>;
  try {
    details = JSON.parse(row.details) as Record<string, CanonicalValue>;
  } catch {
    // An edited row with broken JSON still lists; its hash check fails in verify.
    details = { unreadable_details: row.details };
  }
  return {
    seq: Number(row.seq),
    at: row.at,
    tenantId: row.tenant_id,
    actor: { kind: row.actor_kind as AuditActorKind, id: row.actor_id },
    action: row.action,
    target: row.target,
    outcome: row.outcome as AuditOutcome,
    details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
