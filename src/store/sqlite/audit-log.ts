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
import { settle, type SqliteConnection, type SqliteValue } from './driver.js';
import { toDbTime } from './rows.js';

interface AuditRow {
  seq: number;
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

export class SqliteAuditLogRepository implements AuditLogRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  append(event: AuditEvent): Promise<AuditEntry> {
    return settle(() => {
      const details = checkAuditEvent(event);
      // BEGIN IMMEDIATE (write) holds the database's write lock from reading the head to inserting after it, so
      // appends from every process form one chain.
      return this.#conn.write('Cannot append audit entry', (c) => {
        const head = c.statement('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
          { seq: number; hash: string } | undefined;
        const body: Omit<AuditEntry, 'hash'> = {
          seq: (head?.seq ?? 0) + 1,
          at: toDbTime(this.#clock.now()),
          tenantId: event.tenantId,
          actor: { kind: event.actor.kind, id: event.actor.id },
          action: event.action,
          target: event.target,
          outcome: event.outcome,
          details: JSON.parse(details) as Record<string, CanonicalValue>,
          prevHash: head?.hash ?? GENESIS_HASH,
        };
        const hash = auditEntryHash(body);
        c.statement(`INSERT INTO audit_log (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
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
        );
        return { ...body, hash };
      });
    });
  }

  list(query: AuditQuery = {}): Promise<readonly AuditEntry[]> {
    return settle(() => {
      const limit = query.limit ?? 1000;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
        throw new InvalidValueError(
          `Cannot list audit entries: limit must be a whole number from 1 to ${MAX_AUDIT_PAGE}, got ${limit}`,
        );
      }
      const where: string[] = ['seq > ?'];
      const params: SqliteValue[] = [query.afterSeq ?? 0];
      if (query.tenantId !== undefined) {
        where.push('tenant_id = ?');
        params.push(query.tenantId);
      }
      if (query.from !== undefined) {
        where.push('at >= ?');
        params.push(toDbTime(query.from));
      }
      if (query.to !== undefined) {
        where.push('at < ?');
        params.push(toDbTime(query.to));
      }
      if (query.action !== undefined) {
        where.push('action = ?');
        params.push(query.action);
      }
      params.push(limit);
      const rows = this.#conn.read('Cannot list audit entries', (c) =>
        c
          .statement(`SELECT ${COLUMNS} FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`)
          .all(...params),
      ) as AuditRow[];
      return rows.map(toEntry);
    });
  }

  head(): Promise<{ seq: number; hash: string } | undefined> {
    return settle(
      () =>
        this.#conn.read('Cannot read the audit log head', (c) =>
          c.statement('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get(),
        ) as { seq: number; hash: string } | undefined,
    );
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
    seq: row.seq,
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
