import { openApp } from '../../app.js';
import type { AuditEntry } from '../../store/audit-log.js';
import { flagBool, flagInt, flagString, type CommandSpec } from '../command.js';
import { parseInstant } from './report.js';

/** `dbtrail audit list`: the audit entries of the configured tenant, oldest first. */
export const auditListCommand: CommandSpec = {
  path: ['audit', 'list'],
  summary: 'List the audit log entries of the configured tenant, oldest first',
  flags: [
    { name: 'from', type: 'string', value: 'TIME', description: 'Entries at or after this time (ISO 8601)' },
    { name: 'to', type: 'string', value: 'TIME', description: 'Entries before this time (ISO 8601)' },
    { name: 'action', type: 'string', value: 'ACTION', description: 'Only this action, e.g. backup.verify' },
    { name: 'all-tenants', type: 'boolean', description: 'Every entry, of every tenant and of none' },
    {
      name: 'limit',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 10000,
      description: 'At most N entries (default 1000)',
    },
    { name: 'json', type: 'boolean', description: 'Print a JSON array' },
  ],
  async run(ctx, args) {
    const from = parseInstant(flagString(args, 'from'), '--from');
    const to = parseInstant(flagString(args, 'to'), '--to');
    const action = flagString(args, 'action');
    const app = await openApp(ctx.config);
    let entries: readonly AuditEntry[];
    try {
      const tenantId = flagBool(args, 'all-tenants')
        ? undefined
        : (await app.store.tenants.ensure(ctx.config.tenant)).id;
      entries = await app.store.audit.list({
        ...(tenantId !== undefined ? { tenantId } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(action !== undefined ? { action } : {}),
        limit: flagInt(args, 'limit') ?? 1000,
      });
    } finally {
      await app.close();
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify(entries.map(auditEntryJson))}\n`);
      return 0;
    }
    if (entries.length === 0) {
      ctx.stdout.write('No audit entries\n');
      return 0;
    }
    for (const e of entries) {
      ctx.stdout.write(
        `${String(e.seq).padStart(6)}  ${e.at}  ${e.action.padEnd(18)} ${e.outcome.padEnd(7)}  ${e.actor.kind}:${e.actor.id}${e.target === null ? '' : `  ${e.target}`}\n`,
      );
    }
    return 0;
  },
};

/** The public JSON form of an entry (snake_case like the API). */
export function auditEntryJson(e: AuditEntry): Record<string, unknown> {
  return {
    seq: e.seq,
    at: e.at,
    tenant_id: e.tenantId,
    actor_kind: e.actor.kind,
    actor_id: e.actor.id,
    action: e.action,
    target: e.target,
    outcome: e.outcome,
    details: e.details,
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}
