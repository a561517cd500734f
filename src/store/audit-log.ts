/**
 * The audit log: one hash-chained, append-only record of every operation that matters to an auditor, with who
 * did it (an API key id, the OS user of a CLI command, an agent) and for which tenant.
 *
 * Recording an operation is one line wherever it happens (restore, drill, recover and the rest):
 *
 *   import { audit, cliActor } from '../store/audit-log.js';
 *   await audit(app.store, {
 *     tenantId: tenant.id,          // null for operations outside any tenant (a signing key was created)
 *     actor: cliActor(),            // or { kind: 'api_key', id: principal.apiKeyId }, { kind: 'agent', id }
 *     action: 'restore.run',        // `<noun>.<verb>`, lower case; see AUDIT_ACTIONS for the ones in use
 *     target: backupId,             // the id or name acted on; null when none
 *     outcome: 'success',           // or 'failure'
 *     details: { server_name: 'db1', target_time: '2024-05-01T10:00:00Z' },
 *   });
 *
 * `audit` never throws: an operation must not fail, or appear failed, because its audit entry could not be
 * written; the error goes to the optional logger and `audit verify`'s count shows nothing false.
 *
 * The chain. Entries are numbered 1, 2, 3... (`seq`) in one order for the whole store. Each entry's `hash` is the
 * lower-case hex SHA-256 of the canonical JSON (src/lib/canonical-json.ts) of the object
 *   {"action","actor_id","actor_kind","at","details","outcome","prev_hash","seq","target","tenant_id"}
 * with `prev_hash` the previous entry's hash (64 zeros for entry 1). Editing any field of an entry breaks its own
 * hash; deleting or moving an entry breaks the link of the entry after it, and leaves a hole in `seq`.
 * `verifyAuditChain` checks both. Deleting the newest entries leaves a valid shorter chain, which only an anchor
 * (a `seq` and `hash` noted earlier, e.g. from a printed report) can reveal: `audit verify --anchor SEQ:HASH`.
 *
 * Backends serialize appends in the store transaction that reads the head and inserts the next entry (SQLite:
 * BEGIN IMMEDIATE; PostgreSQL: a transaction-level lock taken before reading the head), so entries from several
 * processes form one linear chain; `seq` is the primary key, so a second writer at the same position fails
 * rather than forking the chain.
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { canonicalBytes, canonicalJson, type CanonicalValue } from '../lib/canonical-json.js';
import { messageOf } from '../lib/errors.js';
import { InvalidValueError } from './errors.js';
import { checkId } from './validate.js';

export type AuditActorKind = 'cli' | 'api_key' | 'agent' | 'system';
export const AUDIT_ACTOR_KINDS: readonly AuditActorKind[] = ['cli', 'api_key', 'agent', 'system'];

export interface AuditActor {
  readonly kind: AuditActorKind;
  /** cli: the OS user name; api_key: the key id; agent: the agent id; system: the component (`scheduler`). */
  readonly id: string;
}

export type AuditOutcome = 'success' | 'failure';

/**
 * The actions recorded today. Others may be added (any `<noun>.<verb>` in lower case is accepted); list them
 * here so that reports can name them.
 */
export const AUDIT_ACTIONS = {
  'backup.request': 'Backup requested',
  'backup.run': 'Backup taken',
  'backup.upload': 'Backup uploaded',
  'backup.verify': 'Backup verified',
  'drill.run': 'Restore drill',
  'restore.run': 'Restore',
  'recover.apply': 'Recovery SQL applied',
  'signing_key.create': 'Manifest signing key created',
  'signing_key.trust': 'Manifest signing key trusted',
  'schedule.create': 'Schedule created',
  'schedule.update': 'Schedule changed',
  'schedule.delete': 'Schedule deleted',
  'apikey.create': 'API key created',
  'apikey.revoke': 'API key revoked',
} as const satisfies Record<string, string>;

