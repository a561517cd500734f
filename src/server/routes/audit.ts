import type { CanonicalValue } from '../../lib/canonical-json.js';
import { audit, type AuditLogRepository, type AuditOutcome } from '../../store/audit-log.js';
import { principalOf, type Context } from '../context.js';

/**
 * Records an API operation in the audit log under the calling API key and its tenant. Never fails the request
 * (the operation is done); a failure to write is logged with the request.
 */
export async function auditRequest(
  store: { readonly audit: AuditLogRepository },
  ctx: Context,
  event: {
    readonly action: string;
    readonly target: string | null;
    readonly outcome?: AuditOutcome;
    readonly details?: { readonly [key: string]: CanonicalValue };
  },
): Promise<void> {
  const { tenantId, keyId } = principalOf(ctx);
  await audit(
    store,
    {
      tenantId,
      actor: { kind: 'api_key', id: keyId },
      action: event.action,
      target: event.target,
      outcome: event.outcome ?? 'success',
      details: { request_id: ctx.id, ...(event.details ?? {}) },
    },
    ctx.log,
  );
}