export interface AuditEvent {
  readonly tenantId: string | null;
  readonly actor: AuditActor;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  /** Small facts about the operation; strings, safe integers, booleans, null, lists and objects of them. */
  readonly details?: { readonly [key: string]: CanonicalValue };
}

export interface AuditEntry {
  readonly seq: number;
  /** ISO-8601 UTC with milliseconds, exactly as hashed. */
  readonly at: string;
  readonly tenantId: string | null;
  readonly actor: AuditActor;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  readonly details: { readonly [key: string]: CanonicalValue };
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditQuery {
  /** Only this tenant's entries (entries without a tenant are left out too). */
  readonly tenantId?: string;
  /** Entries with seq greater than this (paging). */
  readonly afterSeq?: number;
  /** Entries at or after / before this time. */
  readonly from?: Date;
  readonly to?: Date;
  readonly action?: string;
  /** At most this many, default 1000, at most 10000. */
  readonly limit?: number;
}

export interface AuditLogRepository {
  /** Appends the next entry of the chain, serialized with every other append (see the module comment). */
  append(event: AuditEvent): Promise<AuditEntry>;
  /** Entries in chain order (ascending seq), as stored: their hashes are not checked here. */
  list(query?: AuditQuery): Promise<readonly AuditEntry[]>;
  /** The newest entry's seq and hash; undefined for an empty log. */
  head(): Promise<{ readonly seq: number; readonly hash: string } | undefined>;
}

export const GENESIS_HASH = '0'.repeat(64);
export const MAX_AUDIT_PAGE = 10_000;
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_TEXT = 500;

/** The hash of an entry, from its fields (see the module comment for the exact bytes). */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256')
    .update(
      canonicalBytes({
        action: entry.action,
        actor_id: entry.actor.id,
        actor_kind: entry.actor.kind,
        at: entry.at,
        details: entry.details,
        outcome: entry.outcome,
        prev_hash: entry.prevHash,
        seq: entry.seq,
        target: entry.target,
        tenant_id: entry.tenantId,
      }),
    )
    .digest('hex');
}

/**
 * Validates an event before a backend stores it and returns its details as canonical JSON text (what backends
 * store). Throws InvalidValueError naming the field.
 */
export function checkAuditEvent(event: AuditEvent): string {
  const bad = (field: string, expected: string): never => {
    throw new InvalidValueError(`Cannot append audit entry: ${field} ${expected}`, { fields: { field } });
  };
  if (event.tenantId !== null) checkId('tenant id', event.tenantId);
  if (!AUDIT_ACTOR_KINDS.includes(event.actor.kind))
    bad('actor.kind', `must be one of ${AUDIT_ACTOR_KINDS.join(', ')}`);
  if (typeof event.actor.id !== 'string' || event.actor.id === '' || event.actor.id.length > MAX_TEXT)
    bad('actor.id', `must be 1 to ${MAX_TEXT} characters`);
  if (!ACTION.test(event.action) || event.action.length > 100)
    bad('action', `"${event.action}" must look like noun.verb in lower case`);
  if (event.target !== null && (typeof event.target !== 'string' || event.target.length > MAX_TEXT))
    bad('target', `must be null or at most ${MAX_TEXT} characters`);
  if (event.outcome !== 'success' && event.outcome !== 'failure')
    bad('outcome', 'must be success or failure');
  try {
    return canonicalJson(event.details ?? {});
  } catch (err) {
    return bad('details', `have no exact JSON form: ${messageOf(err)}`);
  }
}

/** The actor of a CLI command: the OS user running it. */
export function cliActor(): AuditActor {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = process.env['USER'] ?? `uid:${process.getuid?.() ?? '?'}`;
  }
  return { kind: 'cli', id: name === '' ? 'unknown' : name };
}

/**
 * Records one operation; never throws (see the module comment). Returns the entry, or undefined when it could
 * not be written.
 */
export async function audit(
  store: { readonly audit: AuditLogRepository },
  event: AuditEvent,
  logger?: { warn(obj: object, msg: string): void },
): Promise<AuditEntry | undefined> {
  try {
    return await store.audit.append(event);
  } catch (err) {
    logger?.warn({ action: event.action, error: messageOf(err) }, 'Cannot write audit log entry');
    return undefined;
  }
}

export type AuditProblemKind = 'edited' | 'missing' | 'reordered' | 'anchor';

export interface AuditProblem {
  readonly seq: number;
  readonly kind: AuditProblemKind;
  readonly message: string;
}

export interface AuditChainResult {
  readonly ok: boolean;
  readonly entries: number;
  readonly head: { readonly seq: number; readonly hash: string } | undefined;
  readonly problems: readonly AuditProblem[];
}

/**
 * Walks the whole chain in order and reports every entry whose own hash does not match its fields (`edited`),
 * every hole in the numbering (`missing`), and every entry that does not link to the one before it although
 * nothing is missing (`reordered`: moved, or replaced by a forged entry). `anchor` optionally names an entry the
 * caller noted earlier; its absence or another hash is a problem too (the newest entries were deleted or
 * rewritten). Reads in pages, so a long log does not sit in memory.
 */
export async function verifyAuditChain(
  log: Pick<AuditLogRepository, 'list'>,
  options: {
    readonly anchor?: { readonly seq: number; readonly hash: string };
    readonly pageSize?: number;
  } = {},
): Promise<AuditChainResult> {
  const problems: AuditProblem[] = [];
  const pageSize = options.pageSize ?? 1000;
  let prev: { seq: number; hash: string } | undefined;
  let entries = 0;
  let anchorSeen = false;
  for (;;) {
    const page = await log.list({ afterSeq: prev?.seq ?? 0, limit: pageSize });
    for (const e of page) {
      entries++;
      const expectedSeq = (prev?.seq ?? 0) + 1;
      const expectedPrev = prev?.hash ?? GENESIS_HASH;
      if (auditEntryHash(e) !== e.hash) {
        problems.push({
          seq: e.seq,
          kind: 'edited',
          message: `entry ${e.seq} (${e.action} at ${e.at}) does not match its hash: it was edited after it was written`,
        });
      }
      if (e.seq !== expectedSeq) {
        problems.push({
          seq: e.seq,
          kind: 'missing',
          message:
            e.seq > expectedSeq
              ? `${e.seq - 1 > expectedSeq ? `entries ${expectedSeq} to ${e.seq - 1} are` : `entry ${expectedSeq} is`} missing before entry ${e.seq}: deleted`
              : `entry ${e.seq} comes after entry ${prev?.seq ?? 0}: the numbering was changed`,
        });
      } else if (e.prevHash !== expectedPrev) {
        problems.push({
          seq: e.seq,
          kind: 'reordered',
          message: `entry ${e.seq} does not follow entry ${expectedSeq - 1} (its prev_hash is ${e.prevHash.slice(0, 12)}..., expected ${expectedPrev.slice(0, 12)}...): entries were moved or replaced`,
        });
      }
      if (options.anchor !== undefined && e.seq === options.anchor.seq) {
        anchorSeen = true;
        if (e.hash !== options.anchor.hash) {
          problems.push({
            seq: e.seq,
            kind: 'anchor',
            message: `entry ${e.seq} has hash ${e.hash}, but the anchor says ${options.anchor.hash}: the log was rewritten`,
          });
        }
      }
      prev = { seq: e.seq, hash: e.hash };
    }
    if (page.length < pageSize) break;
  }
  if (options.anchor !== undefined && !anchorSeen) {
    problems.push({
      seq: options.anchor.seq,
      kind: 'anchor',
      message: `entry ${options.anchor.seq} named by the anchor is gone (the log ends at ${prev?.seq ?? 0}): the newest entries were deleted`,
    });
  }
  return { ok: problems.length === 0, entries, head: prev, problems };
}
